"""The ledger's evidence, in both engines: what a total mismatch (O5), a merge (U1, O3) and an ambiguous user or
product reference (O1, O2) were decided from (docs/cleaning-rules.md, "Evidence per reason")."""

from __future__ import annotations

import pytest

from tests.support.databases import Databases
from tests.support.hard_rows import both_engines, query_rows, staged

USERS = [
    (1, "alice", "alice@x.com", None, "2020-01-01", None, None),
    (2, "alice2", " Alice@X.com", None, "2020-01-01", None, None),  # the same email: merged into 1 (U1)
    (3, "Ann", "ann1@x.com", None, "2020-01-01", None, None),  # two usernames one key: `ann` is ambiguous (O1)
    (4, "ann", "ann2@x.com", None, "2020-01-01", None, None),
]
PRODUCTS = [
    (1, "Lamp", None, "12.00", "Home Goods", None),
    (2, "Twin", None, "7.00", "Home Goods", None),  # two products one name and one price: ambiguous (O2)
    (3, "Twin", None, "7.00", "Home Goods", None),
]


def _order(order_id: int, user: str, product: str, quantity: int, unit: str, total: str) -> tuple[object, ...]:
    return (order_id, user, "2023-01-05", "shipped", product, quantity, unit, total)


ORDERS = [
    _order(1, "alice", "Lamp", 2, "12.00", "12.50"),  # 2 x 12.00 is 24.00: a mismatch in amount
    _order(2, "alice", "Lamp", 1, "12.00", "12.00 EUR"),  # the amount agrees, the currency does not
    _order(3, "ann", "Lamp", 1, "12.00", "12.00"),
    _order(4, "alice", "Twin", 1, "7.00", "7.00"),
    _order(5, "alice", "Lamp", 3, "12.00", "36.00"),  # 5 and 6: a double submit (O3), 6 merged into 5
    _order(6, "alice", "Lamp", 3, "12.00", "36.00"),
]


@pytest.fixture
def evidence_rows(databases: Databases) -> Databases:
    return staged(databases, USERS, PRODUCTS, ORDERS)


def test_mismatches_merges_and_ambiguous_references_carry_their_evidence_in_both_engines(
    evidence_rows: Databases,
) -> None:
    for engine in both_engines(evidence_rows, evidence_rows.env()):
        with evidence_rows.new() as conn:
            rejects = query_rows(
                conn,
                "select legacy_table, legacy_id, reason_code, merged_into_legacy_id, evidence "
                "from dbt_quarantine.rejects order by 1, 2",
            )
            assert rejects == [
                (
                    "old_orders",
                    3,
                    "user_ambiguous",
                    None,
                    {"candidates": [3, 4]},
                ),
                ("old_orders", 4, "product_ambiguous", None, {"candidates": [2, 3]}),
                (
                    "old_orders",
                    6,
                    "duplicate_order",
                    5,
                    {"survivor_legacy_id": 5, "matched_on": "every_column_but_id"},
                ),
                (
                    "old_users",
                    2,
                    "duplicate_email",
                    1,
                    {"survivor_legacy_id": 1, "matched_on": "email", "key": "alice@x.com"},
                ),
            ], engine
            mismatches = query_rows(
                conn,
                "select legacy_id, raw_value, evidence from dbt_quarantine.warnings "
                "where reason_code = 'total_mismatch' order by 1",
            )
            assert mismatches == [
                (
                    1,
                    "12.50",
                    {"total_read": "12.50", "total_currency": None, "computed_total": "24.00", "currency": "USD"},
                ),
                (
                    2,
                    "12.00 EUR",
                    {"total_read": "12.00", "total_currency": "EUR", "computed_total": "12.00", "currency": "USD"},
                ),
            ], engine
