"""Sessions: what a role or database sets for its sessions must not change what the pipeline reads or writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg2
import pytest
from psycopg import sql
from sqlalchemy import URL, Connection, Engine, event, make_url, text

from loader.core.config import Database, Settings
from loader.core.db import SESSION_SETTINGS, connect, connect_for_copy, engine
from loader.pipeline import upgrade_schema
from loader.transform.dbt import dbt_environment
from tests.support.databases import Databases, Server, run_module
from tests.support.helpers import canonical, drop_new, fresh_pair, target_fingerprints

# Each role reads and prints dates its own way, keeps its own time zone, rounds floats and cuts a statement that
# runs longer than an application's query should: a server set up for people (a German office, a Chatham Islands
# one) and their application rather than for a migration.
READER, WRITER = "legacy_reader_german", "target_owner_dmy"
# Long enough that no session's first statement (the one that turns it off) comes near it on a loaded machine: a
# role's 10 ms cancelled that statement itself under a full test run. The second test reads what each session has.
TIMEOUT = "statement_timeout = '2s'"
# The settings every session of the pipeline makes, as the server reports them (the test server has them all).
SETTINGS = "select " + ", ".join(f"current_setting('{name}')" for name, _, _ in SESSION_SETTINGS)
EVIDENCE = (
    "select evidence ->> 'registration_date' from migration_ledger "
    "where reason_code = 'order_before_registration' "
    "and run_id = (select max(run_id) from migration_runs where status = 'published')"
)


@pytest.fixture
def odd_sessions(server: Server, migrated: Databases) -> Iterator[Databases]:
    """An empty target owned by a role whose sessions speak 'SQL, DMY' and time out, next to the migrated legacy
    database read by a role whose sessions speak 'German' and time out."""
    pair = fresh_pair(server, migrated, "odd")
    with server.admin() as conn:
        for role in (READER, WRITER):
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(WRITER)))
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(READER)))
        for role, settings in (
            (WRITER, ("datestyle = 'SQL, DMY'", "timezone = 'Pacific/Chatham'", "intervalstyle = 'sql_standard'")),
            (WRITER, ("extra_float_digits = -3", TIMEOUT, "idle_in_transaction_session_timeout = '1s'")),
            (WRITER, ("idle_session_timeout = '1s'", "transaction_timeout = '10s'")),
            (READER, ("datestyle = 'German'", "timezone = 'America/St_Johns'", TIMEOUT)),
        ):
            for setting in settings:
                conn.execute(sql.SQL(f"alter role {{}} set {setting}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("alter database {} owner to {}").format(*map(sql.Identifier, (pair.new_name, WRITER))))
    with migrated.old() as old:
        old.execute(sql.SQL("grant usage on schema public to {}").format(sql.Identifier(READER)))
        old.execute(sql.SQL("grant select on all tables in schema public to {}").format(sql.Identifier(READER)))
    yield pair
    drop_new(server, pair)
    with migrated.old() as old:
        old.execute(sql.SQL("drop owned by {}").format(sql.Identifier(READER)))
    with server.admin() as conn:
        for role in (READER, WRITER):
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_roles_with_their_own_date_style_migrate_as_the_defaults_do(
    server: Server, migrated: Databases, odd_sessions: Databases
) -> None:
    env = odd_sessions.env(
        OLD_DATABASE_URL=server.url(migrated.old_name, READER),
        NEW_DATABASE_URL=server.url(odd_sessions.new_name, WRITER),
    )
    with migrated.new() as plain:
        expected = canonical(plain)
        expected_evidence = sorted(row[0] for row in plain.execute(EVIDENCE))
    assert expected["orders"], "the migrated pair holds no orders: the comparison would prove nothing"
    assert expected_evidence, "no order predates its user's registration: the evidence goes unchecked"
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) for day in expected_evidence), expected_evidence[:3]

    run_module("loader", "migrate", env=env)
    with odd_sessions.new() as odd:
        assert canonical(odd) == expected
        assert sorted(row[0] for row in odd.execute(EVIDENCE)) == expected_evidence
        written = target_fingerprints(odd)

    # The second engine on the same roles agrees row for row, so its run rewrites no row of the target.
    run_module("loader", "migrate", "--engine", "dask", env=env)
    with odd_sessions.new() as odd:
        assert target_fingerprints(odd) == written
        assert canonical(odd) == expected
        assert sorted(row[0] for row in odd.execute(EVIDENCE)) == expected_evidence


def test_every_kind_of_session_makes_the_pipelines_settings(
    server: Server, migrated: Databases, odd_sessions: Databases
) -> None:
    url = make_url(server.url(odd_sessions.new_name, WRITER))
    assert isinstance(url, URL)
    database = Database("NEW", url.set(drivername="postgresql+psycopg"), "url")
    expected = ("ISO, YMD", "0", "0", "0", "0", "off")
    assert len(expected) == len(SESSION_SETTINGS)
    with closing(connect(database)) as conn:
        assert conn.info.transaction_status.name == "IDLE"  # the settings' own transaction is over
        row = conn.execute(SETTINGS).fetchone()
        assert row == expected
    with closing(connect_for_copy(database)) as copy_conn, copy_conn.cursor() as cursor:
        cursor.execute(SETTINGS)
        assert cursor.fetchone() == expected
    publish = engine(database)
    with publish.connect() as conn:
        row = conn.execute(text(SETTINGS)).one()
        assert tuple(row) == expected
    publish.dispose()
    # The schema's upgrades (Alembic's environment builds its own engine): seen from inside the first CREATE TABLE.
    seen: list[tuple[str, ...]] = []

    def look(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE") and not seen:
            with closing(cursor.connection.cursor()) as inside:
                inside.execute(SETTINGS)
                seen.append(tuple(inside.fetchone()))

    event.listen(Engine, "before_cursor_execute", look)
    try:
        upgrade_schema(Settings(database, database))
    finally:
        event.remove(Engine, "before_cursor_execute", look)
    assert seen == [expected]
    # dbt's sessions: PGOPTIONS, which wins over the role's settings.
    options = dbt_environment(Settings(database, database))["PGOPTIONS"]
    with closing(psycopg2.connect(database.libpq_url(), options=options)) as dbt_conn, dbt_conn.cursor() as cursor:
        cursor.execute(SETTINGS)
        assert cursor.fetchone() == expected
