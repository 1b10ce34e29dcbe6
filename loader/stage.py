"""Stage: stream the legacy tables into new_good_db's staging schema with COPY, from one consistent snapshot.

Each table goes `COPY … TO STDOUT` on the legacy server -> an OS pipe -> `COPY … FROM STDIN` on the target,
with psycopg2's copy_expert on both ends: a thread writes the legacy rows into the pipe while another feeds
the pipe to the target in 64 KiB blocks. No row is held in Python, so memory stays flat whatever the size,
and no Python code runs per row (psycopg 3's COPY iterates row by row in Python, twice as slow).

The tables load side by side, each on its own pair of connections; the legacy ones all read the snapshot the
first one exported, so together they read one consistent legacy database. Each loads into a fresh table of
its own, and one transaction on the target then swaps them all in.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing, suppress
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import psycopg2.extensions
from psycopg2 import sql
from tqdm import tqdm

from loader.cli_errors import PipelineError
from loader.config import Settings
from loader.db import connect_for_copy
from loader.legacy_schema import LEGACY_SCHEMA, required_columns

STAGING_SCHEMA = "staging"
LOADING_SUFFIX = "__loading"
# One row: when the legacy snapshot was taken, on the legacy server's clock and in its time zone (the legacy
# timestamps carry none; rules that compare with "now", like an order dated in the future, use this instead),
# and the rows copied per legacy table. The snapshot table is logged while the staging tables are UNLOGGED (see
# _copy_table), and publish compares the two, so a staging table emptied by crash recovery can never pass for
# an empty legacy table.
SNAPSHOT_TABLE = "legacy_snapshot"
# Big enough that the per-block Python (a read, a newline count, a progress update) costs nothing per row.
PIPE_BLOCK = 1 << 16


class LegacySchemaError(PipelineError):
    """The legacy database is not in the shape the pipeline migrates."""


class _Connection(Protocol):
    """What the schema check needs: psycopg 3 and psycopg2 connections both fit."""

    def cursor(self) -> Any: ...


@dataclass(frozen=True)
class LegacyColumn:
    name: str
    type_sql: str


def legacy_columns(conn: _Connection, table: str) -> list[LegacyColumn]:
    """The table's columns in order, with types the target can recreate (built-in types kept, others as text)."""
    cursor = conn.cursor()
    try:
        cursor.execute(
            """
            select attribute.attname,
                   case when type_namespace.nspname = 'pg_catalog'
                        then format_type(attribute.atttypid, attribute.atttypmod) else 'text' end
            from pg_attribute as attribute
            inner join pg_type as column_type on column_type.oid = attribute.atttypid
            inner join pg_namespace as type_namespace on type_namespace.oid = column_type.typnamespace
            where attribute.attrelid = to_regclass(%s) and attribute.attnum > 0 and not attribute.attisdropped
            order by attribute.attnum
            """,
            (sql_quoted_name(table),),
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [LegacyColumn(str(name), str(type_sql)) for name, type_sql in rows]


def sql_quoted_name(table: str) -> str:
    """The table's name as to_regclass reads it: quoted, so a name is never taken for an expression."""
    return '"' + table.replace('"', '""') + '"'


def check_legacy_schema(conn: _Connection, where: str) -> dict[str, list[LegacyColumn]]:
    """Every legacy table with every contract column, or one error naming what is missing; extra columns pass."""
    found: dict[str, list[LegacyColumn]] = {}
    for table in LEGACY_SCHEMA:
        columns = legacy_columns(conn, table)
        if not columns:
            raise LegacySchemaError(
                f"the legacy database {where} has no table {table}; point OLD_DATABASE_URL (or OLD_DB_*) at the "
                "legacy database, or run `make seed` to create a sample one"
            )
        names = {column.name for column in columns}
        missing = [name for name in required_columns(table) if name not in names]
        if missing:
            raise LegacySchemaError(
                f"legacy table {table} in {where} lacks column(s) {', '.join(missing)}; the pipeline migrates "
                f"tables in the legacy app's shape ({', '.join(required_columns(table))}): restore the column(s), "
                "or point OLD_DATABASE_URL at the right database"
            )
        found[table] = columns
    return found


class _CountingReader:
    """The pipe's read end as copy_expert reads it, counting rows (newlines) and moving the progress bar."""

    def __init__(self, pipe: BinaryIO, progress: tqdm[Any]) -> None:
        self.pipe = pipe
        self.progress = progress
        self.rows = 0

    def read(self, size: int = PIPE_BLOCK) -> bytes:
        block = self.pipe.read(size)
        # In COPY's text format every row ends in a newline, and a newline inside a value is written as \n.
        rows = block.count(b"\n")
        self.rows += rows
        self.progress.update(rows)
        return block

    def readline(self, size: int = -1) -> bytes:  # part of the file protocol copy_expert checks for
        return self.pipe.readline(size)


def _estimated_rows(source: psycopg2.extensions.connection, table: str) -> int | None:
    """The planner's row estimate, for the progress bar only: an exact count would read the table twice."""
    with source.cursor() as cursor:
        cursor.execute("select reltuples from pg_class where oid = to_regclass(%s)", (sql_quoted_name(table),))
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


def _copy_table(
    source: psycopg2.extensions.connection,
    target: psycopg2.extensions.connection,
    table: str,
    columns: list[LegacyColumn],
    position: int = 0,
) -> int:
    """Stream one table into a fresh staging table, created in the target's open transaction."""
    loading = sql.Identifier(STAGING_SCHEMA, table + LOADING_SUFFIX)
    column_list = sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.type_sql)) for column in columns
    )
    copy_out = sql.SQL("copy {} ({}) to stdout").format(sql.Identifier(table), column_list).as_string(source)
    # FREEZE: the table is new in this transaction, so its rows can be written frozen; dbt's first read then
    # need not rewrite every page to set hint bits. Nobody else can see the table before the swap commits.
    copy_in = sql.SQL("copy {} ({}) from stdin with (freeze)").format(loading, column_list).as_string(target)
    with target.cursor() as cursor:
        cursor.execute(sql.SQL("drop table if exists {}").format(loading))
        # UNLOGGED: staging is a copy the next stage remakes from the legacy database, so writing it to the WAL
        # as well (a third of the copy's time) buys nothing. The price: crash recovery empties unlogged tables,
        # which the snapshot table's row counts let publish detect; a killed stage, or a clean restart, loses nothing.
        cursor.execute(sql.SQL("create unlogged table {} ({})").format(loading, definitions))

    read_fd, write_fd = os.pipe()
    pipe_in = os.fdopen(write_fd, "wb", buffering=PIPE_BLOCK)
    failure: list[BaseException] = []
    sent = [0]

    def send() -> None:
        try:
            with pipe_in, source.cursor() as cursor:
                cursor.copy_expert(copy_out, pipe_in, size=PIPE_BLOCK)
                sent[0] = cursor.rowcount
        except BaseException as exc:  # handed to the main thread, which raises it
            failure.append(exc)

    sender = threading.Thread(target=send, name=f"copy {table} out", daemon=True)
    with (
        os.fdopen(read_fd, "rb", buffering=PIPE_BLOCK) as pipe_out,
        tqdm(
            total=_estimated_rows(source, table),
            desc=f"stage {table}",
            unit=" rows",
            position=position,
            leave=False,
            disable=None,
        ) as progress,
    ):
        reader = _CountingReader(pipe_out, progress)
        sender.start()
        try:
            with target.cursor() as cursor:
                cursor.copy_expert(copy_in, reader, size=PIPE_BLOCK)
                received = int(cursor.rowcount)
        finally:
            # If the target side failed, closing the pipe's read end stops the sender with a broken pipe.
            pipe_out.close()
            sender.join()
    if failure:
        # The sender ended early, so the target saw a short stream; its transaction is never committed.
        raise failure[0]
    if not sent[0] == received == reader.rows:
        raise PipelineError(
            f"staging {table}: the legacy server sent {sent[0]} rows, the target took {received} and the pipe "
            f"carried {reader.rows}; nothing was swapped in"
        )
    return received


