"""The user's databases are sacred: the legacy side is never written, and no run empties or mass-rewrites the
target because of something it did not understand (a reload caught half-way, a swapped configuration)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg2
import pytest
from psycopg import sql

from loader.core.legacy_schema import LEGACY_SCHEMA, create_table_sql
from loader.publish.gates import ChangeLimit, TableCounts, legacy_shrink_gates
from loader.stage.copy import check_read_whole, table_identities
from tests.support.databases import Databases, run_module
from tests.support.helpers import count, target_fingerprints
from tests.support.processes import blocked_on_lock, staging_fingerprints, start_module, wait_for


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _tables(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "select schemaname || '.' || tablename from pg_tables where schemaname not in ('pg_catalog', "
        "'information_schema')"
    ).fetchall()
    return {str(row[0]) for row in rows}


def _schemas(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("select nspname from pg_namespace where nspname not like 'pg\\_%' escape '\\'").fetchall()
    return {str(row[0]) for row in rows}


@contextmanager
def stage_waiting_on_old_orders(
    databases: Databases, command: str
) -> Iterator[tuple[psycopg.Connection, subprocess.Popen[str]]]:
    """`python -m loader <command>` started while another session holds old_orders: the block runs once the stage
    has its snapshot and waits to copy that table, in the holder's open transaction, which then commits."""
    with databases.old() as holder:
        holder.execute("begin")
        holder.execute("lock table old_orders in access exclusive mode")
        process = start_module(databases, "loader", command)
        with databases.old() as watcher:
            wait_for(lambda: blocked_on_lock(watcher, "copy") is not None, "the stage waits on old_orders", process)
        yield holder, process
        holder.execute("commit")


def test_migrate_and_the_seeder_never_write_generated_data_into_a_configured_legacy_database(
    databases: Databases,
) -> None:
    env = databases.env()
    with databases.old() as conn:
        schemas_before = _schemas(conn)

    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "no table old_users" in line
    refused = run_module("seeder", "--size", "50", env=env, check=False)
    assert "writes generated data only into the embedded server's demo database" in _one_error_line(refused)
    assert f"--configured-database {databases.old_name}" in refused.stderr
    skipped = run_module("seeder", "--if-empty", env=env)
    assert "not seeded" in skipped.stdout

    with databases.old() as conn:
        assert _tables(conn) == set() and _schemas(conn) == schemas_before
    with databases.new() as conn:
        assert _tables(conn) == set()


def test_legacy_tables_present_but_empty_stop_the_run_and_stay_as_they_were(databases: Databases) -> None:
    with databases.old() as conn:
        for table in LEGACY_SCHEMA:
            conn.execute(create_table_sql(table))
        conn.execute("alter table old_users add column loyalty_tier text")
        conn.execute("comment on table old_users is 'the shop''s customers'")
    line = _one_error_line(run_module("loader", "migrate", env=databases.env(), check=False))
    assert "hold no rows" in line
    with databases.old() as conn:
        assert count(conn, "select count(*) from old_users") == 0
        comment = conn.execute("select obj_description('old_users'::regclass)").fetchone()
        extra = count(conn, "select count(*) from information_schema.columns where column_name = 'loyalty_tier'")
    assert comment == ("the shop's customers",) and extra == 1
    with databases.new() as conn:
        assert _tables(conn) == set()


def test_swapped_old_and_new_stop_with_one_line_and_write_nothing_anywhere(migrated: Databases) -> None:
    env = migrated.env(OLD_DATABASE_URL=migrated.new_url, NEW_DATABASE_URL=migrated.old_url)
    with migrated.old() as old, migrated.new() as new:
        before = (_tables(old), _schemas(old), target_fingerprints(new))
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "swapped" in line
    with migrated.old() as old, migrated.new() as new:
        assert (_tables(old), _schemas(old), target_fingerprints(new)) == before


