"""Publish: converges on a fresh migration, changes nothing twice, survives SIGKILL, never interleaves, and gates."""

from __future__ import annotations

import json
import signal
import subprocess

import psycopg
import pytest

from tests.support.databases import SQL_LOOKING, Databases, Server, run_module
from tests.support.helpers import canonical, count, drop_new, fresh_pair, target_fingerprints
from tests.support.processes import blocked_on_lock, pipeline_sessions, start_module, wait_for

# Publish's first statement on the ledger: it makes the run's partition, after writing the target tables.
LEDGER_APPEND = "create table migration_ledger_run_"


def surrogate_ids(conn: psycopg.Connection) -> dict[str, dict[int, int]]:
    return {
        "users": dict(conn.execute("select legacy_user_id, user_id from users").fetchall()),
        "products": dict(conn.execute("select legacy_product_id, product_id from products").fetchall()),
        "orders": dict(conn.execute("select legacy_order_id, order_id from orders").fetchall()),
    }


def constraint_definitions(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """Every key, constraint and index of the public tables, but for the ledger's partitions (one per run)."""
    return conn.execute(
        "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
        "where connamespace = 'public'::regnamespace "
        "and not exists (select from pg_class where oid = conrelid and relispartition) union all "
        "select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' "
        "and not exists (select from pg_class where oid = (quote_ident(tablename))::regclass and relispartition) "
        "order by 1, 2, 3"
    ).fetchall()


def runs(databases: Databases) -> list[tuple[int, str, str]]:
    with databases.new() as conn:
        return conn.execute("select run_id, command, status from migration_runs order by run_id").fetchall()


def test_migrate_twice_gives_identical_target_checksums_and_writes_nothing(migrated: Databases) -> None:
    with migrated.new() as conn:
        before = target_fingerprints(conn)
    result = run_module("loader", "migrate", env=migrated.env())
    # Conservation (3 legacy tables and the corrections, twice), budget, mass change (3 legacy tables, 6 target
    # tables) and reconciliation, all passed.
    assert "gates: 20 of 20 passed" in result.stdout
    with migrated.new() as conn:
        assert target_fingerprints(conn) == before
        summary = conn.execute("select summary from migration_runs order by run_id desc limit 1").fetchone()
    assert summary is not None
    assert not any(summary[0]["rows_written"].values()) and not any(summary[0]["rows_deleted"].values())


def test_after_inserts_updates_and_deletes_a_run_converges_on_a_fresh_migration(
    pending: Databases, server: Server
) -> None:
    with pending.new() as conn:
        ids_before = surrogate_ids(conn)

    run_module("loader", "publish", env=pending.env())

    fresh = fresh_pair(server, pending, "fresh")
    try:
        run_module("loader", "migrate", env=fresh.env())
        with pending.new() as rerun, fresh.new() as from_scratch:
            converged, expected = canonical(rerun), canonical(from_scratch)
            ids_after = surrogate_ids(rerun)
    finally:
        drop_new(server, fresh)
    for table in expected:
        assert converged[table] == expected[table], f"{table} differs from a fresh migration"
    assert any(SQL_LOOKING in row for row in converged["users"])
    # Surrogate ids of rows that stayed keep their values; only new legacy rows got new ones.
    for table, before in ids_before.items():
        kept = set(before) & set(ids_after[table])
        assert kept, table
        assert {legacy: ids_after[table][legacy] for legacy in kept} == {legacy: before[legacy] for legacy in kept}


def test_a_rerun_after_legacy_changes_rewrites_only_the_changed_rows(migrated: Databases) -> None:
    with migrated.old() as conn:
        conn.execute("update old_users set full_name = 'Only Me' where id = (select min(id) from old_users)")
    result = run_module("loader", "migrate", env=migrated.env())
    assert "published" in result.stdout
    with migrated.new() as conn:
        written = conn.execute("select summary -> 'rows_written' from migration_runs order by run_id desc").fetchone()
    assert written is not None and written[0]["users"] == 1
    assert sum(written[0].values()) == 1


def _publish_killed_in_its_transaction(databases: Databases) -> None:
    """Start a publish, let it write, hold it on a lock just before its ledger rows, and SIGKILL it there."""
    with databases.new() as blocker, blocker.transaction():
        blocker.execute("lock table migration_ledger in access exclusive mode")
        process = start_module(databases, "loader", "publish")
        with databases.new() as watcher:
            wait_for(
                lambda: blocked_on_lock(watcher, LEDGER_APPEND) is not None,
                "publish has written the target tables and waits for the ledger",
                process,
            )
            pid = blocked_on_lock(watcher, LEDGER_APPEND)
            # Proof that it is in the middle of its transaction: it holds write locks on the target tables.
            assert count(
                watcher,
                "select count(*) from pg_locks where pid = %s and relation = 'orders'::regclass "
                "and mode in ('RowExclusiveLock', 'AccessExclusiveLock')",
                pid,
            )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    with databases.new() as watcher:
        wait_for(lambda: pipeline_sessions(watcher) == 0, "the killed publish's sessions are gone")


def test_a_publish_killed_mid_transaction_leaves_the_target_as_before_and_the_next_run_completes(
    pending: Databases,
) -> None:
    env = pending.env()
    with pending.new() as conn:
        before = target_fingerprints(conn)
        ledger_before = count(conn, "select count(*) from migration_ledger")

    _publish_killed_in_its_transaction(pending)

    with pending.new() as conn:
        assert target_fingerprints(conn) == before
        assert count(conn, "select count(*) from migration_ledger") == ledger_before
    assert runs(pending)[-1][1:] == ("publish", "running")

    result = run_module("loader", "publish", env=env)
    assert "published" in result.stdout
    statuses = runs(pending)
    assert statuses[-2][1:] == ("publish", "failed") and statuses[-1][1:] == ("publish", "published")
    with pending.new() as conn:
        assert count(conn, "select count(*) from orders where legacy_order_id = 200001") == 1


def test_a_first_publish_killed_while_its_keys_are_dropped_leaves_them_as_alembic_made_them(
    migrated: Databases,
) -> None:
    env = migrated.env()
    with migrated.new() as conn:
        conn.execute("truncate users, addresses, product_categories, products, orders, order_items, migration_ledger")
        keys = constraint_definitions(conn)

    _publish_killed_in_its_transaction(migrated)

    with migrated.new() as conn:
        assert constraint_definitions(conn) == keys
        assert count(conn, "select count(*) from orders") == 0
    run_module("loader", "publish", env=env)
    with migrated.new() as conn:
        assert constraint_definitions(conn) == keys
        assert count(conn, "select count(*) from orders") > 0
        # The bulk path writes surrogate ids in legacy-id order.
        assert conn.execute(
            "select bool_and(ordered) from (select order_id > lag(order_id) over (order by legacy_order_id) "
            "as ordered from orders) as pairs"
        ).fetchone() == (True,)
    check = run_module("alembic", "check", env=env, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_two_runs_never_interleave_a_second_one_stops_or_waits(migrated: Databases) -> None:
    env = migrated.env()
    with migrated.new() as blocker, blocker.transaction():
        blocker.execute("lock table migration_ledger in access exclusive mode")
        first = start_module(migrated, "loader", "publish")
        with migrated.new() as watcher:
            wait_for(
                lambda: blocked_on_lock(watcher, LEDGER_APPEND) is not None,
                "the first run is publishing",
                first,
            )
        # A second migrate is refused at once, before it stages anything.
        refused = run_module("loader", "migrate", env=env, check=False)
        assert refused.returncode == 2
        assert refused.stderr.startswith("error: another run is using the target database")
        assert "legacy-migrate publish" in refused.stderr and "--wait" in refused.stderr
        # A third one asked to wait, waits.
        queued = start_module(migrated, "loader", "stage", "--wait")
        with pytest.raises(subprocess.TimeoutExpired):
            queued.wait(timeout=2)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    out, err = queued.communicate(timeout=120)
    assert queued.returncode == 0, out + err
    assert "waiting for legacy-migrate publish" in err
    with migrated.new() as conn:
        timeline = conn.execute(
            "select command, status, started_at, finished_at from migration_runs where run_id > 1 order by run_id"
        ).fetchall()
    assert [(command, status) for command, status, _, _ in timeline] == [("publish", "published"), ("stage", "staged")]
    assert timeline[0][3] <= timeline[1][2], "the waiting run started before the first one ended"


def test_an_error_budget_overrun_publishes_nothing_and_says_which_table(pending: Databases) -> None:
    env = pending.env()
    with pending.new() as conn:
        before = target_fingerprints(conn)

    result = run_module("loader", "publish", "--max-reject-share", "old_orders=0.1%", env=env, check=False)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "gate(s) failed, nothing was published" in line and "error budget old_orders" in line
    assert "error budget old_users" not in line
    with pending.new() as conn:
        assert target_fingerprints(conn) == before
        status, summary = conn.execute("select status, summary from migration_runs order by run_id desc").fetchone()
    assert status == "failed"
    failed = [gate for gate in summary["gates"] if not gate["passed"]]
    assert [(gate["gate"], gate["subject"]) for gate in failed] == [("error budget", "old_orders")]
    report = json.loads((pending.scratch / "reports" / "migration_report.json").read_text())
    assert report["status"] == "failed" and not report["gates_passed"]


@pytest.mark.parametrize(
    ("tampering", "gate"),
    [
        # A row the transform lost: neither migrated nor rejected.
        (
            "delete from dbt_marts.order_items where legacy_order_id = (select min(legacy_order_id) from "
            "dbt_marts.order_items); delete from dbt_marts.orders where legacy_order_id not in "
            "(select legacy_order_id from dbt_marts.order_items)",
            "conservation old_orders",
        ),
        # Counts that add up over ids that do not: one order lost, another both migrated and rejected.
        (
            "insert into dbt_quarantine.rejects (legacy_table, legacy_id, outcome, stage, reason_code, legacy_row) "
            "select 'old_orders', max(legacy_order_id), 'rejected', 'transform', 'made_up', '{}'::jsonb "
            "from dbt_marts.orders; "
            "delete from dbt_marts.order_items where legacy_order_id = (select min(legacy_order_id) from "
            "dbt_marts.order_items); delete from dbt_marts.orders where legacy_order_id not in "
            "(select legacy_order_id from dbt_marts.order_items)",
            "but not by id",
        ),
        # An order total that is not quantity x unit price.
        ("update dbt_marts.orders set total_amount = total_amount + 1 where legacy_order_id % 2 = 0", "per user"),
        # Staging emptied behind the pipeline's back (crash recovery empties unlogged tables).
        ("truncate staging.old_orders", "emptied by a server crash"),
        # A quantity that is not the legacy one.
        ("update dbt_marts.order_items set quantity = quantity + 1", "quantity per order"),
        # A per-row correction staged but in no outcome of the transform (lost on the way).
        (
            "insert into staging.corrections select 'old_orders', id, 'status_text', status_text, 'shipped', 'a note', "
            "'ana', 'old_orders.csv', 2 from staging.old_orders where id = (select min(id) from staging.old_orders)",
            "1 staged corrections, 0 in dbt_quarantine.corrections",
        ),
        # A correction the transform applied though the legacy row does not hold the raw value the file names (the
        # quarantine claiming the value the row holds).
        (
            "insert into staging.corrections select 'old_orders', min(id), 'status_text', 'not what it holds', "
            "'shipped', 'a note', 'ana', 'old_orders.csv', 2 from staging.old_orders; "
            "insert into dbt_quarantine.corrections select staged.legacy_table, staged.legacy_id, 'corrected', "
            "'transform', 'correction_applied', staged.column_name, legacy.status_text, null, "
            "jsonb_build_object('corrected_value', staged.corrected_value), '{}'::jsonb "
            "from staging.corrections as staged "
            "inner join staging.old_orders as legacy on legacy.id = staged.legacy_id",
            "1 applied corrections are not a staged one, or name a row that does not hold its raw value",
        ),
        # A quantity correction applied, and the mart holding another quantity than the corrected one.
        (
            "insert into staging.corrections select 'old_orders', legacy_order_id, 'quantity', quantity::text, "
            "(quantity + 1)::text, 'a note', 'ana', 'old_orders.csv', 2 from dbt_marts.order_items "
            "where legacy_order_id = (select min(legacy_order_id) from dbt_marts.order_items); "
            "insert into dbt_quarantine.corrections select legacy_table, legacy_id, 'corrected', 'transform', "
            "'correction_applied', column_name, raw_value, null, "
            "jsonb_build_object('corrected_value', corrected_value), '{}'::jsonb from staging.corrections; "
            "update dbt_marts.order_items set quantity = quantity + 2 "
            "where legacy_order_id = (select legacy_id from staging.corrections)",
            "quantity per order",
        ),
    ],
)
def test_a_failed_conservation_or_reconciliation_gate_publishes_nothing(
    pending: Databases, tampering: str, gate: str
) -> None:
    env = pending.env()
    with pending.new() as conn:
        before = target_fingerprints(conn)
        ledger_before = count(conn, "select count(*) from migration_ledger")
        conn.execute(tampering)

    result = run_module("loader", "publish", env=env, check=False)

    assert result.returncode == 2, result.stdout + result.stderr
    assert gate in result.stderr
    with pending.new() as conn:
        assert target_fingerprints(conn) == before
        assert count(conn, "select count(*) from migration_ledger") == ledger_before
    assert runs(pending)[-1][1:] == ("publish", "failed")


def test_delete_policy_keep_leaves_rows_whose_legacy_row_is_gone_and_delete_removes_them(
    pending: Databases,
) -> None:
    env = pending.env()
    with pending.new() as conn:
        # Published orders whose legacy row was deleted, or now names a deleted user or product.
        gone = [
            row[0]
            for row in conn.execute(
                "select legacy_order_id from orders except select legacy_order_id from dbt_marts.orders"
            )
        ]
    assert gone

    kept = run_module("loader", "publish", "--on-missing", "keep", env=env)
    assert f"order_items {len(gone)}, orders {len(gone)}" in kept.stdout
    with pending.new() as conn:
        assert count(conn, "select count(*) from orders where legacy_order_id = any(%s)", gone) == len(gone)

    deleted = run_module("loader", "publish", env=env)
    assert "published" in deleted.stdout
    with pending.new() as conn:
        assert count(conn, "select count(*) from orders where legacy_order_id = any(%s)", gone) == 0
        assert count(conn, "select count(*) from order_items where legacy_order_id = any(%s)", gone) == 0


def test_sql_looking_values_arrive_as_text(migrated: Databases) -> None:
    with migrated.new() as conn:
        assert count(conn, "select count(*) from staging.old_users where full_name = %s", SQL_LOOKING) == 1
        assert count(conn, "select count(*) from users where full_name = %s", SQL_LOOKING) == 1
        assert count(conn, "select count(*) from products where description = %s", SQL_LOOKING) == 1
        assert count(conn, "select count(*) from pg_tables where schemaname = 'public' and tablename = 'users'") == 1
