"""Stage: stream the legacy tables into new_good_db's staging schema with COPY, from one consistent snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import IsolationLevel, sql
from tqdm import tqdm

from loader.cli_errors import PipelineError
from loader.config import Settings
from loader.db import connect
from loader.legacy_schema import LEGACY_SCHEMA, required_columns

STAGING_SCHEMA = "staging"
LOADING_SUFFIX = "__loading"
# One row: when the legacy snapshot was taken, on the legacy server's clock and in its time zone (the legacy
# timestamps carry none). Rules that compare with "now", like an order dated in the future, use this instead.
SNAPSHOT_TABLE = "legacy_snapshot"


class LegacySchemaError(PipelineError):
    """The legacy database is not in the shape the pipeline migrates."""


@dataclass(frozen=True)
class LegacyColumn:
    name: str
    type_sql: str


def legacy_columns(conn: psycopg.Connection[Any], table: str) -> list[LegacyColumn]:
    """The table's columns in order, with types the target can recreate (built-in types kept, others as text)."""
    rows = conn.execute(
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
        (table,),
    ).fetchall()
    return [LegacyColumn(name, type_sql) for name, type_sql in rows]


def check_legacy_schema(conn: psycopg.Connection[Any], where: str) -> dict[str, list[LegacyColumn]]:
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


def _copy_table(
    source: psycopg.Connection[Any], target: psycopg.Connection[Any], table: str, columns: list[LegacyColumn]
) -> int:
    """Stream one table: legacy COPY TO STDOUT piped into a fresh staging table's COPY FROM STDIN."""
    loading = sql.Identifier(STAGING_SCHEMA, table + LOADING_SUFFIX)
    column_list = sql.SQL(", ").join(sql.Identifier(column.name) for column in columns)
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.type_sql)) for column in columns
    )
    target.execute(sql.SQL("drop table if exists {}").format(loading))
    target.execute(sql.SQL("create table {} ({})").format(loading, definitions))
    expected = source.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(table))).fetchone()
    total = int(expected[0]) if expected else 0
    copied = 0
    with (
        source.cursor() as reader,
        target.cursor() as writer,
        reader.copy(sql.SQL("copy {} ({}) to stdout").format(sql.Identifier(table), column_list)) as out,
        writer.copy(sql.SQL("copy {} ({}) from stdin").format(loading, column_list)) as into,
        tqdm(total=total, desc=f"stage {table}", unit=" rows", leave=False, disable=None) as progress,
    ):
        for chunk in out:
            into.write(chunk)
            # In COPY's text format every row ends in a newline, and newlines inside values are escaped.
            rows = bytes(chunk).count(b"\n")
            copied += rows
            progress.update(rows)
    if copied != total:
        raise PipelineError(f"staging {table}: copied {copied} rows but the snapshot holds {total}; nothing swapped")
    return copied


def stage(settings: Settings) -> dict[str, int]:
    """Copy every legacy table into staging, swapped in atomically; return rows copied per table.

    The legacy side runs in one read-only repeatable-read transaction, so all tables come from one snapshot.
    The target side is one transaction too: a failure or kill leaves the previous staging tables untouched.
    """
    where = settings.old.describe()
    with connect(settings.old) as source, connect(settings.new) as target:
        source.isolation_level = IsolationLevel.REPEATABLE_READ
        source.read_only = True
        tables = check_legacy_schema(source, where)
        taken = source.execute("select localtimestamp").fetchone()
        counts: dict[str, int] = {}
        with target.transaction():
            target.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(STAGING_SCHEMA)))
            for table, columns in tables.items():
                counts[table] = _copy_table(source, target, table, columns)
            for table in tables:
                final = sql.Identifier(STAGING_SCHEMA, table)
                target.execute(sql.SQL("drop table if exists {}").format(final))
                target.execute(
                    sql.SQL("alter table {} rename to {}").format(
                        sql.Identifier(STAGING_SCHEMA, table + LOADING_SUFFIX), sql.Identifier(table)
                    )
                )
                target.execute(sql.SQL("analyze {}").format(final))
            snapshot = sql.Identifier(STAGING_SCHEMA, SNAPSHOT_TABLE)
            target.execute(sql.SQL("drop table if exists {}").format(snapshot))
            target.execute(sql.SQL("create table {} (taken_at timestamp not null)").format(snapshot))
            target.execute(sql.SQL("insert into {} values (%s)").format(snapshot), (taken[0] if taken else None,))
        source.rollback()
    return counts
