"""Bad configuration ends in one clear line, exit code 2, no password shown, and nothing written."""

from __future__ import annotations

import psycopg
import pytest
from alembic.util.exc import CommandError

from loader.core.cli import run_cli
from tests.support.databases import Databases, run_module
from tests.support.helpers import count

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


@pytest.mark.parametrize("spelt", ["url", "parts"])
def test_wrong_password_says_so_names_the_setting_it_came_in_and_writes_nothing(
    databases: Databases, spelt: str
) -> None:
    server = databases.server
    hba = server.pgdata / "pg_hba.conf"
    hba.write_text("local all migrator scram-sha-256\n" + hba.read_text())
    with server.admin() as conn:
        conn.execute("drop role if exists migrator")
        conn.execute("create role migrator login superuser password 'the-right-one'")
        conn.execute("select pg_reload_conf()")
    if spelt == "url":
        env = databases.env(NEW_DATABASE_URL=server.url(databases.new_name, "migrator", SECRET))
    else:
        env = databases.env(
            NEW_DATABASE_URL="",
            NEW_DB_HOST=server.socket_dir,
            NEW_DB_PORT=str(server.port),
            NEW_DB_USER="migrator",
            NEW_DB_PASSWORD=SECRET,
            NEW_DB_NAME=databases.new_name,
        )
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "password was refused" in line
    setting, other = (
        ("NEW_DATABASE_URL", "NEW_DB_PASSWORD") if spelt == "url" else ("NEW_DB_PASSWORD", "NEW_DATABASE_URL")
    )
    assert setting in line and other not in line
    with databases.new() as conn:
        assert count(conn, "select count(*) from pg_tables where schemaname = 'public'") == 0


def test_parts_beside_the_url_must_say_what_it_says(databases: Databases) -> None:
    # What `db-urls --dbt` exports agrees with the URL, so a shell that ran it can still run the loader.
    exports = run_module("loader", "db-urls", "--dbt", env=databases.env()).stdout
    parts = dict(line.removeprefix("export ").replace("'", "").split("=", 1) for line in exports.splitlines())
    assert set(parts) == {"NEW_DB_HOST", "NEW_DB_PORT", "NEW_DB_USER", "NEW_DB_NAME"}, parts
    assert databases.new_name in run_module("loader", "db-urls", env=databases.env(**parts)).stdout
    # A password or a user beside a URL that has none (or another) would go unused: refused, naming both.
    env = databases.env(NEW_DB_PASSWORD=SECRET, NEW_DB_USER="someone", NEW_DB_NAME=databases.new_name)
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "NEW_DB_USER, NEW_DB_PASSWORD set beside NEW_DATABASE_URL, saying otherwise" in line, line
    assert "NEW_DB_NAME" not in line
    with databases.new() as conn:
        assert count(conn, "select count(*) from pg_tables where schemaname = 'public'") == 0


def test_parts_settings_are_used_and_a_missing_host_is_explained(databases: Databases) -> None:
    env = databases.env(NEW_DATABASE_URL="", NEW_DB_USER="someone", NEW_DB_PASSWORD=SECRET)
    line = _one_error_line(run_module("loader", "db-urls", env=env, check=False))
    assert "NEW_DB_HOST" in line


def test_a_port_given_in_the_url_query_reaches_dbt_and_a_bad_one_is_explained(databases: Databases) -> None:
    socket_url = "postgresql://someone@/target?host=/run/elsewhere&port=6543"
    env = databases.env(NEW_DATABASE_URL=socket_url)
    # Quoted for the shell or not, as each value needs.
    exports = run_module("loader", "db-urls", "--dbt", env=env).stdout.replace("'", "")
    assert "export NEW_DB_PORT=6543" in exports and "export NEW_DB_HOST=/run/elsewhere" in exports
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
    databases.seed("--size", "50")
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
    databases.seed("--size", "50")
    with databases.old() as conn:
        conn.execute("alter table old_users add column loyalty_tier text default 'gold'")
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)
    with databases.new() as conn:
        assert count(conn, "select count(*) from staging.old_users where loyalty_tier = 'gold'") > 0


def test_the_seeder_leaves_an_existing_legacy_database_alone(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--size", "50")
    with psycopg.connect(databases.old_url) as conn:
        before = count(conn, "select count(*) from old_orders")
    again = run_module("seeder", "--configured-database", databases.old_name, "--size", "80", env=env, check=False)
    line = _one_error_line(again)
    assert "already holds legacy data" in line and "REPLACE=1" in line
    with psycopg.connect(databases.old_url) as conn:
        assert count(conn, "select count(*) from old_orders") == before


UNKNOWN_REVISION = "f00dfeedbeef"


def _only_error_line(result: object) -> str:
    """Alembic logs its INFO lines to stderr; past them, one `error:` line and no traceback."""
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, result.stdout + stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("INFO ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("command", ["schema", "migrate"])
def test_a_target_at_an_alembic_revision_this_project_does_not_know_is_one_line(
    migrated: Databases, command: str
) -> None:
    with migrated.new() as conn:
        conn.execute("update alembic_version set version_num = %s", (UNKNOWN_REVISION,))
        runs_before = count(conn, "select count(*) from migration_runs")
    line = _only_error_line(run_module("loader", command, env=migrated.env(), check=False))
    assert f"the target database {migrated.new_name} on " in line
    assert f"is at Alembic revision {UNKNOWN_REVISION}, which this project does not know" in line
    assert "NEW_DATABASE_URL" in line
    with migrated.new() as conn:
        assert count(conn, "select count(*) from migration_runs") == runs_before


def test_an_unexpected_exception_is_one_line_unless_debugging(databases: Databases) -> None:
    """Here a .env file that is not UTF-8: whatever the exception, one line; LEGACY_MIGRATE_DEBUG=1 shows where."""
    env_file = databases.scratch / "latin1.env"
    env_file.write_bytes("NEW_DB_PASSWORD=caf\xe9\n".encode("latin-1"))
    env = databases.env(LEGACY_MIGRATE_ENV_FILE=str(env_file))
    line = _one_error_line(run_module("loader", "db-urls", env=env, check=False))
    assert "Traceback" not in line
    debug = run_module("loader", "db-urls", env={**env, "LEGACY_MIGRATE_DEBUG": "1"}, check=False)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "failure",
    [
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        CommandError("Can't locate revision identified by 'f00dfeedbeef'"),
        RuntimeError(f"could not reach postgresql://someone:{SECRET}@db.example/x"),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_run_cli_turns_any_exception_into_one_line(
    failure: Exception, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEGACY_MIGRATE_DEBUG", raising=False)

    def body() -> int:
        raise failure

    assert run_cli(body) == 2
    stderr = capsys.readouterr().err.strip().splitlines()
    assert len(stderr) == 1 and stderr[0].startswith("error: "), stderr
    assert SECRET not in stderr[0]
    monkeypatch.setenv("LEGACY_MIGRATE_DEBUG", "1")
    with pytest.raises(type(failure)):
        run_cli(body)
