"""The package's shape: the layers of .importlinter hold, and no module reaches itself through its imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from loader.core.contract import PROJECT_ROOT

PACKAGES = ("loader", "seeder", "bench")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every cycle of direct imports between modules, each as the modules it passes through (depth-first)."""
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(imported) == "open":
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph.modules):
        if module not in state:
            visit(module, [module])
    return cycles


def test_the_layers_of_importlinter_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout and "3 kept" in result.stdout, result.stdout[-2000:]


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph(*PACKAGES)
    assert len(graph.modules) > 40, "the graph holds the project's modules"
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.d")
    graph.add_import(importer="a.d", imported="a.b")
    assert import_cycles(graph) == [["a.b", "a.c", "a.d", "a.b"]]