def test_a_search_path_pointing_elsewhere_stages_the_legacy_schema_and_a_mixed_case_table_is_refused(
    migrated: Databases,
) -> None:
    with migrated.old() as conn:
        conn.execute("create schema decoy")
        conn.execute("create table decoy.old_users (like public.old_users)")
        conn.execute("insert into decoy.old_users (id, username) values (1, 'stray')")
        conn.execute(f"alter database {migrated.old_name} set search_path = decoy, public")
    env = migrated.env()
    run_module("loader", "stage", env=env)
    with migrated.old() as old, migrated.new() as new:
        assert count(new, "select count(*) from staging.old_users where username = 'stray'") == 0
        assert count(new, "select count(*) from staging.old_users") == count(
            old, "select count(*) from public.old_users"
        )

    with migrated.old() as conn:
        conn.execute('alter table public.old_orders rename to "Old_Orders"')
    line = _one_error_line(run_module("loader", "stage", env=env, check=False))
    assert '"Old_Orders"' in line and "lower-case names exactly" in line

    # The legacy tables in a schema of their own, named by OLD_DB_SCHEMA.
    with migrated.old() as conn:
        conn.execute('alter table public."Old_Orders" rename to old_orders')
        conn.execute('create schema "Legacy App"')
        for table in LEGACY_SCHEMA:
            conn.execute(f'alter table public.{table} set schema "Legacy App"')
    result = run_module("loader", "migrate", env=migrated.env(OLD_DB_SCHEMA="Legacy App"))
    assert "published" in result.stdout


def test_a_legacy_table_truncated_and_refilled_during_the_stage_leaves_the_target_unchanged(
    migrated: Databases,
) -> None:
    with migrated.new() as conn:
        before = target_fingerprints(conn)
    with migrated.old() as conn:
        conn.execute("create table orders_backup as select * from old_orders")
    with stage_waiting_on_old_orders(migrated, "migrate") as (reloader, process):
        # A nightly reload: TRUNCATE is not MVCC-safe, so the stage's older snapshot now reads an empty table.
        reloader.execute("truncate old_orders")
        reloader.execute("insert into old_orders select * from orders_backup")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2, out + err
    assert "truncated, rewritten or replaced by another session" in err
    with migrated.new() as conn:
        assert target_fingerprints(conn) == before
        assert conn.execute("select status from migration_runs order by run_id desc limit 1").fetchone() == ("failed",)
    # Once the reload is done, the next run reads the whole table again and changes nothing.
    run_module("loader", "migrate", env=migrated.env())
    with migrated.new() as conn:
        assert target_fingerprints(conn) == before


def test_a_legacy_table_that_shrank_past_the_limit_stops_the_run_until_a_person_allows_it(
    migrated: Databases,
) -> None:
    env = migrated.env()
    with migrated.new() as conn:
        before = target_fingerprints(conn)
        orders_before = count(conn, "select count(*) from orders")
    with migrated.old() as conn:
        conn.execute("delete from old_orders where id % 10 < 7")
    result = run_module("loader", "migrate", env=env, check=False)
    line = _one_error_line(result)
    assert "mass change old_orders" in line and "--allow-mass-change" in line
    with migrated.new() as conn:
        assert target_fingerprints(conn) == before
    report = json.loads((migrated.scratch / "reports" / "migration_report.json").read_text())
    failed = [gate for gate in report["gates"] if not gate["passed"]]
    assert {(gate["gate"], gate["subject"]) for gate in failed} >= {("mass change", "old_orders")}

    # The marts the refused run built are current: a person who has checked publishes them.
    allowed = run_module("loader", "publish", "--allow-mass-change", env=env)
    assert "published" in allowed.stdout
    with migrated.new() as conn:
        assert count(conn, "select count(*) from orders") < orders_before * 0.5


def test_a_run_that_would_rewrite_most_of_a_target_table_stops_until_a_person_allows_it(
    migrated: Databases,
) -> None:
    env = migrated.env()
    with migrated.old() as conn:
        conn.execute("update old_users set full_name = full_name || ' Jr' where full_name is not null")
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "mass change users" in line and "rewritten" in line
    planned = run_module("loader", "publish", "--max-change-share", "100%", "--dry-run", env=env)
    assert "planned" in planned.stdout
    run_module("loader", "publish", "--allow-mass-change", env=env)
    with migrated.new() as conn:
        assert count(conn, "select count(*) from users where full_name like '%% Jr'") > 0


