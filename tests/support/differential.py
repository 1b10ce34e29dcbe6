"""The differential test's comparison: dbt's outputs set aside, then each table compared with the pandas engine's."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from loader.core.contract import MART_SCHEMA, QUARANTINE_SCHEMA

TABLES = (
    (MART_SCHEMA, "users"),
    (MART_SCHEMA, "addresses"),
    (MART_SCHEMA, "product_categories"),
    (MART_SCHEMA, "products"),
    (MART_SCHEMA, "orders"),
    (MART_SCHEMA, "order_items"),
    (QUARANTINE_SCHEMA, "rejects"),
    (QUARANTINE_SCHEMA, "warnings"),
)


def column_types(conn: psycopg.Connection[Any], schema: str, table: str) -> list[tuple[str, str, bool]]:
    return [
        (str(name), str(type_sql), bool(not_null))
        for name, type_sql, not_null in conn.execute(
            "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute "
            "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
            (f"{schema}.{table}",),
        )
    ]


def set_aside_dbt_outputs(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[str, str, bool]]]:
    """Copy what dbt wrote into the REFERENCE schema, before the pandas engine replaces it; return its columns."""
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(REFERENCE)))
    columns = {}
    for schema, table in TABLES:
        columns[table] = column_types(conn, schema, table)
        conn.execute(
            sql.SQL("create table {} as select * from {}").format(
                sql.Identifier(REFERENCE, f"{schema}__{table}"), sql.Identifier(schema, table)
            )
        )
    return columns


def table_differences(conn: psycopg.Connection[Any], schema: str, table: str) -> str:
    """What one engine wrote and the other did not, readably; '' when the two tables hold the same rows."""
    reference, candidate = sql.Identifier(REFERENCE, f"{schema}__{table}"), sql.Identifier(schema, table)
    missing, missing_rows = _only_in(conn, reference, candidate)
    extra, extra_rows = _only_in(conn, candidate, reference)
    if not missing and not extra:
        return ""
    lines = [f"{schema}.{table}: {missing} rows only from dbt, {extra} rows only from pandas"]
    lines += [f"  dbt only:    {row}" for row in missing_rows]
    lines += [f"  pandas only: {row}" for row in extra_rows]
    return "\n".join(lines)


REFERENCE = "dbt_reference"


def _only_in(conn: psycopg.Connection[Any], left: sql.Composable, right: sql.Composable) -> tuple[int, list[str]]:
    query = sql.SQL(
        "select row_to_json(only_left)::text from (select * from {} except all select * from {}) as only_left"
    )
    rows = [str(row[0]) for row in conn.execute(query.format(left, right))]
    return len(rows), sorted(rows)[:SHOWN]


SHOWN = 8
