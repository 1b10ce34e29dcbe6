"""Connections to the legacy and target databases, with failures turned into one clear sentence."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg2
import psycopg2.extensions
from sqlalchemy import Engine, create_engine, event, pool

from loader.core.config import ROLE, Database, Settings
from loader.core.errors import ConfigError, first_line

# Every session the pipeline opens says whose it is, in pg_stat_activity and in the lock holder's description.
APPLICATION_NAME = "legacy-migrate"
# libpq's defaults for every connection; a parameter the URL's query sets itself wins. TCP keepalives make a
# server that vanished (a crashed host, a dropped VPN) show up as an error within about a minute of silence
# (30 s idle, then 3 probes 10 s apart) rather than a COPY or a lock wait that hangs for the kernel's two
# hours. libpq ignores them on a Unix socket, where the kernel sees a dead server at once.
CONNECTION_DEFAULTS: dict[str, str | int] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


# What every session of the pipeline sets once connected, whatever the role, database or server sets for it, each
# with the server_version_num it appeared in:
# - ISO dates: psycopg 3 parses timestamps only in ISO, and stops the run at the first one under `alter role … set
#   datestyle = 'SQL, DMY'` (psycopg2 sets ISO itself);
# - no statement, transaction or idle timeout, as pg_dump does: a timeout set for an application's queries would cut
#   a migration's long COPY or INSERT … SELECT short, or end a session that waits while Python computes, and fail a
#   run that was going well. A role's lock_timeout is kept: it stops a run that waits behind another session's
#   lock, with the server's own message, which is a clear failure rather than a run cut short;
# - row security off, as pg_dump does: a row-level security policy that hides rows from the role then stops the
#   statement with an error, where it would otherwise drop those rows from the read without a word.
# Set with set_config once connected, not with libpq's `options`, which connection poolers (PgBouncer) refuse as a
# startup parameter; a pooler must then pool sessions, not transactions (the run lock needs that too).
SESSION_SETTINGS = (
    ("datestyle", "ISO, YMD", 0),
    ("statement_timeout", "0", 0),
    ("idle_in_transaction_session_timeout", "0", 90600),
    ("idle_session_timeout", "0", 140000),
    ("transaction_timeout", "0", 170000),
    ("row_security", "off", 90500),
)


def connection_options(database: Database) -> dict[str, str | int]:
    """CONNECTION_DEFAULTS less those the URL sets; for psycopg, psycopg2 and SQLAlchemy's connect_args."""
    return {key: value for key, value in CONNECTION_DEFAULTS.items() if key not in database.url.query}


def explain_connection_error(database: Database, exc: BaseException) -> str:
    """Say which database failed, why, and which setting to look at; never the password."""
    role = ROLE[database.side]
    message = str(exc).strip()
    where = database.describe()
    first = message.splitlines()[0] if message else type(exc).__name__
    if database.origin == "embedded":
        # Nothing the user set: the project's own server, which a restart puts right.
        return f"cannot connect to the embedded server's {role} database {where}: {first}; `make db-stop`, then retry"
    user = database.url.username or "postgres"
    if "password authentication failed" in message or "no password supplied" in message:
        return (
            f"cannot log in to the {role} database {where} as {user}: the password was refused; "
            f"check {database.setting('PASSWORD')} in .env or the environment"
        )
    if f'database "{database.name}" does not exist' in message:
        return (
            f"the {role} database {database.name} does not exist on that server; "
            f"create it (createdb {database.name}) or fix {database.setting('NAME')} in .env or the environment"
        )
    if "role" in message and "does not exist" in message:
        return f"the {role} server knows no user {user}; fix {database.setting('USER')} in .env or the environment"
    if any(
        hint in message
        for hint in ("Connection refused", "could not translate host name", "No such file or directory", "timeout")
    ):
        return (
            f"no PostgreSQL server answers for the {role} database {where}; start it, or fix "
            f"{database.setting('HOST', 'PORT')} in .env or the environment"
        )
    return f"cannot connect to the {role} database {where}: {first}"


