"""Rule O7 in both engines: an order dated before its user registered migrates with the warning
order_before_registration, whose evidence names the user and the registration day; with the dbt var
strict_dates (the pandas engine's `variables`) it is rejected, with the same evidence, as before.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.databases import Databases
from tests.support.hard_rows import both_engines, query_rows, staged

# (id, username, email, full_name, registration, address, phone)
USERS = [
    (1, "alice", "alice@x.com", None, "2020-01-01 10:00", None, None),
    (2, "dan", "dan@x.com", None, "N/A", None, None),
    (3, "alice2", "ALICE@x.com", None, "2021-06-01", None, None),  # merged into alice (U1)
]
PRODUCTS = [(1, "Lamp", None, "12.00", "Home Goods", None)]


def _order(order_id: int, user: str, date: str, quantity: int = 1) -> tuple[object, ...]:
    return (order_id, user, date, "shipped", "Lamp", quantity, "12.00", f"{12 * quantity}.00")


ORDERS = [
    _order(1, "alice", "2019-12-31"),  # the day before alice registered
    _order(2, "alice", "2020-01-01 08:00"),  # the same day, earlier hour: compared by day, in time
    _order(3, "dan", "2010-01-01"),  # dan's registration is unknown: no comparison
    _order(4, "alice", "2019-06-01", quantity=0),  # before, but rejected for its quantity: no warning
    _order(5, "alice2", "2020-06-01"),  # before alice2 registered, not before alice, whom alice2 is merged into
    _order(6, "alice2", "2019-12-31 23:59"),  # before alice, the user the order resolves to
]
ALICE = {"legacy_user_id": 1, "registration_date": "2020-01-01"}


@pytest.fixture
def dated(databases: Databases) -> Databases:
    return staged(databases, USERS, PRODUCTS, ORDERS)


def _order_entries(databases: Databases, table: str) -> list[tuple[Any, ...]]:
    """The orders' entries, but the bare unit prices' currency warnings (rule M2, see test_currency.py)."""
    with databases.new() as conn:
        return query_rows(
            conn,
            f"select legacy_id, reason_code, column_name, raw_value, evidence from dbt_quarantine.{table} "
            "where legacy_table = 'old_orders' and reason_code not like 'currency%%' order by legacy_id, reason_code",
        )


def _migrated_orders(databases: Databases) -> list[tuple[Any, ...]]:
    with databases.new() as conn:
        return query_rows(conn, "select legacy_order_id, legacy_user_id from dbt_marts.orders order by 1")


def test_an_order_before_registration_migrates_with_its_evidence_in_both_engines(dated: Databases) -> None:
    for engine in both_engines(dated, dated.env()):
        assert _migrated_orders(dated) == [(1, 1), (2, 1), (3, 2), (5, 1), (6, 1)], engine
        assert _order_entries(dated, "warnings") == [
            (1, "order_before_registration", "order_date_str", "2019-12-31", ALICE),
            (6, "order_before_registration", "order_date_str", "2019-12-31 23:59", ALICE),
        ], engine
        assert _order_entries(dated, "rejects") == [(4, "quantity_not_positive", "quantity", "0", None)], engine


def test_strict_dates_rejects_an_order_before_registration_in_both_engines(dated: Databases) -> None:
    for engine in both_engines(dated, dated.env(), "--strict-dates"):
        assert _migrated_orders(dated) == [(2, 1), (3, 2), (5, 1)], engine
        assert _order_entries(dated, "warnings") == [], engine
        assert _order_entries(dated, "rejects") == [
            (1, "order_before_registration", "order_date_str", "2019-12-31", ALICE),
            # The first reason in the rules' order: the date (O7) before the quantity.
            (4, "order_before_registration", "order_date_str", "2019-06-01", ALICE),
            (6, "order_before_registration", "order_date_str", "2019-12-31 23:59", ALICE),
        ], engine
