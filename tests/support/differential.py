"""The differential tests' comparison: dbt's outputs set aside, then each table compared with another engine's."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from loader.core.contract import MART_SCHEMA, QUARANTINE_SCHEMA
from tests.support.databases import Databases

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
    lines = [f"{schema}.{table}: {missing} rows only from dbt, {extra} rows only from the other engine"]
    lines += [f"  dbt only:    {row}" for row in missing_rows]
    lines += [f"  other only:  {row}" for row in extra_rows]
    return "\n".join(lines)


REFERENCE = "dbt_reference"


def _only_in(conn: psycopg.Connection[Any], left: sql.Composable, right: sql.Composable) -> tuple[int, list[str]]:
    query = sql.SQL(
        "select row_to_json(only_left)::text from (select * from {} except all select * from {}) as only_left"
    )
    rows = [str(row[0]) for row in conn.execute(query.format(left, right))]
    return len(rows), sorted(rows)[:SHOWN]


SHOWN = 8


# Legacy rows beyond what the seeder writes: text where PostgreSQL's and Python's Unicode rules part ways, and
# the shapes the rules' edge cases are made of. (id, username, email, full_name, registration, address, phone)
EXTRA_USERS = [
    (
        900001,
        "İstanbul",
        "İNCE@MAIL.COM",
        "İNCE, ÖMER",
        "2021-02-29",
        "1 Main St,\u00a0Apt 2, Springfield, IL 62701",
        "+1 555",
    ),
    (
        900002,
        "straße",
        "strasse@mail.com",
        "STRAẞE, ß",
        "03/04/2021 13:15 PM",
        "PSC 1, Box 2, APO AE 12345, U.S.A.",
        "x",
    ),
    (
        900003,
        "\tspaced\u2003",
        " Spaced@Mail.Com ",
        "DOE, JANE, JR.",
        "1614870000",
        " ,Dover ,DE 19901-1234, Atlantis",
        "",
    ),
    (900004, "rené", "rene@mail.com", "RENE\u0301E D'ARC", "N/A", "\tN/A", "0044 20 7946 0958"),
]
EXTRA_ORDERS = [
    (900001, "istanbul", "2021-03-04", "Shipped", "no such product", 1, "1.00", "1.00"),
    (900002, "İNCE@mail.com", "2021-03-04", "shipped", "x", 1, "1.00", "1.00"),
    (900003, " spaced ", "2021-03-04", "shipped", "x", 1, "1.00", "1.00"),
    (900004, " spaced ", "2021-03-04", "shipped", "x", 1, "1.00", "1.00"),
]


def add_edge_rows(databases: Databases) -> None:
    """The rows above into the legacy tables, and four legacy columns beyond the contract."""
    with databases.old() as conn, conn.cursor() as cursor:
        cursor.executemany("insert into old_users values (%s, %s, %s, %s, %s, %s, %s)", EXTRA_USERS)
        cursor.executemany("insert into old_orders values (%s, %s, %s, %s, %s, %s, %s, %s)", EXTRA_ORDERS)
        # Columns beyond the legacy contract travel in the legacy row and take part in rule O3's comparison;
        # derived from the other columns, so a double submit stays one.
        cursor.execute(
            "alter table old_orders add column entered_at timestamp, add column gift boolean, "
            "add column discount numeric(5, 2), add column channel text"
        )
        cursor.execute(
            "update old_orders set "
            "entered_at = case when status_text ilike 'ship%' then timestamp '2021-01-01 10:00' end, "
            "gift = quantity > 2, discount = case when quantity = 1 then 1.50 end, "
            "channel = left(product_name_redundant, 3)"
        )
