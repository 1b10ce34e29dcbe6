"""`python -m loader docs`: dbt's documentation site, its catalog read from the target database."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from loader.core.contract import MART_ORDER, MART_SCHEMA
from loader.transform.dbt import docs_failure_message
from tests.support.databases import Databases, run_module


def test_docs_writes_the_site_whose_catalog_lists_every_marts_columns(migrated: Databases) -> None:
    result = run_module("loader", "docs", env=migrated.env())
    site = migrated.scratch / "reports" / "docs"
    assert result.stderr == ""
    assert str(site / "index.html") in result.stdout
    for name in ("index.html", "static_index.html", "manifest.json", "catalog.json"):
        assert (site / name).stat().st_size > 0, name
    nodes = json.loads((site / "catalog.json").read_text())["nodes"]
    with migrated.new() as conn:
        for mart in MART_ORDER:
            columns = [
                str(name)
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s "
                    "and table_name = %s order by ordinal_position",
                    (MART_SCHEMA, mart),
                )
            ]
            assert columns, mart
            listed = nodes[f"model.legacy_migrate.{mart}"]["columns"]
            assert sorted(listed) == sorted(columns), mart


def test_a_docs_failure_names_the_catalog_error_dbt_gave_without_an_exception(tmp_path: Path) -> None:
    # dbt reports a failed catalog query in the catalog's `errors`, with success=False and no exception.
    catalog = SimpleNamespace(_compile_results=None, errors=['relation "dbt_marts.users" does not exist'])
    message = docs_failure_message(catalog, None, tmp_path)
    assert message.startswith('dbt docs generate failed: relation "dbt_marts.users" does not exist; ')
    assert str(tmp_path) in message
    assert "\n" not in message
