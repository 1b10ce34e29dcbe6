"""Queries the tests share: row fingerprints and legacy-id accounting; and loading the dbt project's scripts."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import psycopg
from hypothesis import HealthCheck, Phase, settings
from psycopg import sql

from loader.core.contract import DBT_PROJECT_DIR
from tests.support.databases import Databases, Server


def batch_property(max_examples: int) -> settings:
    """Hypothesis settings for an oracle test that checks a batch of values per example: deterministic, no example
    database, no deadline (each example is one query), and no shrinking: a failure lists every value that
    disagrees, which says more than a minimal one."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


DBT_SCRIPTS = DBT_PROJECT_DIR / "scripts"

TARGET_TABLES = {
    "users": "user_id",
    "addresses": "address_id",
    "product_categories": "category_id",
    "products": "product_id",
    "orders": "order_id",
    "order_items": "order_item_id",
}
LEGACY_KEYS = {"old_users": "users", "old_products": "products", "old_orders": "orders"}


def fingerprint(conn: psycopg.Connection, table: str, key: str, *, with_xmin: bool) -> str:
    """One hash of every row's values, in key order; with xmin, a row rewritten unchanged also shows."""
    row = (
        sql.SQL("{}::text || {}::text").format(sql.Identifier("xmin"), sql.Identifier(table))
        if with_xmin
        else (sql.SQL("{}::text").format(sql.Identifier(table)))
    )
    query = sql.SQL("select md5(coalesce(string_agg({}, ',' order by {}), '')) from {}").format(
        row, sql.Identifier(key), sql.Identifier(table)
    )
    result = conn.execute(query).fetchone()
    assert result is not None
    return str(result[0])


def target_fingerprints(conn: psycopg.Connection, *, with_xmin: bool = True) -> dict[str, str]:
    return {table: fingerprint(conn, table, key, with_xmin=with_xmin) for table, key in TARGET_TABLES.items()}


def count(conn: psycopg.Connection, query: str, *params: object) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def dbt_script(name: str) -> ModuleType:
    """A script of dbt_project/scripts/ (the seed generators), imported as a module without running it."""
    spec = importlib.util.spec_from_file_location(name, DBT_SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and exceptions look their module up by name
    spec.loader.exec_module(module)
    return module


# Every target table as legacy ids and values, surrogate keys replaced by the legacy keys they stand for.
CANONICAL = {
    "users": "select legacy_user_id, username, email, full_name, phone, registered_at, password_hash from users",
    "addresses": (
        "select users.legacy_user_id, street, city, state, postal_code, country, country_code, address_raw "
        "from addresses inner join users on users.user_id = addresses.user_id"
    ),
    "product_categories": "select name from product_categories",
    "products": (
        "select legacy_product_id, products.name, description, product_categories.name, price, currency, created_at "
        "from products left join product_categories on product_categories.category_id = products.category_id"
    ),
    "orders": (
        "select legacy_order_id, users.legacy_user_id, status, ordered_at, total_amount, orders.currency "
        "from orders inner join users on users.user_id = orders.user_id"
    ),
    "order_items": (
        "select order_items.legacy_order_id, orders.legacy_order_id, products.legacy_product_id, quantity, "
        "unit_price, order_items.currency from order_items "
        "inner join orders on orders.order_id = order_items.order_id "
        "inner join products on products.product_id = order_items.product_id"
    ),
}
LAST_LEDGER = (
    "select legacy_table, legacy_id, outcome::text, stage, reason_code, column_name, raw_value, "
    "merged_into_legacy_id, raw_row::text from migration_ledger "
    "where run_id = (select max(run_id) from migration_runs where status = 'published')"
)


def canonical(conn: psycopg.Connection) -> dict[str, list[tuple[str, ...]]]:
    """The target by legacy ids and values, each row as text, sorted: what two migrations must agree on."""
    tables = {}
    for table, query in {**CANONICAL, "ledger": LAST_LEDGER}.items():
        rows = conn.execute(query).fetchall()
        tables[table] = sorted(tuple("" if value is None else str(value) for value in row) for row in rows)
    return tables


def fresh_pair(server: Server, like: Databases, scratch_name: str) -> Databases:
    """Another, empty target database next to `like`'s legacy database."""
    pair = Databases(server, like.old_name, f"{like.new_name}_{scratch_name}", like.scratch / scratch_name)
    with server.admin() as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(pair.new_name)))
    return pair


def drop_new(server: Server, pair: Databases) -> None:
    with server.admin() as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(pair.new_name)))
