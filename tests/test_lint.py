"""Style that nothing checks drifts: ruff and mypy on the Python, sqlfluff on the dbt models, macros and tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from loader.core.contract import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)


def test_python_is_ruff_clean_and_formatted() -> None:
    for args in (("check", "."), ("format", "--check", ".")):
        result = _run(str(BIN / "ruff"), *args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_python_is_mypy_strict_clean() -> None:
    # The whole [tool.mypy] config of pyproject.toml (strict; loader, seeder, bench), as `make lint` runs it.
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dbt_sql_is_sqlfluff_clean() -> None:
    result = _run(str(BIN / "sqlfluff"), "lint", "models", "macros", "tests", cwd=PROJECT_ROOT / "dbt_project")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All Finished" in result.stdout