def test_legacy_columns_of_another_type_family_stop_the_run_and_wider_ones_are_noted(migrated: Databases) -> None:
    with migrated.old() as conn:
        conn.execute("alter table old_users alter column username type text")
        conn.execute("alter table old_users alter column full_name type varchar(300)")
    result = run_module("loader", "migrate", env=migrated.env())
    assert "old_users.username is text, wider than the contract's text (varchar(50))" in result.stdout
    assert "old_users.full_name is character varying(300)" in result.stdout

    with migrated.old() as conn:
        conn.execute("alter table old_orders alter column quantity type text")
    line = _one_error_line(run_module("loader", "migrate", env=migrated.env(), check=False))
    assert "old_orders.quantity is text" in line and "integer" in line


def test_a_sql_ascii_legacy_database_is_read_by_its_column_names(databases: Databases) -> None:
    with databases.server.admin() as conn:
        conn.execute(f"drop database {databases.old_name}")
        conn.execute(
            f"create database {databases.old_name} encoding 'SQL_ASCII' template template0 lc_collate 'C' lc_ctype 'C'"
        )
    with databases.old() as conn:
        for table in LEGACY_SCHEMA:
            conn.execute(create_table_sql(table))
        conn.execute("insert into old_users (id, username, email) values (1, 'ascii', 'ascii@example.com')")
        conn.execute("insert into old_products (id, product_name, price_str) values (1, 'Thing', '2.50')")
        conn.execute("insert into old_orders values (1, 'ascii', '2024-01-02', 'shipped', 'Thing', 2, '2.50', '5.00')")
    result = run_module("loader", "migrate", env=databases.env())
    assert "published" in result.stdout
    with databases.new() as conn:
        assert count(conn, "select count(*) from orders") == 1


def test_the_seeder_refuses_a_database_that_cannot_store_its_data_in_one_line(databases: Databases) -> None:
    with databases.server.admin() as conn:
        conn.execute(f"drop database {databases.old_name}")
        conn.execute(
            f"create database {databases.old_name} encoding 'LATIN1' template template0 lc_collate 'C' lc_ctype 'C'"
        )
    line = _one_error_line(
        run_module(
            "seeder", "--configured-database", databases.old_name, "--size", "50", env=databases.env(), check=False
        )
    )
    assert "LATIN1" in line and "UTF8" in line
    with databases.old() as conn:
        assert _tables(conn) == set()


def test_a_target_whose_name_dbt_cannot_quote_stops_before_anything_is_written(databases: Databases) -> None:
    databases.seed("--size", "20")
    name = 'new "quoted" db'
    with databases.server.admin() as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        env = databases.env(NEW_DATABASE_URL=databases.server.url(name.replace(" ", "%20").replace('"', "%22")))
        line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
        assert "dbt cannot build" in line and "--engine pandas" in line
        with psycopg.connect(
            host=databases.server.socket_dir, port=databases.server.port, user="postgres", dbname=name
        ) as conn:
            assert _tables(conn) == set()
    finally:
        with databases.server.admin() as conn:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


def test_swapped_old_and_new_on_a_first_run_are_refused_too(databases: Databases) -> None:
    databases.seed("--size", "20")
    env = databases.env(OLD_DATABASE_URL=databases.new_url, NEW_DATABASE_URL=databases.old_url)
    with databases.old() as old:
        before = (_tables(old), _schemas(old))
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "looks like the legacy database" in line and "swapped" in line
    with databases.old() as old, databases.new() as new:
        assert (_tables(old), _schemas(old)) == before
        assert _tables(new) == set()