def _swap_in(target: psycopg2.extensions.connection, counts: Mapping[str, int], taken_at: object) -> None:
    """Replace the staging tables by the loaded ones, inside the target's open transaction."""
    with target.cursor() as cursor:
        for table in counts:
            final = sql.Identifier(STAGING_SCHEMA, table)
            cursor.execute(sql.SQL("drop table if exists {}").format(final))
            cursor.execute(
                sql.SQL("alter table {} rename to {}").format(
                    sql.Identifier(STAGING_SCHEMA, table + LOADING_SUFFIX), sql.Identifier(table)
                )
            )
            # No ANALYZE (a third of the stage's time at a million rows): dbt's staging models read these tables
            # whole, one at a time, and join only their own tables; the planner sizes an unanalyzed table by its
            # pages, and autovacuum analyzes it soon after.
        snapshot = sql.Identifier(STAGING_SCHEMA, SNAPSHOT_TABLE)
        cursor.execute(sql.SQL("drop table if exists {}").format(snapshot))
        cursor.execute(
            sql.SQL("create table {} (taken_at timestamp not null, rows_copied jsonb not null)").format(snapshot)
        )
        cursor.execute(sql.SQL("insert into {} values (%s, %s)").format(snapshot), (taken_at, json.dumps(dict(counts))))


