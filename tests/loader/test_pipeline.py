"""The whole pipeline on a small seeded database: every row accounted for, and a rerun changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from tests.support.databases import Databases, run_module
from tests.support.helpers import LEGACY_KEYS, count, target_fingerprints

SQL_LOOKING = "'); drop table users; --"


def _legacy_ids(databases: Databases, table: str) -> set[int]:
    with databases.old() as conn:
        return {row[0] for row in conn.execute(f"select id from {table}")}


def _accounted_ids(databases: Databases, legacy_table: str) -> tuple[set[int], set[int]]:
    """Legacy ids the target holds, and legacy ids the last run's ledger rejected or merged."""
    target_table = LEGACY_KEYS[legacy_table]
    key = {"users": "legacy_user_id", "products": "legacy_product_id", "orders": "legacy_order_id"}[target_table]
    with databases.new() as conn:
        migrated = {row[0] for row in conn.execute(f"select {key} from {target_table}")}
        not_migrated = {
            row[0]
            for row in conn.execute(
                "select legacy_id from migration_ledger where legacy_table = %s and outcome <> 'warning' "
                "and run_id = (select max(run_id) from migration_runs where status = 'published')",
                (legacy_table,),
            )
        }
    return migrated, not_migrated


def test_migrate_accounts_for_every_legacy_row_and_a_rerun_changes_nothing(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--size", "400", "--seed", "7")
    with databases.old() as conn:
        # Rows the seeder cannot know about: a SQL-looking name, and an order that names nobody.
        conn.execute(
            "insert into old_users (id, username, email, full_name) values (100001, 'quoted', 'q@example.com', %s)",
            (SQL_LOOKING,),
        )
        conn.execute(
            "insert into old_orders values (100001, 'nobody-at-all', '2023-01-05', 'shipped', 'x', 1, '1.00', '1.00')"
        )

    first = run_module("loader", "migrate", env=env)
    assert "published" in first.stdout
    assert "old_orders" in first.stdout and "target rows written" in first.stdout

    for legacy_table in LEGACY_KEYS:
        legacy = _legacy_ids(databases, legacy_table)
        migrated, not_migrated = _accounted_ids(databases, legacy_table)
        assert legacy, f"{legacy_table} is empty: the test would prove nothing"
        assert migrated | not_migrated == legacy, f"{legacy_table}: rows lost or invented"
        assert not migrated & not_migrated, f"{legacy_table}: rows both migrated and rejected"

    with databases.new() as conn:
        assert count(conn, "select count(*) from users where full_name = %s", SQL_LOOKING) == 1
        assert count(conn, "select count(*) from users") > 0
        rejected = conn.execute(
            "select reason_code, raw_value, raw_row ->> 'user_identifier_text' from migration_ledger "
            "where legacy_table = 'old_orders' and legacy_id = 100001"
        ).fetchall()
        assert rejected == [("user_not_found", "nobody-at-all", "nobody-at-all")]
        before = target_fingerprints(conn)

    second = run_module("loader", "migrate", env=env)
    assert "published" in second.stdout
    with databases.new() as conn:
        assert target_fingerprints(conn) == before
        runs = conn.execute("select status, summary -> 'rows_written' from migration_runs order by run_id").fetchall()
    assert [status for status, _ in runs] == ["published", "published"]
    first_written, second_written = runs[0][1], runs[1][1]
    assert first_written["orders"] > 0
    assert set(second_written) == set(first_written) and not any(second_written.values())


def test_make_migrate_seeds_only_the_embedded_demo_and_only_when_it_is_empty(
    databases: Databases, tmp_path: Path
) -> None:
    """`make migrate` runs `python -m seeder --if-empty` first: on the embedded server with nothing configured."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OLD_", "NEW_"))}
    env.update(LEGACY_MIGRATE_ENV_FILE=os.devnull, LEGACY_MIGRATE_PGDATA=str(tmp_path / "pgdata"))
    try:
        # The legacy side on the embedded server, said out loud, but a configured target: demo data would reach
        # that target, so nothing is seeded.
        mixed = run_module(
            "seeder", "--if-empty", env={**env, "OLD_DATABASE_URL": "embedded", "NEW_DATABASE_URL": databases.new_url}
        )
        assert "not seeded" in mixed.stdout
        first = run_module("seeder", "--if-empty", "--size", "50", env=env)
        assert "seeded" in first.stdout and "old_orders 50" in first.stdout
        again = run_module("seeder", "--if-empty", "--size", "80", env=env)
        assert again.stdout == ""
        urls = run_module("loader", "db-urls", env=env).stdout
        old_url = urls.splitlines()[0].split("=", 1)[1]
        with psycopg.connect(old_url) as conn:
            assert count(conn, "select count(*) from old_orders") == 50
    finally:
        run_module("loader", "db-stop", env=env)


def test_publish_refuses_marts_not_built_from_the_current_staging(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--size", "200", "--seed", "5")
    run_module("loader", "migrate", env=env)
    with databases.old() as conn:
        conn.execute("update old_users set full_name = 'Changed Since' where id = 1")
    run_module("loader", "stage", env=env)
    stale = run_module("loader", "publish", env=env, check=False)
    assert stale.returncode == 2, stale.stdout + stale.stderr
    assert "not built from the staging there now" in stale.stderr
    with databases.new() as conn:
        assert count(conn, "select count(*) from users where full_name = 'Changed Since'") == 0

    for engine in ("pandas", "dbt"):
        run_module("loader", "transform", "--engine", engine, env=env)
        run_module("loader", "publish", env=env)
    with databases.new() as conn:
        assert count(conn, "select count(*) from users where full_name = 'Changed Since'") == 1