def test_the_stage_records_what_the_server_counts_and_a_read_far_short_of_it_needs_a_person(
    migrated: Databases,
) -> None:
    """A reload in two transactions: the truncate committed before the stage began, the refill after its
    snapshot. The storage did not change while the stage read, but the statistics count the refilled rows."""
    with migrated.old() as conn:
        conn.execute("analyze")  # this copy of the template has no statistics of its own yet
        counts = {table: count(conn, f"select count(*) from {table}") for table in LEGACY_SCHEMA}
    watch = psycopg2.connect(migrated.old_url)
    watch.autocommit = True
    try:
        before = table_identities(watch, "public")
        assert check_read_whole(watch, "public", before, counts, "the legacy database") == counts
    finally:
        watch.close()

    def gates(read: int, counted: int, limit: ChangeLimit) -> list[tuple[bool, str]]:
        table = TableCounts("old_orders", read, read, counted, read, 0, 0, 0, 0)
        return [(gate.passed, gate.detail) for gate in legacy_shrink_gates({"old_orders": table}, {}, limit)]

    assert gates(9_000, 10_000, ChangeLimit()) == []
    [(passed, detail)] = gates(5_000, 10_000, ChangeLimit())
    assert not passed and "statistics counted 10000" in detail and "--allow-mass-change" in detail
    assert gates(5_000, 10_000, ChangeLimit(allowed=True))[0][0]


def test_a_legacy_table_emptied_in_steps_stops_at_its_high_water_mark(migrated: Databases) -> None:
    """Each step is under the limit against the run before it; together they are not."""
    env = migrated.env()
    with migrated.old() as conn:
        conn.execute("delete from old_orders where id % 10 < 3")
    run_module("loader", "migrate", env=env)
    with migrated.old() as conn:
        conn.execute("delete from old_orders where id % 10 < 6")
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "mass change old_orders" in line and "since run 1" in line
    run_module("loader", "publish", "--allow-mass-change", env=env)
    # The confirmed run is the new mark: the same rows again pass.
    assert "published" in run_module("loader", "publish", env=env).stdout


def test_a_run_lock_lost_during_the_stage_swaps_nothing_in(migrated: Databases) -> None:
    with migrated.old() as conn:
        conn.execute("update old_users set full_name = 'Changed Since' where id = (select min(id) from old_users)")
    before = staging_fingerprints(migrated)
    with stage_waiting_on_old_orders(migrated, "stage") as (_, process), migrated.new() as admin:
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'legacy-migrate "
            "stage%%'"
        )
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2, out + err
    assert "run lock" in err and "was lost" in err
    assert staging_fingerprints(migrated) == before


def test_a_small_table_may_change_whole_but_emptying_one_is_always_a_mass_change() -> None:
    limit = ChangeLimit(share=0.5)
    assert limit.verdict(2, 3, emptied=False)[0]
    assert not limit.verdict(3, 3, emptied=True)[0]
    assert not limit.verdict(60, 100, emptied=False)[0]
    assert limit.verdict(60, 100, emptied=False) != ChangeLimit(0.5, allowed=True).verdict(60, 100, emptied=False)
    passed, why = ChangeLimit(share=1.0).verdict(100, 100, emptied=True)
    assert not passed and why.startswith("the table would be left empty")


def test_a_plan_never_upgrades_the_target_schema(databases: Databases) -> None:
    databases.seed("--size", "20")
    env = databases.env()
    line = _one_error_line(run_module("loader", "migrate", "--dry-run", env=env, check=False))
    assert "needs an upgrade (none -> " in line and "make schema" in line
    with databases.new() as conn:
        assert _tables(conn) == set()
    run_module("loader", "schema", env=env)
    assert "planned" in run_module("loader", "migrate", "--dry-run", env=env).stdout


def test_legacy_tables_that_are_a_view_or_partitioned_are_staged_whole(migrated: Databases) -> None:
    with migrated.old() as conn:
        conn.execute("alter table old_users rename to users_stored")
        conn.execute("create view old_users as select * from users_stored")
        conn.execute("alter table old_orders rename to orders_stored")
        conn.execute("create table old_orders (like orders_stored) partition by range (id)")
        conn.execute("create table old_orders_all partition of old_orders for values from (minvalue) to (maxvalue)")
        conn.execute("insert into old_orders select * from orders_stored")
    run_module("loader", "stage", env=migrated.env())
    with migrated.old() as old, migrated.new() as new:
        for table in ("old_users", "old_orders"):
            assert count(new, f"select count(*) from staging.{table}") == count(old, f"select count(*) from {table}")


