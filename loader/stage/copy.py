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
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing, suppress
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, Protocol

import psycopg2.extensions
from psycopg2 import sql
from tqdm import tqdm

from loader.core.config import Settings
from loader.core.contract import CORRECTIONS_TABLE, SNAPSHOT_TABLE, STAGING_SCHEMA
from loader.core.db import connect_for_copy
from loader.core.errors import PipelineError
from loader.core.legacy_schema import (
    DEFAULT_LEGACY_SCHEMA,
    LEGACY_SCHEMA,
    ColumnContract,
    catalogue_family,
    column_contracts,
    qualified_name,
    quote_identifier,
    required_columns,
)
from loader.core.log import progress_bar
from loader.stage.corrections import CorrectionFile, copy_corrections, read_corrections

LOADING_SUFFIX = "__loading"
# One row: when the legacy snapshot was taken, on the legacy server's clock and in its time zone (the legacy
# timestamps carry none; rules that compare with "now", like an order dated in the future, use this instead),
# the rows copied per legacy table, and the rows the legacy server's statistics counted in each when the copy
# ended (0 where it keeps none). The snapshot table is logged while the staging tables are UNLOGGED (see
# _copy_table), and publish compares the two, so a staging table emptied by crash recovery can never pass for
# an empty legacy table.
# Big enough that the per-block Python (a read, a newline count, a progress update) costs nothing per row.
PIPE_BLOCK = 1 << 16


class LegacySchemaError(PipelineError):
    """The legacy database is not in the shape the pipeline migrates."""


class LegacyChangedUnderStage(PipelineError):
    """A legacy table was emptied, truncated or replaced while the stage read it; nothing was swapped in."""


class _Connection(Protocol):
    """What the schema check needs: psycopg 3 and psycopg2 connections both fit."""

    def cursor(self) -> Any: ...


@dataclass(frozen=True)
class LegacyColumn:
    """A legacy column as found, and the type its staging copy gets."""

    name: str
    type_sql: str
    # The catalogue's reading: the base type's name (a domain resolved), its category and, for text, its width.
    type_name: str
    category: str
    width: int | None


@dataclass(frozen=True)
class LegacyShape:
    """Every legacy table's columns as they will be staged, and what differs from the documented contract."""

    columns: dict[str, list[LegacyColumn]]
    notes: tuple[str, ...]


