"""The dbt project documents itself: the docs site is the data dictionary, so nothing in it may go undescribed.

Static checks of the YAML and the macro files, no database: every source table and column, every mart and
quarantine model and column, and every seed is described; the quarantine contracts are loader.core.contract's;
each macro file holds one macro, named like the file, whose arguments _macros.yml documents.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from jinja2 import nodes

from loader.core.contract import (
    DBT_PROJECT_DIR,
    MART_ORDER,
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLES,
    SEEDS_DIR,
    SNAPSHOT_TABLE,
    TRANSFORM_STAMP,
)

MODELS_DIR = DBT_PROJECT_DIR / "models"
MACROS_DIR = DBT_PROJECT_DIR / "macros"
# The models a data engineer reads as the data dictionary: every column of these must be described.
DOCUMENTED_FOLDERS = ("marts", "quarantine")


def _documents(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(folder.rglob("*.yml")):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict):
            yield path, document


def _entries(key: str, folder: Path = MODELS_DIR) -> dict[str, dict[str, Any]]:
    """Every entry under `key` (models, sources, seeds, exposures) in the folder's YAML files, by name."""
    found: dict[str, dict[str, Any]] = {}
    for path, document in _documents(folder):
        for entry in document.get(key) or []:
            assert entry["name"] not in found, f"{key} {entry['name']} is declared twice ({path})"
            found[entry["name"]] = entry
    return found


def _is_described(entry: dict[str, Any]) -> bool:
    description = entry.get("description")
    return isinstance(description, str) and description.strip() != ""


def _undescribed_columns(entry: dict[str, Any]) -> list[str]:
    return [column["name"] for column in entry.get("columns") or [] if not _is_described(column)]


def _models_in(folder: str) -> list[str]:
    return sorted(path.stem for path in (MODELS_DIR / folder).glob("*.sql"))


def test_every_source_table_and_column_is_described() -> None:
    sources = _entries("sources")
    assert sources
    missing = []
    for source in sources.values():
        if not _is_described(source):
            missing.append(source["name"])
        for table in source["tables"]:
            name = f"{source['name']}.{table['name']}"
            if not _is_described(table):
                missing.append(name)
            if not table.get("columns"):
                missing.append(f"{name}: no columns listed")
            missing += [f"{name}.{column}" for column in _undescribed_columns(table)]
    assert missing == [], f"undescribed: {missing}"


def test_every_model_is_described_and_every_mart_and_quarantine_column_too() -> None:
    models = _entries("models")
    sql_models = sorted(path.stem for path in MODELS_DIR.rglob("*.sql"))
    assert [name for name in sql_models if name not in models] == [], "models without a YAML entry"
    missing = [name for name in sql_models if not _is_described(models[name])]
    for folder in DOCUMENTED_FOLDERS:
        for name in _models_in(folder):
            if not models[name].get("columns"):
                missing.append(f"{name}: no columns listed")
            missing += [f"{name}.{column}" for column in _undescribed_columns(models[name])]
    assert missing == [], f"undescribed: {missing}"


def test_the_marts_are_the_contracts_tables() -> None:
    assert _models_in("marts") == sorted(MART_ORDER)


def test_every_seed_and_its_columns_are_described() -> None:
    seeds = _entries("seeds", SEEDS_DIR)
    missing = []
    for path in sorted(SEEDS_DIR.glob("*.csv")):
        seed = seeds.get(path.stem)
        if seed is None or not _is_described(seed):
            missing.append(path.stem)
            continue
        with path.open(newline="") as file:
            header = next(csv.reader(file))
        described = {column["name"] for column in seed.get("columns") or [] if _is_described(column)}
        missing += [f"{path.stem}.{column}" for column in header if column not in described]
    assert missing == [], f"undescribed: {missing}"


def _contract_is_enforced(folder: str, model: str) -> bool:
    """The model's own `contract` config, else its folder's in dbt_project.yml."""
    own = (_entries("models")[model].get("config") or {}).get("contract")
    if own is not None:
        return bool(own.get("enforced"))
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    folder_config = project["models"][project["name"]].get(folder) or {}
    return bool((folder_config.get("+contract") or {}).get("enforced"))


@pytest.mark.parametrize("model", QUARANTINE_TABLES)
def test_the_quarantine_contract_is_the_loaders(model: str) -> None:
    assert _contract_is_enforced("quarantine", model)
    entry = _entries("models")[model]
    columns = tuple((column["name"], column.get("data_type")) for column in entry["columns"])
    assert columns == QUARANTINE_COLUMNS


def test_the_legacy_snapshot_has_a_freshness_check() -> None:
    (source,) = _entries("sources").values()
    snapshot = next(table for table in source["tables"] if table["name"] == SNAPSHOT_TABLE)
    config = snapshot.get("config") or {}
    assert config.get("loaded_at_field") in {column["name"] for column in snapshot["columns"]}
    assert {"warn_after", "error_after"} <= set(config.get("freshness") or {})


def test_publish_is_an_exposure_of_every_mart_and_the_quarantine() -> None:
    publish = _entries("exposures")["publish"]
    assert publish["type"] == "application"
    assert publish["owner"]["name"] == "legacy-migrate"
    expected = {f"ref('{name}')" for name in (*MART_ORDER, *QUARANTINE_TABLES, TRANSFORM_STAMP)}
    assert expected <= set(publish["depends_on"])


def _macros(path: Path) -> list[nodes.Macro]:
    # `do`: dbt's tag, which get_fixture_sql uses.
    environment = jinja2.Environment(extensions=["jinja2.ext.do"], autoescape=False)  # noqa: S701 (parsed, never rendered)
    return list(environment.parse(path.read_text()).find_all(nodes.Macro))


MACRO_FILES = sorted(MACROS_DIR.glob("*.sql"))


@pytest.mark.parametrize("path", MACRO_FILES, ids=[path.stem for path in MACRO_FILES])
def test_each_macro_file_defines_one_macro_named_like_it(path: Path) -> None:
    assert [macro.name for macro in _macros(path)] == [path.stem]


def test_every_macro_and_its_arguments_are_documented_in_order() -> None:
    documented = _entries("macros", MACROS_DIR)
    problems = []
    for path in MACRO_FILES:
        for macro in _macros(path):
            entry = documented.get(macro.name)
            if entry is None or not _is_described(entry):
                problems.append(f"{macro.name}: undescribed")
                continue
            arguments = entry.get("arguments") or []
            if [argument["name"] for argument in arguments] != [argument.name for argument in macro.args]:
                problems.append(f"{macro.name}: arguments documented {[a['name'] for a in arguments]}")
            problems += [f"{macro.name}({a['name']}): undescribed" for a in arguments if not _is_described(a)]
    problems += [f"{name}: documented, but no macro file" for name in documented if name not in _macro_names()]
    assert problems == []


def _macro_names() -> set[str]:
    return {macro.name for path in MACRO_FILES for macro in _macros(path)}
