"""Hand-written legacy rows staged directly, and both transform engines run on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from tests.support.databases import Databases, run_module
from tests.support.differential import TABLES, column_types, set_aside_dbt_outputs, table_differences

# Contract columns in wider types of their family, and no primary key: the legacy database may not enforce it.
STAGED_COLUMNS = {
    "old_users": "id bigint, username text, email text, full_name varchar(300), registration_date_str varchar(20), "
    "address_combined text, phone_number_str varchar(60)",
    "old_products": "id bigint, product_name text, description text, price_str varchar(20), "
    "category_name_redundant varchar(50), created_at_str varchar(20)",
    "old_orders": "id bigint, user_identifier_text varchar(100), order_date_str varchar(20), status_text varchar(20), "
    "product_name_redundant text, quantity bigint, unit_price_str_redundant varchar(20), "
    "total_order_amount_str varchar(20)",
}


def query_rows(conn: psycopg.Connection[Any], query: str, *params: object) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(query, params)]  # type: ignore[arg-type]


def both_engines(databases: Databases, env: dict[str, str], *options: str) -> Iterator[str]:
    """Transform with dbt, then with pandas, then with dask on the same staged rows (with the transform's `options`);
    yield after each, then compare each with dbt's."""
    run_module("loader", "transform", *options, env=env)
    yield "dbt"
    with databases.new() as conn:
        dbt_columns = set_aside_dbt_outputs(conn)
    run_module("loader", "transform", "--engine", "pandas", *options, env=env)
    yield "pandas"
    _compare_with_dbt(databases, dbt_columns, "pandas")
    # About eight partitions of the largest table, of two rows at least (a repeated id stays in one), so the rules
    # between rows cross partitions; more would only add tasks.
    with databases.new() as conn:
        largest = max(query_rows(conn, f"select count(*) from staging.{table}")[0][0] for table in STAGED_COLUMNS)
    dask_env = {**env, "DASK_PARTITION_ROWS": str(max(2, -(-largest // 8))), "DASK_WORKERS": "1"}
    run_module("loader", "transform", "--engine", "dask", *options, env=dask_env)
    yield "dask"
    _compare_with_dbt(databases, dbt_columns, "dask")


def _compare_with_dbt(databases: Databases, dbt_columns: dict[str, list[tuple[str, str, bool]]], engine: str) -> None:
    with databases.new() as conn:
        for schema, table in TABLES:
            assert column_types(conn, schema, table) == dbt_columns[table], (
                f"{engine}: {schema}.{table}: columns differ"
            )
        differences = [text for schema, table in TABLES if (text := table_differences(conn, schema, table))]
    assert not differences, f"the {engine} engine and dbt disagree:\n" + "\n".join(differences)


def staged(databases: Databases, users: list[tuple], products: list[tuple], orders: list[tuple]) -> Databases:
    """The legacy tables holding these rows, the target schema made, and a stage run."""
    create_legacy(databases, users, products, orders)
    run_module("alembic", "upgrade", "head", env=databases.env())
    run_module("loader", "stage", env=databases.env())
    return databases


def create_legacy(databases: Databases, users: list[tuple], products: list[tuple], orders: list[tuple]) -> None:
    with databases.old() as conn, conn.cursor() as cursor:
        for table, columns in STAGED_COLUMNS.items():
            cursor.execute(f"create table {table} ({columns}, {EXTRA_COLUMNS})")
        for table, rows in (("old_users", users), ("old_products", products), ("old_orders", orders)):
            width = len(rows[0]) + len(EXTRA_VALUES)
            placeholders = ", ".join(["%s"] * width)
            cursor.executemany(f"insert into {table} values ({placeholders})", [(*row, *EXTRA_VALUES) for row in rows])


# Extra legacy columns with names SQL and pandas both find awkward, and an array type.
EXTRA_COLUMNS = '"select" text, "id " text, "Mixed Case" int, "quo""te" text, source text, tags integer[]'


EXTRA_VALUES = ("sel", "space", 7, 'q"q', "src", [1, 2])
