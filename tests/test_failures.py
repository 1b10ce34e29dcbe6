"""Bad configuration ends in one clear line, exit code 2, no password shown, and nothing written."""

from __future__ import annotations

import psycopg
import pytest
from conftest import Databases, run_module
from helpers import count

SECRET = "s3cr3t-Pa55"  # noqa: S105 - a password that must never be printed


def _one_error_line(result: object) -> str:
    stderr = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert result.returncode == 2, result.stdout + result.stderr  # type: ignore[attr-defined]
    assert len(stderr) == 1, stderr
    assert stderr[0].startswith("error: ")
    assert SECRET not in result.stdout + result.stderr  # type: ignore[attr-defined]
    return stderr[0]


@pytest.mark.parametrize("side", ["OLD", "NEW"])
def test_no_server_at_the_url_names_the_side_and_the_setting(databases: Databases, side: str) -> None:
    env = databases.env(**{f"{side}_DATABASE_URL": f"postgresql://someone:{SECRET}@127.0.0.1:9/somewhere"})
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    role = "legacy" if side == "OLD" else "target"
    assert f"no PostgreSQL server answers for the {role} database" in line
    assert f"{side}_DATABASE_URL" in line


def test_wrong_password_says_so_and_writes_nothing(databases: Databases) -> None:
    server = databases.server
    hba = server.pgdata / "pg_hba.conf"
    hba.write_text("local all migrator scram-sha-256\n" + hba.read_text())
    with server.admin() as conn:
        conn.execute("drop role if exists migrator")
        conn.execute("create role migrator login superuser password 'the-right-one'")
        conn.execute("select pg_reload_conf()")
    env = databases.env(NEW_DATABASE_URL=server.url(databases.new_name, "migrator", SECRET))
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "password was refused" in line and "NEW_DB_PASSWORD" in line
    with databases.new() as conn:
        assert count(conn, "select count(*) from pg_tables where schemaname = 'public'") == 0


def test_parts_settings_are_used_and_a_missing_host_is_explained(databases: Databases) -> None:
    env = databases.env(NEW_DATABASE_URL="", NEW_DB_USER="someone", NEW_DB_PASSWORD=SECRET)
    line = _one_error_line(run_module("loader", "db-urls", env=env, check=False))
    assert "NEW_DB_HOST" in line


def test_a_port_given_in_the_url_query_reaches_dbt_and_a_bad_one_is_explained(databases: Databases) -> None:
    socket_url = "postgresql://someone@/target?host=/run/elsewhere&port=6543"
    env = databases.env(NEW_DATABASE_URL=socket_url)
    exports = run_module("loader", "db-urls", "--dbt", env=env).stdout
    assert "export NEW_DB_PORT='6543'" in exports and "export NEW_DB_HOST='/run/elsewhere'" in exports
    assert "port=6543" in run_module("loader", "db-urls", env=env).stdout

    env = databases.env(NEW_DATABASE_URL=socket_url.replace("6543", "sixty"))
    line = _one_error_line(run_module("loader", "db-urls", env=env, check=False))
    assert "NEW_DATABASE_URL" in line and "'sixty'" in line


@pytest.mark.parametrize(
    ("change", "named"),
    [("alter table old_users drop column email", "email"), ("drop table old_orders", "old_orders")],
)
def test_a_legacy_table_or_column_missing_fails_before_anything_is_written(
    databases: Databases, change: str, named: str
) -> None:
    env = databases.env()
    run_module("seeder", "--size", "50", env=env)
    with databases.old() as conn:
        conn.execute(change)
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert named in line
    with databases.new() as conn:
        assert (
            count(conn, "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')")
            == 0
        )


def test_extra_legacy_columns_are_carried_into_staging(databases: Databases) -> None:
    env = databases.env()
    run_module("seeder", "--size", "50", env=env)
    with databases.old() as conn:
        conn.execute("alter table old_users add column loyalty_tier text default 'gold'")
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)
    with databases.new() as conn:
        assert count(conn, "select count(*) from staging.old_users where loyalty_tier = 'gold'") > 0


def test_the_seeder_leaves_an_existing_legacy_database_alone(databases: Databases) -> None:
    env = databases.env()
    run_module("seeder", "--size", "50", env=env)
    with psycopg.connect(databases.old_url) as conn:
        before = count(conn, "select count(*) from old_orders")
    line = _one_error_line(run_module("seeder", "--size", "80", env=env, check=False))
    assert "already holds legacy data" in line and "REPLACE=1" in line
    with psycopg.connect(databases.old_url) as conn:
        assert count(conn, "select count(*) from old_orders") == before