def test_a_target_role_whose_search_path_names_no_schema_is_told_so(databases: Databases) -> None:
    databases.seed("--size", "20")
    with databases.server.admin() as conn:
        conn.execute("drop role if exists lost_path")
        conn.execute("create role lost_path login superuser")
        conn.execute("alter role lost_path set search_path = nowhere")
    env = databases.env(NEW_DATABASE_URL=databases.server.url(databases.new_name, "lost_path"))
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "no schema has been selected" in line and "search_path" in line


PUBLISHED = "select count(*) from migration_runs where status = 'published'"


@contextmanager
def _legacy_reader(migrated: Databases, role: str, *grants: str) -> Iterator[str]:
    """A login role that may use the legacy schema and has these grants (`{role}` in them names it); dropped after."""
    with migrated.server.admin() as conn:
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
    with migrated.old() as old:
        for grant in ("grant usage on schema public to {role}", *grants):
            old.execute(grant.format(role=role))
    try:
        yield role
    finally:
        with migrated.old() as old:
            old.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        with migrated.server.admin() as conn:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def _published_target(migrated: Databases) -> tuple[dict[str, str], int]:
    with migrated.new() as conn:
        return target_fingerprints(conn), count(conn, PUBLISHED)


def test_a_legacy_row_a_security_policy_hides_stops_the_run_rather_than_go_missing(migrated: Databases) -> None:
    # The reader may not see a tenth of the orders: read as it is, they would vanish from the counts too, and under
    # the mass-change limit the run would delete them from the target.
    policy = "create policy some_orders on old_orders for select to {role} using (id % 10 <> 0)"
    with (
        _legacy_reader(migrated, "partial_reader", "grant select on all tables in schema public to {role}") as role,
        migrated.old() as old,
    ):
        old.execute("alter table old_orders enable row level security")
        old.execute(policy.format(role=role))
        before = _published_target(migrated)
        env = migrated.env(OLD_DATABASE_URL=migrated.server.url(migrated.old_name, role))
        line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "row-level security" in line and "old_orders" in line and "BYPASSRLS" in line, line
    assert _published_target(migrated) == before
    with migrated.new() as conn:
        assert conn.execute("select status from migration_runs order by run_id desc limit 1").fetchone() == ("failed",)


@pytest.mark.parametrize("side", ["OLD", "NEW"])
def test_a_role_without_a_privilege_is_told_which_and_nothing_changes(migrated: Databases, side: str) -> None:
    # The legacy reader may read every table but one column of old_users; the target role owns nothing there.
    grants = (
        "grant select on old_orders, old_products to {role}",
        "grant select (id, username, email) on old_users to {role}",
    )
    with _legacy_reader(migrated, "short_reader", *grants) as role:
        before = _published_target(migrated)
        url = migrated.server.url(migrated.old_name if side == "OLD" else migrated.new_name, role)
        env = migrated.env(**{f"{side}_DATABASE_URL": url})
        line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    named = "old_users" if side == "OLD" else "alembic_version"
    assert f"permission denied for table {named}" in line and "SELECT on every legacy table" in line, line
    assert _published_target(migrated) == before


def test_a_read_only_target_role_is_told_so_and_nothing_changes(migrated: Databases) -> None:
    with migrated.server.admin() as conn:
        conn.execute("drop role if exists read_only_target")
        conn.execute("create role read_only_target login superuser")
        conn.execute("alter role read_only_target set default_transaction_read_only = on")
    with migrated.new() as conn:
        before = target_fingerprints(conn), count(conn, "select count(*) from migration_runs")
    env = migrated.env(NEW_DATABASE_URL=migrated.server.url(migrated.new_name, "read_only_target"))
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "read-only transaction" in line and "default_transaction_read_only = off" in line, line
    with migrated.new() as conn:
        assert (target_fingerprints(conn), count(conn, "select count(*) from migration_runs")) == before
