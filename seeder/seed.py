"""Create the legacy tables in old_bad_db and fill them, in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from loader.cli_errors import PipelineError
from loader.config import Database
from loader.db import connect
from loader.legacy_schema import LEGACY_SCHEMA, create_table_sql, required_columns
from seeder.generate import Row, Sizes, generate


class LegacyDataExists(PipelineError):
    """The legacy database already holds data; the seeder never overwrites it unless told to."""


@dataclass(frozen=True)
class SeedResult:
    rows: dict[str, int]


def legacy_row_counts(conn: psycopg.Connection) -> dict[str, int | None]:
    """Rows per legacy table; None where the table does not exist."""
    counts: dict[str, int | None] = {}
    for table in LEGACY_SCHEMA:
        exists = conn.execute("select to_regclass(%s) is not null", (f"public.{table}",)).fetchone()
        if exists and exists[0]:
            row = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(table))).fetchone()
            counts[table] = int(row[0]) if row else 0
        else:
            counts[table] = None
    return counts


def _copy_rows(cur: psycopg.Cursor, table: str, rows: Iterable[Row]) -> int:
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, required_columns(table)))
    )
    count = 0
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def seed(database: Database, *, seed_value: int, sizes: Sizes, replace: bool) -> SeedResult:
    users, products, orders = generate(seed_value, sizes)
    with connect(database) as conn:
        existing = legacy_row_counts(conn)
        filled = {table: n for table, n in existing.items() if n}
        if filled and not replace:
            listed = ", ".join(f"{table} ({n} rows)" for table, n in filled.items())
            raise LegacyDataExists(
                f"{database.describe()} already holds legacy data: {listed}; "
                "the seeder leaves it alone (make seed REPLACE=1 drops and regenerates it)"
            )
        with conn.cursor() as cur:
            for table in LEGACY_SCHEMA:
                cur.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(table)))
                cur.execute(create_table_sql(table))
            written = {
                "old_users": _copy_rows(cur, "old_users", users),
                "old_products": _copy_rows(cur, "old_products", products),
                "old_orders": _copy_rows(cur, "old_orders", orders),
            }
            for table in LEGACY_SCHEMA:
                cur.execute(sql.SQL("analyze {}").format(sql.Identifier(table)))
    return SeedResult(rows=written)
