"""The answer key: schema `answer_key` in the legacy database, beside the tables it describes.

The loader copies only old_users, old_products and old_orders from the legacy schema, so the pipeline never sees
it; nothing in loader/ or dbt_project/ may read it. Only the scorer (`python -m seeder score`) does.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from loader.core.contract import LEGACY_TABLE_MARTS
from loader.core.legacy_schema import DEFAULT_LEGACY_SCHEMA, required_columns
from seeder import catalogue, orders, products, users
from seeder.catalogue import Profile

SCHEMA = "answer_key"
TABLES: dict[str, str] = {legacy: mart for legacy, (mart, _) in LEGACY_TABLE_MARTS.items()}

_TYPES = {
    "legacy_id": "integer not null",
    "outcome": "text not null",
    "merged_into_legacy_id": "integer",
    "legacy_user_id": "integer",
    "legacy_product_id": "integer",
    "registered_at": "timestamp",
    "created_at": "timestamp",
    "ordered_at": "timestamp",
    "quantity": "integer",
    "price": "numeric(12, 2)",
    "unit_price": "numeric(12, 2)",
    "total_amount": "numeric(12, 2)",
    "warnings": "text[] not null",
}
ANSWER_COLUMNS = {
    "old_users": users.ANSWER_COLUMNS,
    "old_products": products.ANSWER_COLUMNS,
    "old_orders": orders.ANSWER_COLUMNS,
}
COMMENTS = {
    "users": "Per legacy user: expected outcome, expected target values (migrated rows), warnings, dirt patterns.",
    "products": "Per legacy product: expected outcome, expected target values, warnings, dirt patterns.",
    "orders": "Per legacy order: expected outcome, expected target values (legacy ids of user and product).",
}


def table_name(legacy_table: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, TABLES[legacy_table])


def create(conn: psycopg.Connection) -> None:
    """(Re)create the empty answer-key tables; primary keys come after the load, which is faster."""
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCHEMA)))
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(SCHEMA)))
    conn.execute(
        sql.SQL("comment on schema {} is {}").format(
            sql.Identifier(SCHEMA),
            sql.Literal(
                "The seeder's answer key (python -m seeder): what a correct migration makes of every legacy row. "
                "Never read by the pipeline; make score compares new_good_db with it."
            ),
        )
    )
    conn.execute(sql.SQL("create table {} (key text primary key, value text not null)").format(_t("meta")))
    conn.execute(
        sql.SQL(
            "create table {} (pattern text primary key, legacy_table text not null, form_column text not null, "
            "target_field text, recoverable boolean not null, is_default boolean not null, derived boolean not null, "
            "conditional boolean not null, rate numeric not null, example text not null, handling text not null, "
            "reason_code text)"
        ).format(_t("catalogue"))
    )
    for legacy_table, columns in ANSWER_COLUMNS.items():
        definitions = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(_TYPES.get(column, "text"))) for column in columns
        )
        target = table_name(legacy_table)
        conn.execute(sql.SQL("create table {} ({})").format(target, definitions))
        comment = COMMENTS[TABLES[legacy_table]]
        conn.execute(sql.SQL("comment on table {} is {}").format(target, sql.Literal(comment)))


def _t(name: str) -> sql.Identifier:
    return sql.Identifier(SCHEMA, name)


def write_catalogue(conn: psycopg.Connection, profile: Profile, meta: dict[str, str]) -> None:
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("copy {} from stdin").format(_t("catalogue"))) as copy:
            for table in catalogue.TABLES:
                for column in catalogue.columns(table):
                    rates = catalogue.probabilities(table, column, profile)
                    for i, pattern in enumerate(catalogue.column_patterns(table, column)):
                        rate = pattern.rate(profile) if pattern.conditional else float(rates[i])
                        copy.write_row(
                            (
                                pattern.id,
                                table,
                                column,
                                pattern.field,
                                pattern.recoverable,
                                pattern.default,
                                pattern.derived,
                                pattern.conditional,
                                round(rate, 6),
                                pattern.example,
                                pattern.handling,
                                pattern.reason,
                            )
                        )
        with cur.copy(sql.SQL("copy {} from stdin").format(_t("meta"))) as copy:
            for key, value in meta.items():
                copy.write_row((key, value))


def settle_double_submits(conn: psycopg.Connection, schema: str = DEFAULT_LEGACY_SCHEMA) -> int:
    """Give every group of orders equal in all columns but the id the answer O3 gives; return rows changed.

    The generator writes its double submits on purpose, but two independent orders can also come out equal
    (same user, product, day, quantity and spellings). Only the database sees every row at once, so the key is
    settled there: the lowest id of each group survives, the others are merged into it.
    """
    columns = [c for c in required_columns("old_orders") if c != "id"]
    partition = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    statement = sql.SQL(
        """
        with grouped as (
            select id, min(id) over (partition by {partition}) as first_id
            from {orders}
        )
        update {answer} as answer
        set outcome = 'merged', reason_code = 'duplicate_order', merged_into_legacy_id = grouped.first_id,
            legacy_user_id = null, legacy_product_id = null, status = null, ordered_at = null, quantity = null,
            unit_price = null, currency = null, total_amount = null, warnings = '{{}}',
            row_form = 'order_double_submit'
        from grouped
        where grouped.id = answer.legacy_id
            and grouped.first_id <> grouped.id
            and answer.merged_into_legacy_id is distinct from grouped.first_id
        """
    ).format(partition=partition, orders=sql.Identifier(schema, "old_orders"), answer=table_name("old_orders"))
    with conn.cursor() as cur:
        cur.execute(statement)
        return cur.rowcount


def index_after_load(conn: psycopg.Connection) -> None:
    """The orders' key first: settling double submits joins on it."""
    conn.execute(sql.SQL("alter table {} add primary key (legacy_id)").format(table_name("old_orders")))
    for legacy_table in (table for table in LEGACY_TABLE_MARTS if table != "old_orders"):
        conn.execute(sql.SQL("alter table {} add primary key (legacy_id)").format(table_name(legacy_table)))
