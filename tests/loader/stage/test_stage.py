"""The loader's stage: every legacy row and value copied as it was, from one snapshot, swapped in whole or not."""

from __future__ import annotations

import signal

from loader.core.contract import LEGACY_TABLES
from tests.support.databases import SQL_LOOKING, Databases, run_module
from tests.support.helpers import count
from tests.support.processes import (
    blocked_on_lock,
    legacy_fingerprints,
    pipeline_sessions,
    staging_fingerprints,
    start_module,
    wait_for,
)


def test_stage_copies_every_row_and_value_as_text_with_extra_columns_and_records_the_run(
    databases: Databases,
) -> None:
    env = databases.env()
    databases.seed("--size", "200", "--seed", "3")
    with databases.old() as conn:
        conn.execute("create type tier as enum ('gold', 'silver')")
        # Extra legacy columns, with a name that needs quoting and a type the target does not have.
        conn.execute('alter table old_users add column "loyalty ""tier""" tier default \'gold\'')
        conn.execute("alter table old_orders add column note text")
        conn.execute("update old_orders set note = %s where id = (select min(id) from old_orders)", (SQL_LOOKING,))
        conn.execute("update old_users set full_name = %s where id = (select min(id) from old_users)", (SQL_LOOKING,))
        conn.execute("update old_products set description = E'two\\nlines\\tand a tab\\\\' where id = 1")
    run_module("alembic", "upgrade", "head", env=env)

    result = run_module("loader", "stage", env=env)

    assert "staged" in result.stdout
    assert staging_fingerprints(databases) == legacy_fingerprints(databases)
    with databases.new() as conn:
        assert count(conn, "select count(*) from staging.old_orders where note = %s", SQL_LOOKING) == 1
        assert count(conn, 'select count(*) from staging.old_users where "loyalty ""tier""" = \'gold\'') > 0
        assert count(conn, "select count(*) from staging.legacy_snapshot") == 1
        run = conn.execute(
            "select command, status, finished_at is not null, summary -> 'rows_read' from migration_runs"
        ).fetchone()
    assert run is not None
    with databases.old() as conn:
        legacy_counts = {table: count(conn, f"select count(*) from {table}") for table in LEGACY_TABLES}
    assert run[:3] == ("stage", "staged", True)
    assert run[3] == legacy_counts


def test_a_loader_killed_mid_copy_leaves_the_previous_staging_intact_and_the_next_run_completes(
    databases: Databases,
) -> None:
    env = databases.env()
    databases.seed("--size", "200", "--seed", "4")
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)
    before = staging_fingerprints(databases)
    with databases.old() as conn:
        conn.execute("delete from old_users where id % 3 = 0")
        conn.execute("update old_orders set quantity = quantity + 1")

    # A lock on old_orders in the legacy database stops the stage after it has copied old_users and old_products
    # into its open target transaction, in the middle of its work.
    with databases.old() as blocker, blocker.transaction():
        blocker.execute("lock table old_orders in access exclusive mode")
        process = start_module(databases, "loader", "stage")
        with databases.old() as legacy_watcher:
            wait_for(lambda: blocked_on_lock(legacy_watcher, "copy") is not None, "stage waits on old_orders", process)
        # The tables it loaded so far are its own until it commits.
        assert staging_fingerprints(databases) == before
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with databases.new() as watcher:
        wait_for(lambda: pipeline_sessions(watcher) == 0, "the killed stage's sessions are gone")

    assert staging_fingerprints(databases) == before
    with databases.new() as conn:
        assert conn.execute("select status from migration_runs order by run_id").fetchall() == [
            ("staged",),
            ("running",),
        ]

    run_module("loader", "stage", env=env)
    assert staging_fingerprints(databases) == legacy_fingerprints(databases)
    with databases.new() as conn:
        # Tables the killed stage loaded but never swapped in are gone too, replaced by this stage's.
        assert count(conn, "select count(*) from pg_tables where tablename like '%%\\_\\_loading'") == 0
    with databases.new() as conn:
        statuses = conn.execute("select status, summary ->> 'error' from migration_runs order by run_id").fetchall()
    assert [status for status, _ in statuses] == ["staged", "failed", "staged"]
    assert "abandoned" in statuses[1][1]


def test_a_loader_killed_while_swapping_leaves_the_previous_staging_intact(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--size", "200", "--seed", "5")
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)
    before = staging_fingerprints(databases)
    with databases.old() as conn:
        conn.execute("delete from old_orders where id % 2 = 0")
        conn.execute("update old_products set price_str = '$0.01'")

    # A reader of staging.old_orders (dbt, say) holds the swap up after every table was copied and the first
    # ones already renamed into place, inside the stage's transaction. Other readers wait; none sees a mix.
    with databases.new() as reader, reader.transaction():
        reader.execute("select count(*) from staging.old_orders").fetchone()
        process = start_module(databases, "loader", "stage")
        with databases.new() as watcher:
            wait_for(lambda: blocked_on_lock(watcher, "drop table") is not None, "stage waits to swap", process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with databases.new() as watcher:
        wait_for(lambda: pipeline_sessions(watcher) == 0, "the killed stage's sessions are gone")
    assert staging_fingerprints(databases) == before


def test_a_legacy_table_missing_a_column_fails_the_stage_cleanly_and_leaves_staging_alone(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--size", "50")
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)
    before = staging_fingerprints(databases)
    with databases.old() as conn:
        conn.execute("alter table old_orders drop column quantity")

    result = run_module("loader", "stage", env=env, check=False)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: legacy table old_orders") and "quantity" in result.stderr
    assert staging_fingerprints(databases) == before
