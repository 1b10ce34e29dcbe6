"""Queries the tests share: row fingerprints and legacy-id accounting; and loading the dbt project's scripts."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import psycopg
from hypothesis import HealthCheck, Phase, settings
from psycopg import sql

from loader.core.contract import DBT_PROJECT_DIR


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
