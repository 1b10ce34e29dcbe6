"""The Alembic revisions build the models' schema, undo it cleanly, and do not drift from the models."""

from __future__ import annotations

import psycopg

from tests.support.databases import Databases, run_module
from tests.support.helpers import TARGET_TABLES, count


def test_alembic_upgrade_downgrade_upgrade_and_check_finds_no_drift(databases: Databases) -> None:
    env = databases.env()
    run_module("alembic", "upgrade", "head", env=env)
    with databases.new() as conn:
        tables = {row[0] for row in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
    assert set(TARGET_TABLES) | {"migration_runs", "migration_ledger", "alembic_version"} == tables

    run_module("alembic", "downgrade", "base", env=env)
    with databases.new() as conn:
        assert (
            count(conn, "select count(*) from pg_tables where schemaname = 'public' and tablename <> 'alembic_version'")
            == 0
        )
        assert count(conn, "select count(*) from pg_type where typname in ('order_status', 'ledger_outcome')") == 0

    run_module("alembic", "upgrade", "head", env=env)
    check = run_module("alembic", "check", env=env, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_target_constraints_reject_invented_or_impossible_values(databases: Databases) -> None:
    run_module("alembic", "upgrade", "head", env=databases.env())
    with databases.new() as conn:
        conn.execute("insert into users (legacy_user_id, username) values (1, 'a')")
        conn.execute("insert into products (legacy_product_id, name, price, currency) values (1, 'p', 1.00, 'USD')")
        for statement in (
            "insert into products (legacy_product_id, name, price, currency) values (2, 'p', -1, 'USD')",
            "insert into products (legacy_product_id, name, price) values (3, 'p', 5)",
            "insert into product_categories (name) values (' Books')",
            "insert into orders (legacy_order_id, user_id, status, ordered_at, total_amount, currency) "
            "select 1, user_id, 'lost', now(), 1, 'USD' from users",
            "insert into addresses (user_id, address_raw, country_code) select user_id, 'x', 'us' from users",
        ):
            try:
                conn.execute(statement)
            except psycopg.Error as exc:  # any refusal by the database is the point
                assert "violates" in str(exc) or "invalid input value" in str(exc), str(exc)
            else:
                raise AssertionError(f"the target accepted: {statement}")


def test_the_ledger_keeps_its_entries_into_partitions_and_back(databases: Databases) -> None:
    env = databases.env()
    run_module("alembic", "upgrade", "0003", env=env)
    with databases.new() as conn:
        conn.execute("insert into migration_runs (command, status) values ('publish', 'published')")
        conn.execute(
            "insert into migration_ledger (run_id, legacy_table, legacy_id, outcome, stage, reason_code, raw_row) "
            "select max(run_id), 'old_orders', 7, 'rejected', 'transform', 'user_not_found', '{\"id\": 7}' "
            "from migration_runs"
        )
        before = conn.execute("select ledger_id, run_id, legacy_id, raw_row::text from migration_ledger").fetchall()

    run_module("alembic", "upgrade", "head", env=env)
    with databases.new() as conn:
        assert (
            conn.execute("select ledger_id, run_id, legacy_id, raw_row::text from migration_ledger").fetchall()
            == before
        )
        assert count(conn, "select count(*) from pg_partitioned_table where partrelid = 'migration_ledger'::regclass")
        # New entries number on from the ones carried over.
        next_id = conn.execute("select nextval(pg_get_serial_sequence('migration_ledger', 'ledger_id'))").fetchone()
        assert next_id is not None and next_id[0] > before[0][0]

    run_module("alembic", "downgrade", "0003", env=env)
    with databases.new() as conn:
        assert (
            conn.execute("select ledger_id, run_id, legacy_id, raw_row::text from migration_ledger").fetchall()
            == before
        )
        assert not count(conn, "select count(*) from pg_partitioned_table")


def test_legacy_ids_widen_to_bigint_and_narrow_back_when_they_fit(databases: Databases) -> None:
    env = databases.env()
    run_module("alembic", "upgrade", "0004", env=env)
    with databases.new() as conn:
        conn.execute("insert into users (legacy_user_id, username) values (2147483647, 'max')")
        conn.execute("insert into migration_runs (command, status) values ('publish', 'published')")
        conn.execute("create table migration_ledger_run_1 partition of migration_ledger for values from (1) to (2)")
        conn.execute(
            "insert into migration_ledger (run_id, legacy_table, legacy_id, outcome, stage, reason_code, raw_row) "
            "values (1, 'old_users', 7, 'rejected', 'transform', 'username_duplicate', '{\"id\": 7}')"
        )

    run_module("alembic", "upgrade", "head", env=env)
    with databases.new() as conn:
        types = dict(
            conn.execute(
                "select table_name || '.' || column_name, data_type from information_schema.columns "
                "where column_name like '%legacy%id' and table_schema = 'public' "
                "and table_name not like 'migration_ledger_run%'"
            ).fetchall()
        )
        assert set(types.values()) == {"bigint"}, types
        # An id over 2^31, and a ledger entry for a row that had no id at all (with its evidence column).
        conn.execute("insert into users (legacy_user_id, username) values (2147483648, 'big')")
        conn.execute(
            "insert into migration_ledger (run_id, legacy_table, legacy_id, outcome, stage, reason_code, raw_row, "
            "evidence) values (1, 'old_users', null, 'rejected', 'transform', 'legacy_id_missing', "
            "'{\"id\": null}', '{}')"
        )

    # Ids that do not fit, or an entry without an id: the downgrade fails and changes nothing.
    failed = run_module("alembic", "downgrade", "0004", env=env, check=False)
    assert failed.returncode != 0
    with databases.new() as conn:
        assert count(conn, "select count(*) from users") == 2
        conn.execute("delete from users where legacy_user_id = 2147483648")
        conn.execute("delete from migration_ledger where legacy_id is null")

    # On data that fits it works, keeping every value.
    run_module("alembic", "downgrade", "0004", env=env)
    with databases.new() as conn:
        assert conn.execute("select legacy_user_id, username from users").fetchall() == [(2147483647, "max")]
        assert conn.execute("select legacy_id, reason_code from migration_ledger").fetchall() == [
            (7, "username_duplicate")
        ]
        assert count(conn, "select count(*) from information_schema.columns where column_name = 'evidence'") == 0
    run_module("alembic", "upgrade", "head", env=env)
