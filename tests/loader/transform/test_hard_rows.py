"""Hard legacy rows through both transform engines: values too long for the target, ids over 2^31, missing and
repeated ids, missing required values, ambiguous money, and extra legacy columns with odd names and types.

Each test builds its legacy tables with SQL (wider types than the contract's, no keys enforced, as a legacy
database may have them), stages them, runs dbt and then the pandas engine on the same staged rows, and checks
both wrote what docs/cleaning-rules.md says, and the same rows.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine

from loader.core.contract import DBT_PROJECT_DIR, QUARANTINE_SCHEMA
from loader.publish.gates import classified_counts, conservation_gates
from tests.support.databases import Databases, run_module
from tests.support.hard_rows import both_engines, create_legacy, query_rows, staged

MARTS = DBT_PROJECT_DIR / "models" / "marts"
BIG = 2**31  # the first id an `integer` column cannot hold


LONG_NAME = "Bob " + "x" * 196  # 200 characters: over users.full_name's 100
LONG_USERNAME = "u" * 60  # over users.username's 50
LONG_EMAIL = "c" * 110 + "@example.com"  # valid, over users.email's 100
LONG_PHONE = "555-555-1234 ext 12345678901234567890"  # kept raw (P1), over users.phone's 32
LONG_PRODUCT = "Table " + "y" * 194  # over products.name's 100

USERS = [
    (1, "alice", "alice@x.com", "Alice Smith", "2020-01-01", None, None),
    (2, "bob", "bob@x.com", LONG_NAME, "2020-01-01", None, None),
    (3, LONG_USERNAME, "long@x.com", None, "2020-01-01", None, None),
    (4, None, "nameless@x.com", None, "2020-01-01", None, None),
    (5, "dup_one", "d1@x.com", None, "2020-01-01", None, None),
    (5, "dup_two", "d2@x.com", None, "2020-01-01", None, None),
    (None, "frank", "f0@x.com", None, "2020-01-01", None, None),
    (9, "frank", "f9@x.com", None, "2020-01-01", None, None),
    (6, "carol", LONG_EMAIL, None, "2020-01-01", None, None),
    (7, "dave", "dave@x.com", None, "2020-01-01", None, LONG_PHONE),
    (BIG + 10, "erin", "erin@x.com", None, "2020-01-01", None, None),
]
PRODUCTS = [
    (1, "Lamp", None, "12.00", "Home Goods", None),
    (2, "Big Table", None, "1,234", "Home Goods", None),
    (3, "Piano", None, "1,234.00", "Home Goods", None),
    (4, "Screw", None, "5.00", "Home Goods", None),
    (5, LONG_PRODUCT, None, "1.00", "Home Goods", None),
    (6, None, None, "1.00", "Home Goods", None),
    (7, "Dup A", None, "1.00", "Home Goods", None),
    (7, "Dup B", None, "1.00", "Home Goods", None),
    (None, "No Id", None, "1.00", "Home Goods", None),
    (8, "Cello", None, "1.230", "Home Goods", None),
    (9, "Pick", None, "1.23", "Home Goods", None),
    (10, "Twin", None, "1,234.00", "Home Goods", None),
    (11, "Twin", None, "7.00", "Home Goods", None),
    (3 * BIG, "Huge Id Widget", None, "2.50", "Home Goods", None),
]


def _order(order_id: int | None, product: str, quantity: int, unit: str, total: str, user: str = "alice") -> tuple:
    return (order_id, user, "2023-01-05", "shipped", product, quantity, unit, total)


ORDERS = [
    _order(1, "Piano", 1, "1,234", "1,234"),  # unit: thousands agrees with the price; total agrees too
    _order(2, "Screw", 2, "5.001", "10.00"),  # 5.001 agrees with no price in cents: rejected
    _order(3, "Pick", 2, "1.230", "2.46"),  # the decimal reading 1.230 is the price 1.23
    _order(4, "Lamp", 1, "12.00", "12,000"),  # total: 12.000 is 1 x 12.00
    _order(5, "Lamp", 1, "12.00", "1.234"),  # total agrees under neither reading: a mismatch
    _order(6, "Twin", 1, "1,234", "1,234.00"),  # two products named Twin: the reading finds the one at 1234.00
    _order(7, "Big Table", 1, "1,234", "1,234"),  # the product has no price: no evidence
    _order(8, "Lamp", 1, "12.00", "12.00"),
    _order(8, "Lamp", 2, "12.00", "24.00"),
    _order(None, "Lamp", 3, "12.00", "36.00"),
    _order(4 * BIG, "Huge Id Widget", 1, "2.50", "2.50", user="erin"),
    _order(20, "Lamp", 4, "12.00", "48.00"),  # 20 and 21: a double submit (O3), 21 merged into 20
    _order(21, "Lamp", 4, "12.00", "48.00"),
    _order(30, "Lamp", 5, "12.00", "60.00"),  # 30 twice (K1) and 31 alike: 31 is not merged into a rejected row
    _order(30, "Lamp", 5, "12.00", "60.00"),
    _order(31, "Lamp", 5, "12.00", "60.00"),
    _order(40, "Lamp", 3 * BIG, "12.00", "1.00"),  # a bigint quantity: implausible
]


@pytest.fixture
def hard_rows(databases: Databases) -> Databases:
    return staged(databases, USERS, PRODUCTS, ORDERS)


def _quarantine(conn: psycopg.Connection[Any], table: str, legacy_table: str) -> set[tuple[Any, ...]]:
    """The entries of a quarantine table for one legacy table, but the bare amounts' currency warnings (rule M2),
    which every bare price here gets and tests/loader/transform/test_currency.py checks."""
    query = sql.SQL(
        "select legacy_id, reason_code, column_name, raw_value from {} "
        "where legacy_table = %s and reason_code not in ('currency_assumed', 'currency_from_product')"
    ).format(sql.Identifier(QUARANTINE_SCHEMA, table))
    return set(query_rows(conn, query.as_string(conn), legacy_table))


def test_hard_rows_are_rejected_or_warned_never_cut_in_both_engines(hard_rows: Databases) -> None:
    env = hard_rows.env()
    for engine in both_engines(hard_rows, env):
        with hard_rows.new() as conn:
            user_rejects = query_rows(
                conn,
                "select legacy_id, reason_code, column_name, raw_value, legacy_row ->> 'username' "
                "from dbt_quarantine.rejects where legacy_table = 'old_users' order by 1, 5",
            )
            assert user_rejects == [
                (3, "value_too_long", "username", LONG_USERNAME, LONG_USERNAME),
                (4, "username_missing", "username", None, None),
                # Every copy of a repeated id, each with its own row.
                (5, "legacy_id_duplicate", "id", "5", "dup_one"),
                (5, "legacy_id_duplicate", "id", "5", "dup_two"),
                (None, "legacy_id_missing", "id", None, "frank"),
            ], engine
            # Rejected for its id, the first `frank` does not make the second a duplicate username (U2).
            users = dict(query_rows(conn, "select legacy_user_id, username from dbt_marts.users"))
            assert users == {1: "alice", 2: "bob", 9: "frank", 6: "carol", 7: "dave", BIG + 10: "erin"}, engine
            optional = query_rows(
                conn,
                "select legacy_user_id, email, full_name, phone from dbt_marts.users "
                "where legacy_user_id in (2, 6, 7) order by 1",
            )
            assert optional == [(2, "bob@x.com", None, None), (6, None, None, None), (7, "dave@x.com", None, None)]
            assert _quarantine(conn, "warnings", "old_users") == {
                (2, "value_too_long", "full_name", LONG_NAME),
                (6, "value_too_long", "email", LONG_EMAIL),
                (7, "phone_not_normalized", "phone_number_str", LONG_PHONE),
                (7, "value_too_long", "phone_number_str", LONG_PHONE),
            }, engine

            assert _quarantine(conn, "rejects", "old_products") == {
                (5, "value_too_long", "product_name", LONG_PRODUCT),
                (6, "product_name_missing", "product_name", None),
                (7, "legacy_id_duplicate", "id", "7"),
                (None, "legacy_id_missing", "id", None),
            }, engine
            products = dict(query_rows(conn, "select legacy_product_id, price::text from dbt_marts.products"))
            assert products == {
                1: "12.00",
                2: None,
                3: "1234.00",
                4: "5.00",
                8: None,
                9: "1.23",
                10: "1234.00",
                11: "7.00",
                3 * BIG: "2.50",
            }, engine
            assert _quarantine(conn, "warnings", "old_products") == {
                (2, "amount_ambiguous", "price_str", "1,234"),
                (8, "amount_ambiguous", "price_str", "1.230"),
            }, engine

            order_rejects = query_rows(
                conn,
                "select legacy_id, outcome::text, reason_code, raw_value, merged_into_legacy_id, evidence "
                "from dbt_quarantine.rejects where legacy_table = 'old_orders' order by legacy_id, reason_code",
            )
            screw = {"legacy_product_id": 4, "product_price": "5.00", "product_currency": "USD"}
            big_table = {"legacy_product_id": 2, "product_price": None, "product_currency": None}
            assert order_rejects == [
                (2, "rejected", "amount_ambiguous", "5.001", None, screw),
                (7, "rejected", "amount_ambiguous", "1,234", None, big_table),
                (8, "rejected", "legacy_id_duplicate", "8", None, None),
                (8, "rejected", "legacy_id_duplicate", "8", None, None),
                (
                    21,
                    "merged",
                    "duplicate_order",
                    "21",
                    20,
                    {"survivor_legacy_id": 20, "matched_on": "every_column_but_id"},
                ),
                (30, "rejected", "legacy_id_duplicate", "30", None, None),
                (30, "rejected", "legacy_id_duplicate", "30", None, None),
                (40, "rejected", "quantity_implausible", str(3 * BIG), None, None),
                (None, "rejected", "legacy_id_missing", None, None, None),
            ], engine
            items = query_rows(
                conn, "select legacy_order_id, legacy_product_id, unit_price::text from dbt_marts.order_items"
            )
            assert sorted(items) == [
                (1, 3, "1234.00"),
                (3, 9, "1.23"),
                (4, 1, "12.00"),
                (5, 1, "12.00"),
                (6, 10, "1234.00"),
                (20, 1, "12.00"),
                (31, 1, "12.00"),
                (4 * BIG, 3 * BIG, "2.50"),
            ], engine
            order_warnings = query_rows(
                conn,
                "select legacy_id, reason_code, column_name, raw_value, evidence from dbt_quarantine.warnings "
                "where legacy_table = 'old_orders' and reason_code not like 'currency%%' "
                "order by legacy_id, column_name",
            )
            assert order_warnings == [
                (
                    1,
                    "amount_disambiguated",
                    "total_order_amount_str",
                    "1,234",
                    {"read_as": "1234.00", "quantity": 1, "unit_price": "1234.00"},
                ),
                (
                    1,
                    "amount_disambiguated",
                    "unit_price_str_redundant",
                    "1,234",
                    {
                        "read_as": "1234.00",
                        "legacy_product_id": 3,
                        "product_price": "1234.00",
                        "product_currency": "USD",
                    },
                ),
                (
                    3,
                    "amount_disambiguated",
                    "unit_price_str_redundant",
                    "1.230",
                    {"read_as": "1.23", "legacy_product_id": 9, "product_price": "1.23", "product_currency": "USD"},
                ),
                (
                    4,
                    "amount_disambiguated",
                    "total_order_amount_str",
                    "12,000",
                    {"read_as": "12.00", "quantity": 1, "unit_price": "12.00"},
                ),
                (
                    5,
                    "total_mismatch",
                    "total_order_amount_str",
                    "1.234",
                    # Ambiguous, and neither reading is 1 x 12.00 (M4): no total as read.
                    {"total_read": None, "total_currency": None, "computed_total": "12.00", "currency": "USD"},
                ),
                (
                    6,
                    "amount_disambiguated",
                    "unit_price_str_redundant",
                    "1,234",
                    {
                        "read_as": "1234.00",
                        "legacy_product_id": 10,
                        "product_price": "1234.00",
                        "product_currency": "USD",
                    },
                ),
            ], engine
            # The extra columns, odd names and all, travel whole in the legacy row.
            row = query_rows(
                conn,
                "select legacy_row from dbt_quarantine.rejects where legacy_table = 'old_orders' and legacy_id = 2",
            )
            legacy_row = row[0][0]
            # The stage keeps extra columns as text (or, before it did, in their own type): either reads the same.
            assert {key: str(legacy_row[key]) for key in ("select", "id ", "Mixed Case", 'quo"te', "source")} == {
                "select": "sel",
                "id ": "space",
                "Mixed Case": "7",
                'quo"te': 'q"q',
                "source": "src",
            }, engine
            assert legacy_row["id"] == 2 and legacy_row["tags"] in ([1, 2], "{1,2}"), engine

        # Publish's conservation gate (count and sum of id hashes) balances: NULL and repeated ids included.
        engine_url = hard_rows.new_url.replace("postgresql://", "postgresql+psycopg://", 1)
        with create_engine(engine_url).connect() as connection:
            gates = conservation_gates(connection, classified_counts(connection))
        assert all(gate.passed for gate in gates), [gate.detail for gate in gates]


def test_ids_over_two_to_the_31_are_published_unchanged(databases: Databases) -> None:
    users = [
        (BIG + 1, "big", "big@x.com", None, "2020-01-01", "1 Main St, Springfield, IL 62701", None),
        (2, "small", "small@x.com", None, "2020-01-01", None, None),
        (BIG + 2, "big_again", "BIG@x.com", None, "2020-01-01", None, None),
    ]
    products = [(3 * BIG, "Widget", None, "2.50", "Books", None)]
    orders = [
        _order(4 * BIG, "Widget", 2, "2.50", "5.00", user="big"),
        _order(4 * BIG + 1, "Widget", 2, "2.50", "5.00", user="big"),
        _order(4 * BIG + 2, "Widget", 1, "2.50", "2.50", user="nobody"),
    ]
    create_legacy(databases, users, products, orders)
    env = databases.env()
    run_module("loader", "migrate", env=env)
    with databases.new() as conn:
        assert query_rows(conn, "select legacy_user_id from users order by 1") == [(2,), (BIG + 1,)]
        assert query_rows(conn, "select u.legacy_user_id from addresses as a join users as u using (user_id)") == [
            (BIG + 1,)
        ]
        assert query_rows(conn, "select legacy_product_id from products") == [(3 * BIG,)]
        assert query_rows(conn, "select legacy_order_id from orders") == [(4 * BIG,)]
        assert query_rows(conn, "select legacy_order_id, quantity from order_items") == [(4 * BIG, 2)]
        assert sorted(
            query_rows(conn, "select legacy_table, legacy_id, reason_code, merged_into_legacy_id from migration_ledger")
        ) == [
            ("old_orders", 4 * BIG, "currency_assumed", None),
            ("old_orders", 4 * BIG + 1, "duplicate_order", 4 * BIG),
            ("old_orders", 4 * BIG + 2, "user_not_found", None),
            ("old_products", 3 * BIG, "currency_assumed", None),
            ("old_users", BIG + 2, "duplicate_email", BIG + 1),
        ]
    # The downgrade narrows the ids back to integer: with ids that do not fit it fails, and changes nothing.
    with databases.new() as conn:
        head = query_rows(conn, "select version_num from alembic_version")
    downgrade = run_module("alembic", "downgrade", "0004", env=env, check=False)
    assert downgrade.returncode != 0 and "out of range" in downgrade.stderr, downgrade.stderr[-2000:]
    with databases.new() as conn:
        assert query_rows(conn, "select version_num from alembic_version") == head
        assert query_rows(conn, "select legacy_order_id from orders") == [(4 * BIG,)]


# Rule A1 by ISO 3166: the country as written, its alpha-2 code from the seed country_names (folded, rule S1).
COUNTRIES = {
    1: ("1 Main St, Springfield, IL 62701, Deutschland", "Deutschland", "DE"),
    2: ("2 High St, Springfield, IL 62701, U.K.", "U.K.", "GB"),
    3: ("3 Rue Haute, Springfield, IL 62701, côte d'ivoire", "côte d'ivoire", "CI"),
    4: ("4 Long St, Springfield, IL 62701,  CZE ", "CZE", "CZ"),
    5: ("5 Sea St, Springfield, IL 62701, Atlantis", "Atlantis", None),
    6: ("6 Oak St, Springfield, IL 62701", None, None),
}


def test_countries_are_kept_as_written_with_their_iso_code_in_both_engines(databases: Databases) -> None:
    users = [
        (user_id, f"user{user_id}", f"user{user_id}@x.com", None, "2020-01-01", address, None)
        for user_id, (address, _, _) in COUNTRIES.items()
    ]
    staged(databases, users, PRODUCTS[:1], ORDERS[:1])
    for engine in both_engines(databases, databases.env()):
        with databases.new() as conn:
            addresses = query_rows(conn, "select legacy_user_id, country, country_code from dbt_marts.addresses")
            assert sorted(addresses) == [(user_id, text, code) for user_id, (_, text, code) in COUNTRIES.items()]
            warned = _quarantine(conn, "warnings", "old_users")
            assert warned == {(5, "country_unknown", "address_combined", COUNTRIES[5][0])}, engine


def test_the_first_publish_after_the_country_code_upgrade_asks_to_confirm_the_rewrite(databases: Databases) -> None:
    """Revision 0006 changes what addresses.country holds: the next publish rewrites every address naming a country,
    which the mass-change gate stops until a person confirms it (README, "Schema upgrades")."""
    users = [
        (
            user_id,
            f"user{user_id}",
            f"user{user_id}@x.com",
            None,
            "2020-01-01",
            "1 Main St, Springfield, IL 62701, USA",
            None,
        )
        for user_id in range(1, 31)
    ]
    create_legacy(databases, users, PRODUCTS[:1], [_order(1, "Lamp", 1, "12.00", "12.00", user="user1")])
    env = databases.env()
    run_module("loader", "migrate", env=env)
    # The target as revision 0005 and the publish of its day left it: the seed's name, no code.
    run_module("alembic", "downgrade", "0005", env=env)
    with databases.new() as conn:
        conn.execute("update addresses set country = 'United States'")

    refused = run_module("loader", "migrate", env=env, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "mass change addresses: 0 of 30 rows deleted and 30 rewritten" in refused.stderr, refused.stderr
    assert "--allow-mass-change" in refused.stderr
    with databases.new() as conn:
        # The schema stays upgraded; the addresses stay as they were.
        assert query_rows(conn, "select version_num from alembic_version") != [("0005",)]
        assert query_rows(conn, "select distinct country, country_code from addresses") == [("United States", None)]

    run_module("loader", "migrate", "--allow-mass-change", env=env)
    with databases.new() as conn:
        assert query_rows(conn, "select distinct country, country_code from addresses") == [("USA", "US")]


def test_no_mart_casts_to_a_width() -> None:
    """A cast to varchar(n) cuts a longer value in silence; the marts cast to varchar and let the contract's table
    refuse what does not fit (rules L1 and L2 keep such values out before)."""
    for path in MARTS.glob("*.sql"):
        assert re.search(r"::\s*varchar\s*\(", path.read_text()) is None, path.name
