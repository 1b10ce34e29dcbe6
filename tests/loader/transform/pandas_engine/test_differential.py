"""The pandas engine and dbt, on the same staged legacy rows, write the same marts and the same quarantine.

Compared inside PostgreSQL, order-independent (EXCEPT ALL both ways), column names and types included; a
difference is shown as the rows only one engine wrote. `make test` runs it on the dirty seeder profile at 2,000
legacy orders; PANDAS_ENGINE_DIFF_SIZE=10000 runs the same test at the seeder's default size by hand.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from psycopg import sql

from loader.core.errors import PipelineError
from loader.transform.pandas_engine import models
from tests.support.databases import Databases, run_module
from tests.support.differential import (
    EXTRA_ORDERS,
    TABLES,
    add_edge_rows,
    column_types,
    set_aside_dbt_outputs,
    table_differences,
)

SIZE = int(os.environ.get("PANDAS_ENGINE_DIFF_SIZE", "2000"))


def test_pandas_engine_writes_what_dbt_writes_on_the_dirty_profile(databases: Databases) -> None:
    env = databases.env(LEGACY_MIGRATE_REPORT_DIR=str(databases.scratch / "reports"))
    databases.seed("--profile", "dirty", "--size", str(SIZE), "--seed", "11")
    add_edge_rows(databases)
    # The whole pipeline with dbt, up to the commit: stage, transform, publish's gates (a plan leaves the schema
    # to `loader schema`).
    run_module("loader", "schema", env=env)
    run_module("loader", "migrate", "--dry-run", env=env)

    with databases.new() as conn:
        staged = conn.execute("select count(*) from staging.old_orders").fetchone()
        assert staged == (SIZE + len(EXTRA_ORDERS),)
        dbt_columns = set_aside_dbt_outputs(conn)

    result = run_module("loader", "transform", "--engine", "pandas", env=env)
    assert "pandas transform wrote" in result.stdout

    with databases.new() as conn:
        for schema, table in TABLES:
            assert column_types(conn, schema, table) == dbt_columns[table], (
                f"{schema}.{table}: columns differ from dbt's"
            )
        rows = {
            table: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table)))
            for schema, table in TABLES
        }
        assert all(next(iter(cursor))[0] > 0 for cursor in rows.values()), "an empty table would prove nothing"
        extra = conn.execute(
            "select count(*) from dbt_quarantine.rejects where legacy_row ? 'entered_at' and legacy_row ? 'gift'"
        ).fetchone()
        assert extra is not None and extra[0] > 0, "the extra legacy columns did not reach the legacy rows"
        differences = [text for schema, table in TABLES if (text := table_differences(conn, schema, table))]
    assert not differences, "the pandas engine and dbt disagree:\n" + "\n".join(differences)

    # The same publish step takes the pandas engine's tables, gates and all.
    published = run_module("loader", "publish", "--dry-run", env=env)
    assert "planned" in published.stdout


def test_pandas_engine_refuses_to_write_when_a_row_is_unaccounted_for() -> None:
    ids = pd.Series([1, 2, 3], dtype="Int32")
    legacy = {
        name: models.LegacyTable(name, (), pd.DataFrame({"id": ids}))
        for name in ("old_users", "old_products", "old_orders")
    }
    empty_rejects = pd.DataFrame({"legacy_table": pd.Series(dtype="str"), "legacy_id": pd.Series(dtype="Int64")})
    marts = {
        "users": pd.DataFrame({"legacy_user_id": ids}),
        "products": pd.DataFrame({"legacy_product_id": ids}),
        "orders": pd.DataFrame({"legacy_order_id": ids.iloc[:2]}),
    }
    with pytest.raises(PipelineError, match="old_orders: 3 staged, 2 migrated"):
        models.check_conservation(legacy, models.Outputs(marts, empty_rejects, empty_rejects, empty_rejects))


def test_both_engines_never_merge_into_a_rejected_user(databases: Databases) -> None:
    """U2 rejects first, U1 merges among the rest: a user sharing an email with a rejected one stays itself."""
    env = databases.env(LEGACY_MIGRATE_REPORT_DIR=str(databases.scratch / "reports"))
    databases.seed("--profile", "legacy", "--size", "100", "--seed", "3")
    with databases.old() as conn:
        conn.execute(
            "insert into old_users (id, username, email) values "
            "(900005, 'bob', 'a@x.com'), (900006, 'bob ', 'e@x.com'), (900007, 'carl', 'E@x.com')"
        )
        conn.execute(
            "insert into old_orders select 900001, 'carl', '2023-01-05', 'shipped', product_name, 1, price_str, "
            "price_str from old_products order by id limit 1"
        )
    expected_rejects = [("old_users", 900006, "rejected", "username_duplicate", None)]
    run_module("loader", "schema", env=env)
    for engine in ("dbt", "pandas"):
        if engine == "dbt":
            run_module("loader", "migrate", "--dry-run", env=env)
        else:
            run_module("loader", "transform", "--engine", "pandas", env=env)
        with databases.new() as conn:
            order_user = conn.execute("select legacy_user_id from dbt_marts.orders where legacy_order_id = 900001")
            assert order_user.fetchall() == [(900007,)], engine
            rejects = conn.execute(
                "select legacy_table, legacy_id, outcome, reason_code, merged_into_legacy_id "
                "from dbt_quarantine.rejects where legacy_id between 900005 and 900007"
            ).fetchall()
            assert rejects == expected_rejects, engine


def test_both_engines_migrate_the_wild_profile_and_score_it_right(databases: Databases) -> None:
    """The wild profile writes each value through random choices of the grammar (dates, money, currencies,
    spellings, countries) and the legacy app's habits: dbt's migration scores 100%, and the pandas engine writes
    the same rows, so both read every form the same way."""
    env = databases.env(LEGACY_MIGRATE_REPORT_DIR=str(databases.scratch / "reports"))
    databases.seed("--profile", "wild", "--size", str(SIZE), "--seed", "5")
    run_module("loader", "migrate", env=env)
    reports = databases.scratch / "score"
    run_module("seeder", "score", "--reports", str(reports), env=env)
    summary = json.loads((reports / "score.json").read_text())["summary"]
    assert summary["rows_lost"] == 0
    assert summary["outcomes_right"] == 1.0, summary
    assert summary["values_right"] == 1.0, summary
    assert summary["patterns_fully_handled"] == summary["patterns_present"], summary

    with databases.new() as conn:
        dbt_columns = set_aside_dbt_outputs(conn)
    run_module("loader", "transform", "--engine", "pandas", env=env)
    with databases.new() as conn:
        for schema, table in TABLES:
            assert column_types(conn, schema, table) == dbt_columns[table], (
                f"{schema}.{table}: columns differ from dbt's"
            )
        differences = [text for schema, table in TABLES if (text := table_differences(conn, schema, table))]
    assert not differences, "the pandas engine and dbt disagree:\n" + "\n".join(differences)
