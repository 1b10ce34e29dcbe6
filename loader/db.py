"""Connections to the legacy and target databases, with failures turned into one clear sentence."""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg2
import psycopg2.extensions
from sqlalchemy import Engine, create_engine, pool

from loader.config import ConfigError, Database

ROLE = {"OLD": "legacy", "NEW": "target"}
# Every session the pipeline opens says whose it is, in pg_stat_activity and in the lock holder's description.
APPLICATION_NAME = "legacy-migrate"


def explain_connection_error(database: Database, exc: BaseException) -> str:
    """Say which database failed, why, and which setting to look at; never the password."""
    side, role = database.side, ROLE[database.side]
    message = str(exc).strip()
    where = database.describe()
    user = database.url.username or "postgres"
    if "password authentication failed" in message or "no password supplied" in message:
        return (
            f"cannot log in to the {role} database {where} as {user}: the password was refused; "
            f"check {side}_DB_PASSWORD (or {side}_DATABASE_URL) in .env"
        )
    if f'database "{database.name}" does not exist' in message:
        return (
            f"the {role} database {database.name} does not exist on that server; "
            f"create it (createdb {database.name}) or fix {side}_DB_NAME (or {side}_DATABASE_URL) in .env"
        )
    if "role" in message and "does not exist" in message:
        return f"the {role} server knows no user {user}; fix {side}_DB_USER (or {side}_DATABASE_URL) in .env"
    if any(
        hint in message
        for hint in ("Connection refused", "could not translate host name", "No such file or directory", "timeout")
    ):
        return (
            f"no PostgreSQL server answers for the {role} database {where}; start it, or fix "
            f"{side}_DB_HOST/{side}_DB_PORT (or {side}_DATABASE_URL) in .env"
        )
    first_line = message.splitlines()[0] if message else type(exc).__name__
    return f"cannot connect to the {role} database {where}: {first_line}"


def connect(database: Database, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection; a failure to connect becomes a ConfigError naming the setting to fix."""
    try:
        return psycopg.connect(database.libpq_url(), connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise ConfigError(explain_connection_error(database, exc)) from None


def connect_for_copy(database: Database, **kwargs: Any) -> psycopg2.extensions.connection:
    """A psycopg2 connection, for the stage's COPY: its copy_expert moves COPY data in C, rows never in Python.

    Both sides of a COPY pipe speak UTF8, so the bytes one server sends are the bytes the other expects; each
    server converts from and to its own encoding.
    """
    try:
        return psycopg2.connect(
            database.libpq_url(),
            connect_timeout=10,
            client_encoding="UTF8",
            application_name=APPLICATION_NAME,
            **kwargs,
        )
    except psycopg2.OperationalError as exc:
        raise ConfigError(explain_connection_error(database, exc)) from None


def engine(database: Database) -> Engine:
    """A SQLAlchemy engine for the publish step; connections are opened (and checked) by `check_engine`."""
    return create_engine(
        database.url,
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": 10, "application_name": APPLICATION_NAME},
        hide_parameters=True,
        # INSERT … SELECT row counts are the summary's "rows written"; SQLAlchemy only keeps them when asked.
        execution_options={"preserve_rowcount": True},
    )