def legacy_columns(conn: _Connection, table: str, schema: str = DEFAULT_LEGACY_SCHEMA) -> list[LegacyColumn]:
    """The table's columns in order, with types the target can recreate (built-in types kept, others as text).

    A domain is read as its base type. Both drivers' connections speak UTF8, so names come back as text even
    from a SQL_ASCII server.
    """
    cursor = conn.cursor()
    try:
        cursor.execute(
            """
            with resolved as (
                select attribute.attnum,
                       attribute.attname,
                       coalesce(nullif(column_type.typbasetype, 0), column_type.oid) as type_oid,
                       case when column_type.typbasetype <> 0 then column_type.typtypmod
                            else attribute.atttypmod end as type_modifier
                from pg_attribute as attribute
                inner join pg_type as column_type on column_type.oid = attribute.atttypid
                where attribute.attrelid = to_regclass(%s) and attribute.attnum > 0 and not attribute.attisdropped
            )
            select resolved.attname::text,
                   case when type_namespace.nspname = 'pg_catalog' and base_type.typcategory <> 'A'
                        then format_type(resolved.type_oid, resolved.type_modifier) else 'text' end,
                   base_type.typname::text,
                   base_type.typcategory::text,
                   case when base_type.typname in ('varchar', 'bpchar') and resolved.type_modifier > 4
                        then resolved.type_modifier - 4 end
            from resolved
            inner join pg_type as base_type on base_type.oid = resolved.type_oid
            inner join pg_namespace as type_namespace on type_namespace.oid = base_type.typnamespace
            order by resolved.attnum
            """,
            (qualified_name(schema, table),),
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [
        LegacyColumn(str(name), str(type_sql), str(type_name), str(category), width)
        for name, type_sql, type_name, category, width in rows
    ]


def _similar_tables(conn: _Connection, schema: str, table: str) -> list[str]:
    """Tables whose names differ from `table` only by case, in the legacy schema."""
    cursor = conn.cursor()
    try:
        cursor.execute(
            "select relname::text from pg_class where relkind in ('r', 'p', 'v', 'm', 'f') "
            "and relnamespace = (select oid from pg_namespace where nspname = %s) and lower(relname) = %s "
            "and relname <> %s",
            (schema, table, table),
        )
        return [str(row[0]) for row in cursor.fetchall()]
    finally:
        cursor.close()


def staged_column(table: str, found: LegacyColumn, contract: ColumnContract | None) -> tuple[LegacyColumn, str]:
    """The column as staging keeps it, and a note when it differs from the contract ('' when it does not).

    Contract columns keep their legacy type when it is of the contract's family, whatever its width, so a wider
    value reaches the transform whole (and is rejected there if it does not fit its target column, never cut).
    A contract column of another family is refused, but for contract text: every type has a text form, which is
    what the transform parses. Every other column is staged as its text form too: the ledger keeps extra columns
    as they were, and no type the target cannot recreate can fail the stage.
    """
    where = f"{table}.{found.name}"
    if contract is None:
        return replace(found, type_sql="text"), ""
    family = catalogue_family(found.type_name, found.category)
    if contract.family == "text":
        if family != "text":
            return (
                replace(found, type_sql="text", category="S", width=None),
                f"{where} is {found.type_sql}, the contract says {contract.describe()}: staged as its text form",
            )
        wider = contract.width is not None and (found.width is None or found.width > contract.width)
        note = ""
        if wider:
            note = (
                f"{where} is {found.type_sql}, wider than the contract's {contract.describe()}: carried whole; a "
                "value too long for its target column is rejected with a reason, never cut"
            )
        return found, note
    if family != contract.family:
        raise LegacySchemaError(
            f"legacy column {where} is {found.type_sql}, but the pipeline reads it as {contract.describe()}: "
            "migrate from a copy of the legacy database in which it is one, or point OLD_DATABASE_URL at the "
            "right database"
        )
    note = ""
    if found.type_sql != contract.documented:
        note = f"{where} is {found.type_sql}, the contract says {contract.documented}: staged as {found.type_sql}"
    return found, note


def check_legacy_schema(conn: _Connection, where: str, schema: str = DEFAULT_LEGACY_SCHEMA) -> LegacyShape:
    """Every legacy table with every contract column of the contract's type family (legacy_schema's tables), or
    one error naming what is wrong; extra columns pass (staged as text), and every difference from the contract
    becomes a note."""
    found: dict[str, list[LegacyColumn]] = {}
    notes: list[str] = []
    for table in LEGACY_SCHEMA:
        columns = legacy_columns(conn, table, schema)
        if not columns:
            similar = _similar_tables(conn, schema, table)
            if similar:
                raise LegacySchemaError(
                    f"the legacy schema {schema} of {where} has no table {table}, but has "
                    f"{', '.join(quote_identifier(name) for name in similar)}: the pipeline reads the legacy app's "
                    f"lower-case names exactly; migrate from a copy in which it is named {table}, or set "
                    f"OLD_DB_SCHEMA to the schema that holds {table}"
                )
            raise LegacySchemaError(
                f"the legacy database {where} has no table {table} in schema {schema}; point OLD_DATABASE_URL "
                "(or OLD_DB_*) at the legacy database, set OLD_DB_SCHEMA to the schema that holds it, or run "
                "`make seed` to create the sample one"
            )
        names = {column.name for column in columns}
        missing = [name for name in required_columns(table) if name not in names]
        if missing:
            raise LegacySchemaError(
                f"legacy table {table} in {where} lacks column(s) {', '.join(missing)}; the pipeline migrates "
                f"tables in the legacy app's shape ({', '.join(required_columns(table))}): restore the column(s), "
                "or point OLD_DATABASE_URL at the right database"
            )
        contracts = column_contracts(table)
        staged = []
        for column in columns:
            kept, note = staged_column(table, column, contracts.get(column.name))
            staged.append(kept)
            if note:
                notes.append(note)
        found[table] = staged
    return LegacyShape(found, tuple(notes))


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


def _estimated_rows(source: psycopg2.extensions.connection, table: str, schema: str) -> int | None:
    """The planner's row estimate, for the progress bar only: an exact count would read the table twice."""
    with source.cursor() as cursor:
        cursor.execute("select reltuples from pg_class where oid = to_regclass(%s)", (qualified_name(schema, table),))
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


def _copy_table(
    source: psycopg2.extensions.connection,
    target: psycopg2.extensions.connection,
    table: str,
    columns: list[LegacyColumn],
    position: int = 0,
    schema: str = DEFAULT_LEGACY_SCHEMA,
) -> int:
    """Stream one table into a fresh staging table, created in the target's open transaction."""
    loading = sql.Identifier(STAGING_SCHEMA, table + LOADING_SUFFIX)
    column_list = sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.type_sql)) for column in columns
    )
    legacy = sql.Identifier(schema, table)
    with source.cursor() as cursor:
        cursor.execute("select relkind from pg_class where oid = to_regclass(%s)", (qualified_name(schema, table),))
        kind = cursor.fetchone()
    # COPY reads a plain table directly; a view, a partitioned table or a foreign table only through a query.
    plain = kind is not None and kind[0] == "r"
    copy_from = sql.SQL("{} ({})" if plain else "(select {1} from {0})").format(legacy, column_list)
    copy_out = sql.SQL("copy {} to stdout").format(copy_from).as_string(source)
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
        progress_bar(
            total=_estimated_rows(source, table, schema),
            desc=f"stage {table}",
            unit=" rows",
            position=position,
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


def _swap_in(
    target: psycopg2.extensions.connection,
    counts: Mapping[str, int],
    counted: Mapping[str, int],
    taken_at: object,
    corrections: list[CorrectionFile],
) -> None:
    """Replace the staging tables by the loaded ones and the corrections by the files' current ones, inside the
    target's open transaction."""
    with target.cursor() as cursor:
        cursor.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(STAGING_SCHEMA, CORRECTIONS_TABLE)))
        copy_corrections(cursor, corrections, CORRECTIONS_TABLE)
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
            sql.SQL(
                "create table {} (taken_at timestamp not null, rows_copied jsonb not null, rows_counted jsonb not null)"
            ).format(snapshot)
        )
        cursor.execute(
            sql.SQL("insert into {} values (%s, %s, %s)").format(snapshot),
            (taken_at, json.dumps(dict(counts)), json.dumps(dict(counted))),
        )


