"""Ledger retention: publish keeps the ledger partitions of the last N published runs and drops older ones, in its
own transaction; plans and failed runs drop nothing and do not count."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from loader.publish.ledger import DEFAULT_KEEP_RUNS, drop_old_ledger_partitions, ledger_partition
from tests.support.databases import Databases, run_module
from tests.support.helpers import count


def partitions(conn: psycopg.Connection) -> list[str]:
    """The ledger's partitions, by name."""
    return [
        row[0]
        for row in conn.execute(
            "select child.relname::text from pg_inherits inner join pg_class as child on child.oid = inhrelid "
            "where inhparent = 'migration_ledger'::regclass order by 1"
        )
    ]


def ledger_runs(conn: psycopg.Connection) -> list[int]:
    return [row[0] for row in conn.execute("select distinct run_id from migration_ledger order by run_id")]


def published_runs(conn: psycopg.Connection) -> list[int]:
    return [
        row[0] for row in conn.execute("select run_id from migration_runs where status = 'published' order by run_id")
    ]


def publish_times(databases: Databases, times: int, *args: str) -> None:
    for _ in range(times):
        run_module("loader", "publish", *args, env=databases.env())


def last_report(databases: Databases) -> dict[str, object]:
    report: dict[str, object] = json.loads(
        (Path(databases.env()["LEGACY_MIGRATE_REPORT_DIR"]) / "migration_report.json").read_text()
    )
    return report


def test_ten_no_op_reruns_with_keep_runs_3_leave_the_ledger_of_the_latest_three_runs(migrated: Databases) -> None:
    with migrated.new() as conn:
        first_run = published_runs(conn)
        entries_per_run = count(conn, "select count(*) from migration_ledger")
    assert len(first_run) == 1 and entries_per_run > 0

    publish_times(migrated, 9, "--keep-runs", "3")
    last = run_module("loader", "publish", "--keep-runs", "3", env=migrated.env())

    with migrated.new() as conn:
        published = published_runs(conn)
        assert len(published) == 11
        latest = published[-3:]
        assert partitions(conn) == sorted(ledger_partition(run) for run in latest)
        assert ledger_runs(conn) == latest
        assert count(conn, "select count(*) from migration_ledger") == 3 * entries_per_run
        # A dropped run keeps its row and its summary.
        assert count(conn, "select count(*) from migration_runs where summary ? 'rows_read'") >= 11
        summary = conn.execute("select summary from migration_runs where run_id = %s", (latest[-1],)).fetchone()
    assert summary is not None
    # Each rerun past the third drops the one partition that fell out of the last three.
    assert summary[0]["ledger_partitions_dropped"] == 1
    assert summary[0]["ledger_partitions_dropped_names"] == [ledger_partition(published[-4])]
    assert last_report(migrated)["ledger_partitions_dropped"] == 1
    assert f"ledger partitions dropped, older than the last 3 published runs: {ledger_partition(published[-4])}" in (
        last.stdout
    )


def test_the_default_keeps_its_number_of_runs(migrated: Databases) -> None:
    publish_times(migrated, DEFAULT_KEEP_RUNS)

    with migrated.new() as conn:
        published = published_runs(conn)
        assert len(published) == DEFAULT_KEEP_RUNS + 1
        assert ledger_runs(conn) == published[-DEFAULT_KEEP_RUNS:]
        assert len(partitions(conn)) == DEFAULT_KEEP_RUNS


def test_a_dry_run_drops_nothing(migrated: Databases) -> None:
    publish_times(migrated, 2)
    with migrated.new() as conn:
        before = partitions(conn)
    assert len(before) == 3

    plan = run_module("loader", "publish", "--dry-run", "--keep-runs", "1", env=migrated.env())

    assert "planned" in plan.stdout
    with migrated.new() as conn:
        assert partitions(conn) == before
        assert len(ledger_runs(conn)) == 3
    # The plan says what a real run would drop: every partition before its own.
    report = last_report(migrated)
    assert report["status"] == "planned" and report["ledger_partitions_dropped"] == len(before)


def test_a_failed_run_attaches_and_drops_nothing_and_does_not_count(migrated: Databases) -> None:
    publish_times(migrated, 2)
    with migrated.new() as conn:
        before = partitions(conn)
        published = published_runs(conn)

    # Every legacy table has a rejected row in the demo data, so a zero error budget fails before any write.
    failed = run_module(
        "loader", "publish", "--max-reject-share", "0", "--keep-runs", "1", env=migrated.env(), check=False
    )
    assert failed.returncode == 2, failed.stdout + failed.stderr
    with migrated.new() as conn:
        assert partitions(conn) == before
        assert conn.execute("select status from migration_runs order by run_id desc limit 1").fetchone() == ("failed",)

    run_module("loader", "publish", "--keep-runs", "2", env=migrated.env())
    with migrated.new() as conn:
        # The failed run is not one of the two kept: the last published run before it is.
        assert ledger_runs(conn) == [published[-1], published_runs(conn)[-1]]


def test_a_rollback_keeps_every_partition(migrated: Databases) -> None:
    publish_times(migrated, 3)
    with migrated.new() as conn:
        before = partitions(conn)
        rows = count(conn, "select count(*) from migration_ledger")
        latest = published_runs(conn)[-1]
    assert len(before) == 4

    target = create_engine(migrated.new_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with target.connect() as conn:
            transaction = conn.begin()
            dropped = drop_old_ledger_partitions(conn, latest, 1)
            assert len(dropped) == 3 and ledger_partition(latest) not in dropped
            with migrated.new() as other:
                # Uncommitted, the drops are invisible to another session.
                assert partitions(other) == before
            transaction.rollback()
    finally:
        target.dispose()

    with migrated.new() as conn:
        assert partitions(conn) == before
        assert count(conn, "select count(*) from migration_ledger") == rows


def test_keep_runs_0_or_negative_is_one_error_line_and_exit_2(migrated: Databases) -> None:
    for value in ("0", "-1"):
        result = run_module("loader", "migrate", "--keep-runs", value, env=migrated.env(), check=False)
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "--keep-runs" in lines[0]
    with migrated.new() as conn:
        assert len(published_runs(conn)) == 1
        assert count(conn, "select count(*) from migration_runs") == 1
