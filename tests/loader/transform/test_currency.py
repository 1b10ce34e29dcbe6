"""Rule M2 through both transform engines: a currency written anywhere in the text is read, a bare amount takes
its currency from the product it resolved to or from LEGACY_CURRENCY, and each such inference is a warning with
its evidence (docs/cleaning-rules.md, "Nothing is inferred in silence")."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from tests.support.databases import Databases
from tests.support.hard_rows import both_engines, query_rows, staged

USERS = [(1, "alice", "alice@x.com", None, "2020-01-01", None, None)]
PRODUCTS = [
    (1, "Lamp", None, "12.00", "Home Goods", None),  # bare: the legacy currency, assumed
    (2, "Vase", None, "20,00 EUR", "Home Goods", None),  # names EUR
    (3, "Kettle", None, "gbp 3.20", "Home Goods", None),  # any ISO 4217 code, before the amount, any case
    (4, "Fan", None, "¥500", "Home Goods", None),  # a symbol JPY and CNY share: read only as the legacy currency
    (5, "Rug", None, "$7", "Home Goods", None),  # a symbol the dollars share
    (6, "Twin", None, "9.00 EUR", "Home Goods", None),
    (7, "Twin", None, "9.00", "Home Goods", None),
]


def _order(order_id: int, product: str, unit: str, total: str) -> tuple:
    return (order_id, "alice", "2023-01-05", "shipped", product, 2, unit, total)


ORDERS = [
    _order(1, "Lamp", "12.00", "24.00"),  # bare, product bare: assumed
    _order(2, "Vase", "20", "40"),  # bare, product names EUR: from the product; the bare total is EUR too
    _order(3, "Vase", "€20.00", "40.00 EUR"),  # named: read
    _order(4, "Kettle", "3,20£", "6.40 GBP"),  # a symbol after the amount
    _order(5, "Twin", "9.00", "18.00"),  # bare: both twins match the amount, so no guess
    _order(6, "Twin", "EUR 9", "18 EUR"),  # named: the EUR twin
    _order(7, "Lamp", "12 bucks", "24"),  # a currency nobody knows: unreadable
    _order(8, "Fan", "500", "1000"),  # bare, and its product names a currency M2 cannot read: no currency
]


def _evidence(conn: psycopg.Connection[Any], table: str, legacy_id: int, reason: str) -> dict[str, Any]:
    rows = query_rows(
        conn,
        "select evidence from dbt_quarantine.warnings where legacy_table = %s and legacy_id = %s and reason_code = %s",
        table,
        legacy_id,
        reason,
    )
    assert len(rows) == 1, (table, legacy_id, reason, rows)
    value = rows[0][0]
    return value if isinstance(value, dict) else json.loads(value)


def test_currencies_are_read_where_written_and_inferred_with_evidence_in_both_engines(databases: Databases) -> None:
    staged(databases, USERS, PRODUCTS, ORDERS)
    for engine in both_engines(databases, databases.env()):
        with databases.new() as conn:
            products = dict(
                (row[0], row[1:])
                for row in query_rows(conn, "select legacy_product_id, price, currency from dbt_marts.products")
            )
            assert {
                key: (str(price) if price is not None else None, currency)
                for key, (price, currency) in products.items()
            } == {
                1: ("12.00", "USD"),
                2: ("20.00", "EUR"),
                3: ("3.20", "GBP"),
                4: (None, None),
                5: ("7.00", "USD"),
                6: ("9.00", "EUR"),
                7: ("9.00", "USD"),
            }, engine
            items = query_rows(conn, "select legacy_order_id, unit_price::text, currency from dbt_marts.order_items")
            assert sorted(items) == [
                (1, "12.00", "USD"),
                (2, "20.00", "EUR"),
                (3, "20.00", "EUR"),
                (4, "3.20", "GBP"),
                (6, "9.00", "EUR"),
            ], engine
            rejects = query_rows(
                conn, "select legacy_id, reason_code from dbt_quarantine.rejects where legacy_table = 'old_orders'"
            )
            assert sorted(rejects) == [
                (5, "product_ambiguous"),
                (7, "unit_price_invalid"),
                (8, "unit_price_currency_unknown"),
            ], engine
            warned = query_rows(
                conn,
                "select legacy_table, legacy_id, reason_code, column_name, raw_value from dbt_quarantine.warnings "
                "where reason_code like 'currency%%' or reason_code in ('price_invalid', 'total_mismatch')",
            )
            assert sorted(warned) == [
                ("old_orders", 1, "currency_assumed", "unit_price_str_redundant", "12.00"),
                ("old_orders", 2, "currency_from_product", "unit_price_str_redundant", "20"),
                ("old_products", 1, "currency_assumed", "price_str", "12.00"),
                ("old_products", 4, "price_invalid", "price_str", "¥500"),
                ("old_products", 7, "currency_assumed", "price_str", "9.00"),
            ], engine
            assert _evidence(conn, "old_orders", 2, "currency_from_product") == {
                "currency": "EUR",
                "legacy_product_id": 2,
                "product_price": "20,00 EUR",
            }, engine
            assert _evidence(conn, "old_orders", 1, "currency_assumed") == {
                "currency": "USD",
                "from": "LEGACY_CURRENCY",
            }, engine


def test_legacy_currency_is_the_bare_amounts_currency_and_reads_the_symbols_it_shares(databases: Databases) -> None:
    staged(databases, USERS, PRODUCTS, ORDERS[:2])
    for engine in both_engines(databases, databases.env(LEGACY_CURRENCY="jpy")):
        with databases.new() as conn:
            products = query_rows(conn, "select legacy_product_id, price::text, currency from dbt_marts.products")
            # JPY: a bare price is yen, `¥` is read as yen, and `$` (no dollar is the legacy currency) is refused.
            assert sorted(products) == [
                (1, "12.00", "JPY"),
                (2, "20.00", "EUR"),
                (3, "3.20", "GBP"),
                (4, "500.00", "JPY"),
                (5, None, None),
                (6, "9.00", "EUR"),
                (7, "9.00", "JPY"),
            ], engine
            assert _evidence(conn, "old_orders", 1, "currency_assumed") == {
                "currency": "JPY",
                "from": "LEGACY_CURRENCY",
            }