# A killed stage's sessions should not run on: the server checks every 2 s that its client is still there (a
# setting of PostgreSQL 14 and newer). A session that waits while others copy (the snapshot's exporter, the watcher,
# a load done early) is not ended by an idle timeout either: no session of the pipeline has one
# (loader.core.db.SESSION_SETTINGS).
STAGE_SESSION = "set client_connection_check_interval = '2s'"


def _keep_session(conn: psycopg2.extensions.connection) -> None:
    """STAGE_SESSION's setting, outside any transaction, on a server that has it."""
    if conn.server_version < 140000:
        return
    autocommit = conn.autocommit
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(STAGE_SESSION)
    conn.autocommit = autocommit


def _open_legacy(settings: Settings, snapshot: str | None = None) -> psycopg2.extensions.connection:
    """A legacy connection in a read-only repeatable-read transaction, on `snapshot` when one is given."""
    source = connect_for_copy(settings.old)
    try:
        _keep_session(source)
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
    target = connect_for_copy(settings.new)
    try:
        _keep_session(target)
    except BaseException:
        target.close()
        raise
    return target


def _load(
    settings: Settings,
    snapshot: str,
    table: str,
    columns: list[LegacyColumn],
    position: int,
    opened: list[psycopg2.extensions.connection],
    schema: str,
) -> int:
    """One table, on connections of its own: the legacy snapshot imported, a fresh loading table committed."""
    with closing(_open_legacy(settings, snapshot)) as source, closing(_open_target(settings)) as target:
        opened += (source, target)
        rows = _copy_table(source, target, table, columns, position, schema)
        target.commit()
    return rows


@dataclass(frozen=True)
class TableIdentity:
    """Which storage a legacy table name points at: a TRUNCATE, a rewrite, or a drop and re-create changes it."""

    oid: int
    filenode: int


def table_identities(watch: psycopg2.extensions.connection, schema: str) -> dict[str, TableIdentity | None]:
    """Each legacy table's identity now (the watcher is in autocommit: every call reads the catalogue afresh)."""
    found: dict[str, TableIdentity | None] = {}
    with watch.cursor() as cursor:
        for table in LEGACY_SCHEMA:
            cursor.execute(
                "select oid::bigint, pg_relation_filenode(oid)::bigint from pg_class where oid = to_regclass(%s)",
                (qualified_name(schema, table),),
            )
            row = cursor.fetchone()
            found[table] = TableIdentity(int(row[0]), int(row[1] or 0)) if row else None
    return found


