"""Create the legacy tables and the answer key in old_bad_db and fill them, in one transaction, with COPY."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from loader.core.config import Database
from loader.core.contract import LegacyTableName
from loader.core.db import connect
from loader.core.errors import PipelineError
from loader.core.legacy_schema import (
    DEFAULT_LEGACY_SCHEMA,
    LEGACY_SCHEMA,
    create_table_sql,
    qualified_name,
    required_columns,
)
from loader.core.log import progress_bar
from seeder import answer_key
from seeder.catalogue import DEFAULT_PROFILE, Profile
from seeder.generate import Row, Sizes, generate


class LegacyDataExists(PipelineError):
    """The legacy database already holds data; the seeder never overwrites it unless told to."""


class NotADemoDatabase(PipelineError):
    """The seeder was pointed at a database it must not write generated data into."""


@dataclass(frozen=True)
class SeedResult:
    rows: Mapping[LegacyTableName, int]
    answer_rows: int = 0
    double_submits_settled: int = 0


def legacy_row_counts(conn: psycopg.Connection, schema: str = DEFAULT_LEGACY_SCHEMA) -> dict[str, int | None]:
    """Rows per legacy table in the schema; None where the table does not exist."""
    counts: dict[str, int | None] = {}
    for table in LEGACY_SCHEMA:
        exists = conn.execute("select to_regclass(%s) is not null", (qualified_name(schema, table),)).fetchone()
        if exists and exists[0]:
            row = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))).fetchone()
            counts[table] = int(row[0]) if row else 0
        else:
            counts[table] = None
    return counts


def _copy_rows(cur: psycopg.Cursor, target: sql.Composable, columns: Iterable[str], rows: Iterable[Row]) -> int:
    statement = sql.SQL("copy {} ({}) from stdin").format(target, sql.SQL(", ").join(map(sql.Identifier, columns)))
    count = 0
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def require_utf8(conn: psycopg.Connection, database: Database) -> None:
    """Generated names and addresses hold characters of every script: only a UTF8 database stores them all."""
    row = conn.execute("select pg_encoding_to_char(encoding) from pg_database where datname = current_database()")
    encoding = str((row.fetchone() or ("?",))[0])
    if encoding != "UTF8":
        raise NotADemoDatabase(
            f"{database.describe()} is encoded {encoding}, and the generated demo data holds characters it cannot "
            f"store; create the demo database with encoding UTF8 (createdb -E UTF8 -T template0 {database.name})"
        )


def seed(
    database: Database,
    *,
    seed_value: int,
    sizes: Sizes,
    replace: bool,
    profile: Profile = DEFAULT_PROFILE,
    schema: str = DEFAULT_LEGACY_SCHEMA,
) -> SeedResult:
    """Write the legacy tables and their answer key; refuse to touch a legacy database that holds data.

    Every statement names the schema, so a search_path that starts elsewhere can neither receive the tables nor
    have a table of the same name dropped.
    """
    with connect(database) as conn:
        require_utf8(conn, database)
        existing = legacy_row_counts(conn, schema)
        filled = {table: n for table, n in existing.items() if n}
        if filled and not replace:
            listed = ", ".join(f"{table} ({n} rows)" for table, n in filled.items())
            raise LegacyDataExists(
                f"{database.describe()} already holds legacy data: {listed}; "
                "the seeder leaves it alone (make seed REPLACE=1 drops and regenerates it)"
            )
        written = dict.fromkeys(LEGACY_SCHEMA, 0)
        answers = 0
        with (
            conn.cursor() as cur,
            progress_bar(total=sizes.total, desc="seed", unit=" rows", unit_scale=True) as bar,
        ):
            cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            for table in LEGACY_SCHEMA:
                cur.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(schema, table)))
                cur.execute(create_table_sql(table, schema))
            answer_key.create(conn)
            for chunk in generate(seed_value, sizes, profile):
                bar.set_description(f"seed {chunk.table}", refresh=False)
                written[chunk.table] += _copy_rows(
                    cur, sql.Identifier(schema, chunk.table), required_columns(chunk.table), chunk.legacy_rows
                )
                answers += _copy_rows(
                    cur,
                    answer_key.table_name(chunk.table),
                    answer_key.ANSWER_COLUMNS[chunk.table],
                    chunk.answer_rows,
                )
                bar.update(len(chunk.legacy_rows))
            answer_key.index_after_load(conn)
            settled = answer_key.settle_double_submits(conn, schema)
            meta = {
                "seed": str(seed_value),
                "size": str(sizes.orders),
                "profile": profile,
                "rules": "docs/cleaning-rules.md",
                "catalogue": "docs/dirt-catalogue.md",
                "double_submits_settled_in_sql": str(settled),
                **{f"rows_{table}": str(n) for table, n in written.items()},
            }
            answer_key.write_catalogue(conn, profile, meta)
            for table in LEGACY_SCHEMA:
                cur.execute(sql.SQL("analyze {}").format(sql.Identifier(schema, table)))
    return SeedResult(rows=written, answer_rows=answers, double_submits_settled=settled)