# A killed stage's sessions should not run on: the server checks every 2 s that its client is still there.
CHECK_CLIENT = "set client_connection_check_interval = '2s'"


def _open_legacy(settings: Settings, snapshot: str | None = None) -> psycopg2.extensions.connection:
    """A legacy connection in a read-only repeatable-read transaction, on `snapshot` when one is given."""
    source = connect_for_copy(settings.old)
    try:
        if source.server_version >= 140000:
            # An older legacy server lacks the setting; there a killed stage's COPY ends when it next sends rows.
            source.autocommit = True
            with source.cursor() as cursor:
                cursor.execute(CHECK_CLIENT)
            source.autocommit = False
        source.set_session(isolation_level="REPEATABLE READ", readonly=True)
        if snapshot is not None:
            with source.cursor() as cursor:
                # Must be the transaction's first statement: every read after it sees the exporter's snapshot.
                cursor.execute("set transaction snapshot %s", (snapshot,))
    except BaseException:
        source.close()
        raise
    return source


def _open_target(settings: Settings) -> psycopg2.extensions.connection:
    return connect_for_copy(settings.new, options="-c client_connection_check_interval=2s")


def _load(
    settings: Settings,
    snapshot: str,
    table: str,
    columns: list[LegacyColumn],
    position: int,
    opened: list[psycopg2.extensions.connection],
) -> int:
    """One table, on connections of its own: the legacy snapshot imported, a fresh loading table committed."""
    with closing(_open_legacy(settings, snapshot)) as source, closing(_open_target(settings)) as target:
        opened += (source, target)
        rows = _copy_table(source, target, table, columns, position)
        target.commit()
    return rows


def _drop_loading(target: psycopg2.extensions.connection, tables: Mapping[str, object]) -> None:
    """Remove the loading tables of a failed stage; a killed one's are removed by the next stage's loads."""
    target.rollback()
    with target.cursor() as cursor:
        for table in tables:
            loading = sql.Identifier(STAGING_SCHEMA, table + LOADING_SUFFIX)
            cursor.execute(sql.SQL("drop table if exists {}").format(loading))
    target.commit()


def stage(settings: Settings) -> dict[str, int]:
    """Copy every legacy table into staging, swapped in atomically; return rows copied per table.

    The legacy side reads in read-only repeatable-read transactions that share one exported snapshot, so all
    tables come from one moment of the legacy database, and the schema check reads its catalogue in that same
    snapshot first. On the target each table loads into a fresh `<table>__loading` table that nothing reads;
    one transaction then drops the old staging tables and renames the new ones into place. A failure or a kill
    at any point before that commit leaves the previous staging tables as they were (at worst a loading table
    stays behind, which the next stage replaces), and a reader never sees half a table.
    """
    where = settings.old.describe()
    with (
        # closing(): a psycopg2 connection's own `with` ends a transaction but leaves the connection open.
        closing(_open_legacy(settings)) as source,
        closing(_open_target(settings)) as target,
    ):
        with source.cursor() as cursor:
            # The first statement fixes the snapshot; the loads import it, and this transaction, which exported
            # it, stays open until they are done.
            cursor.execute("select localtimestamp, pg_export_snapshot()")
            row = cursor.fetchone()
            assert row is not None
            taken_at, snapshot = row
        tables = check_legacy_schema(source, where)
        with target.cursor() as cursor:
            cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(STAGING_SCHEMA)))
        target.commit()
        opened: list[psycopg2.extensions.connection] = []
        pool = ThreadPoolExecutor(max_workers=len(tables), thread_name_prefix="stage")
        try:
            loads = {
                table: pool.submit(_load, settings, str(snapshot), table, columns, position, opened)
                for position, (table, columns) in enumerate(tables.items())
            }
            wait(loads.values())
        except BaseException:
            # Interrupted (Ctrl-C): stop the loads' COPY statements now rather than when they would have ended.
            for conn in opened:
                with suppress(psycopg2.Error):
                    conn.cancel()
            pool.shutdown(wait=True)
            _drop_loading(target, tables)
            raise
        pool.shutdown(wait=True)
        failures = [failure for load in loads.values() if (failure := load.exception()) is not None]
        if failures:
            _drop_loading(target, tables)
            raise failures[0]
        counts = {table: load.result() for table, load in loads.items()}
        _swap_in(target, counts, taken_at)
        target.commit()
        source.rollback()
    return counts