def connect(database: Database, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection; a failure to connect becomes a ConfigError naming the setting to fix.

    It speaks UTF8 whatever the server's encoding: the server converts, and psycopg then returns text as str
    even from a SQL_ASCII server (to which it would otherwise hand bytes, names of columns included).
    """
    try:
        conn = psycopg.connect(
            database.libpq_url(), **{**connection_options(database), "client_encoding": "UTF8", **kwargs}
        )
    except psycopg.OperationalError as exc:
        raise ConfigError(explain_connection_error(database, exc)) from None
    _pin_session(conn, database)
    return conn


def _pin_session(connection: Any, database: Database) -> None:
    """SESSION_SETTINGS on a new DB-API connection (psycopg or psycopg2; both have `info`), leaving it outside any
    transaction, as it was when it connected. A server that refuses them closes the connection with a ConfigError."""
    version = connection.info.server_version
    calls = [f"set_config('{name}', '{value}', false)" for name, value, since in SESSION_SETTINGS if version >= since]
    try:
        with closing(connection.cursor()) as cursor:
            cursor.execute("select " + ", ".join(calls))
        if not connection.autocommit:
            connection.commit()
    except (psycopg.Error, psycopg2.Error) as exc:
        connection.close()
        raise ConfigError(
            f"the {ROLE[database.side]} server of {database.describe()} did not take the settings every session of "
            f"the pipeline makes (ISO dates, no timeouts, row security off): {first_line(exc)}; it needs a PostgreSQL "
            "server, and a role whose own limits let one short statement run (not a statement_timeout of milliseconds)"
        ) from None


def connect_for_copy(database: Database, **kwargs: Any) -> psycopg2.extensions.connection:
    """A psycopg2 connection, for the stage's COPY: its copy_expert moves COPY data in C, rows never in Python.

    Both sides of a COPY pipe speak UTF8, so the bytes one server sends are the bytes the other expects; each
    server converts from and to its own encoding.
    """
    try:
        options = {**connection_options(database), "client_encoding": "UTF8", "application_name": APPLICATION_NAME}
        connection: psycopg2.extensions.connection = psycopg2.connect(database.libpq_url(), **{**options, **kwargs})
    except psycopg2.OperationalError as exc:
        raise ConfigError(explain_connection_error(database, exc)) from None
    _pin_session(connection, database)
    return connection


def engine(database: Database) -> Engine:
    """A SQLAlchemy engine for the publish step; connections are opened (and checked) by `check_engine`."""
    created = create_engine(
        database.url,
        poolclass=pool.NullPool,
        connect_args={**connection_options(database), "application_name": APPLICATION_NAME},
        hide_parameters=True,
        # INSERT … SELECT row counts are the summary's "rows written"; SQLAlchemy only keeps them when asked.
        execution_options={"preserve_rowcount": True},
    )
    # On each connection SQLAlchemy opens; insert=True: before its dialect's first queries too.
    event.listen(created, "connect", lambda connection, _record: _pin_session(connection, database), insert=True)
    return created


@dataclass(frozen=True)
class DatabaseIdentity:
    """What a server says about the database a connection landed in, whatever the URL called it."""

    # pg_control_system()'s system_identifier: fixed at initdb, shared by a physical replica or a copy of the
    # data directory; None when the role may not call it (PostgreSQL 15 to 18 let every role call it, but a
    # DBA can revoke it, and some PostgreSQL-compatible services lack it).
    system_identifier: int | None
    # The postmaster's start time, to the microsecond, and its port: tell a physical copy or replica from the
    # original, and stand in for system_identifier when it is missing.
    started_at: datetime.datetime
    port: str
    database_oid: int
    database_name: str

    def same_database_as(self, other: DatabaseIdentity) -> bool:
        both_known = None not in (self.system_identifier, other.system_identifier)
        if both_known and self.system_identifier != other.system_identifier:
            return False
        # Without system_identifier the test is start time and port: two servers started in the same
        # microsecond on the same port (containers launched together) would read as one, a false alarm; a
        # server restarted between the two queries would read as two, a miss, but both are asked a moment apart.
        return (self.started_at, self.port, self.database_oid, self.database_name) == (
            other.started_at,
            other.port,
            other.database_oid,
            other.database_name,
        )


IDENTITY_QUERY = """
select
    pg_postmaster_start_time(),
    current_setting('port'),
    (select oid from pg_database where datname = current_database()),
    current_database()
"""


def database_identity(database: Database) -> DatabaseIdentity | None:
    """Ask the server which database this URL reaches (a ConfigError if it cannot be reached); None from a
    server that cannot say (a PostgreSQL-compatible legacy system without these functions)."""
    with closing(connect(database, autocommit=True, application_name=APPLICATION_NAME)) as conn:
        try:
            row = conn.execute("select system_identifier from pg_control_system()").fetchone()
            system_identifier = int(row[0]) if row is not None else None
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction):
            system_identifier = None
        try:
            found = conn.execute(IDENTITY_QUERY).fetchone()
        except (psycopg.errors.UndefinedFunction, psycopg.errors.FeatureNotSupported):
            return None
    assert found is not None  # a select without from returns its one row
    started_at, port, oid, name = found
    return DatabaseIdentity(system_identifier, started_at, str(port), int(oid), str(name))


def check_distinct_databases(settings: Settings) -> None:
    """Refuse, before anything is written, a legacy and a target setting that reach the same database.

    The URL texts may differ (127.0.0.1 and localhost, a socket folder and TCP, a tunnel or a pooler in between)
    while the database is one: the servers themselves are asked.
    """
    old, new = database_identity(settings.old), database_identity(settings.new)
    # A server that cannot say is not PostgreSQL proper, and the target must be (14 or newer): not one database.
    if old is not None and new is not None and old.same_database_as(new):
        raise ConfigError(
            f"the legacy and target settings name the same database ({settings.old.describe()} and "
            f"{settings.new.describe()} are one database spelled two ways): point NEW_DATABASE_URL (or NEW_DB_*) "
            "at a different database"
        )


def row_values(row: Sequence[Any]) -> tuple[Any, ...]:
    """A result row's values as a plain tuple: mypy reads an untyped SQLAlchemy row's fields as `object`."""
    return tuple(row)