def _live_rows(watch: psycopg2.extensions.connection, schema: str, table: str) -> int:
    """The server's statistics' count of live rows (not transactional: what the table holds now)."""
    with watch.cursor() as cursor:
        cursor.execute(
            "select coalesce(n_live_tup, 0) from pg_stat_all_tables where relid = to_regclass(%s)",
            (qualified_name(schema, table),),
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def check_read_whole(
    watch: psycopg2.extensions.connection,
    schema: str,
    before: Mapping[str, TableIdentity | None],
    counts: Mapping[str, int],
    where: str,
) -> dict[str, int]:
    """Refuse a stage whose legacy tables changed storage while it read them; return the rows the server's
    statistics count in each table now, for publish's mass-change gate.

    TRUNCATE is not MVCC-safe: a table truncated and refilled by another session after the stage's snapshot was
    taken reads as empty in that snapshot, and migrating that would delete every target row of the table. A
    truncate, a rewrite, or a drop and re-create gives the table new storage, which the identities before and
    after the copy show: that stage is refused. A reload in several transactions (the truncate committed before
    the stage began, the refill after its snapshot) leaves a consistent snapshot of a part-filled table, which
    the statistics (kept outside any snapshot, seconds behind at most) may count more rows in; as statistics can
    also be stale, that is for a person to judge, and publish's mass-change gate asks one.
    """
    after = table_identities(watch, schema)
    changed = [table for table in LEGACY_SCHEMA if before.get(table) != after.get(table)]
    if changed:
        raise LegacyChangedUnderStage(
            f"legacy table(s) {', '.join(changed)} in {where} were truncated, rewritten or replaced by another "
            "session while the stage read them (a reload in progress?); nothing was staged: run again once the "
            "reload is done"
        )
    if counts and not any(counts.values()):
        raise no_legacy_rows(where)
    return {table: _live_rows(watch, schema, table) for table in counts}


def no_legacy_rows(where: str) -> LegacySchemaError:
    return LegacySchemaError(
        f"the legacy tables in {where} hold no rows: nothing to migrate, and migrating nothing would empty "
        "the target; point OLD_DATABASE_URL at the legacy database (or run `make seed` for the demo)"
    )


def require_legacy_rows(conn: _Connection, where: str, schema: str) -> None:
    """Refuse a legacy database whose tables are all empty: one row in any table will do, no table is counted."""
    cursor = conn.cursor()
    try:
        for table in LEGACY_SCHEMA:
            cursor.execute(f"select exists (select from {qualified_name(schema, table)})")
            row = cursor.fetchone()
            if row and row[0]:
                return
    finally:
        cursor.close()
    raise no_legacy_rows(where)


def _drop_loading(target: psycopg2.extensions.connection, tables: Mapping[str, object]) -> None:
    """Remove the loading tables of a failed stage; a killed one's are removed by the next stage's loads."""
    target.rollback()
    with target.cursor() as cursor:
        for table in tables:
            loading = sql.Identifier(STAGING_SCHEMA, table + LOADING_SUFFIX)
            cursor.execute(sql.SQL("drop table if exists {}").format(loading))
    target.commit()


def stage(
    settings: Settings, schema: str = DEFAULT_LEGACY_SCHEMA, before_commit: Callable[[], None] | None = None
) -> dict[str, int]:
    """Copy every legacy table into staging, swapped in atomically; return rows copied per table.

    The legacy side reads in read-only repeatable-read transactions that share one exported snapshot, so all
    tables come from one moment of the legacy database, and the schema check reads its catalogue in that same
    snapshot first. On the target each table loads into a fresh `<table>__loading` table that nothing reads;
    one transaction then drops the old staging tables and renames the new ones into place. A failure or a kill
    at any point before that commit leaves the previous staging tables as they were (at worst a loading table
    stays behind, which the next stage replaces), and a reader never sees half a table. A legacy table
    truncated or replaced while the stage reads it stops the stage before the swap (`check_read_whole`), and so
    does `before_commit` when it raises (the pipeline checks its run lock there). The per-row corrections files
    are read and checked before anything connects, and copied into `staging.corrections` in the swap's
    transaction, so they belong to the same staging.
    """
    where = settings.old.describe()
    # Before anything connects: a corrections file that cannot be read stops the stage with nothing written.
    corrections = read_corrections(settings.corrections_dir)
    with (
        # closing(): a psycopg2 connection's own `with` ends a transaction but leaves the connection open.
        closing(connect_for_copy(settings.old)) as watch,
        closing(_open_legacy(settings)) as source,
        closing(_open_target(settings)) as target,
    ):
        _keep_session(watch)
        watch.set_session(readonly=True, autocommit=True)
        # Before the snapshot: any change of storage from here to the end of the copy shows in check_read_whole.
        before = table_identities(watch, schema)
        with source.cursor() as cursor:
            # The first statement fixes the snapshot; the loads import it, and this transaction, which exported
            # it, stays open until they are done.
            cursor.execute("select localtimestamp, pg_export_snapshot()")
            row = cursor.fetchone()
            assert row is not None
            taken_at, snapshot = row
        tables = check_legacy_schema(source, where, schema).columns
        with target.cursor() as cursor:
            cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(STAGING_SCHEMA)))
        target.commit()
        opened: list[psycopg2.extensions.connection] = []
        pool = ThreadPoolExecutor(max_workers=len(tables), thread_name_prefix="stage")
        try:
            loads = {
                table: pool.submit(_load, settings, str(snapshot), table, columns, position, opened, schema)
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
        try:
            counted = check_read_whole(watch, schema, before, counts, where)
            if before_commit is not None:
                before_commit()
        except BaseException:
            _drop_loading(target, tables)
            raise
        try:
            _swap_in(target, counts, counted, taken_at, corrections)
        except BaseException:
            _drop_loading(target, tables)
            raise
        target.commit()
        source.rollback()
    return counts
