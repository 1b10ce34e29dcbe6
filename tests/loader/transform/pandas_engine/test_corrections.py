"""Per-row corrections (rule C2) through both transform engines: the same marts, rejects, warnings and corrections.

The legacy rows and the corrections files are written here (the files in a folder of the test's own, named by
CORRECTIONS_DIR), staged, and transformed by dbt and then by the pandas engine. Every reading family is corrected
once where the correction applies and once where it does not read; stale corrections name a changed value, a
row that is gone and a repeated id; two pairs of orders become duplicates (O3) only once corrected.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from loader.core.contract import CORRECTION_FILE_COLUMNS, QUARANTINE_SCHEMA
from tests.support.databases import Databases, run_module
from tests.support.differential import column_types
from tests.support.hard_rows import both_engines, create_legacy, query_rows

# (id, username, email, full_name, registration_date_str, address_combined, phone_number_str)
USERS = [
    (1, "alice", "alice@x.com", "ALICE SMITH", "2020-01-01", "1 Main St, Springfield, IL 62701", "(555) 555-1234"),
    (2, "bob", "bob@@x.com", "SMITH, BOB", "31/31/2020", "nowhere at all", "call me"),
    (3, None, "carl@x.com", "Carl", "2020-01-01", None, None),
    (4, "   ", "dan@x.com", "Dan", "2020-01-01", None, None),
    (5, "eve", "eve@x.com", "Eve Typo", "2020-01-01", None, None),
    (6, "fay", "fay@x", "Fay", "2020-01-01", None, None),
    # A repeated id (K1), its copies alike: which one a correction's legacy_row shows does not matter.
    (7, "gus", "gus@x.com", "Gus", "2020-01-01", None, None),
    (7, "gus", "gus@x.com", "Gus", "2020-01-01", None, None),
]
# (id, product_name, description, price_str, category_name_redundant, created_at_str)
PRODUCTS = [
    (1, "Lamp", "a lamp", "12.00", "Home Goods", "2020-01-01"),
    (2, "Desk", "old words", "1,234", "Furnture??", "2020-02-30"),
    (3, "Chair", None, "abc", "Bogus", "2020-01-01"),
    (4, "Stool", None, "5.00", "Home Goods", "2020-01-01"),
    (5, None, None, "3.00", "Home Goods", "2020-01-01"),
]


def _order(order_id: int, **values: Any) -> tuple[Any, ...]:
    """An order of alice's for the lamp, on a day of its own (else O3 would merge the orders alike)."""
    row = {
        "user": "alice",
        "date": f"2021-01-{order_id:02d}",
        "status": "shipped",
        "product": "Lamp",
        "quantity": 1,
        "unit": "12.00",
        "total": "12.00",
    }
    row.update(values)
    return (order_id, *row.values())


ORDERS = [
    _order(1, date="31/31/2021"),
    _order(2, date="2021-13-45"),
    _order(3, status="Shiped??"),
    _order(4, status="bogus"),
    _order(5, quantity=-1),
    _order(6, quantity=0),
    _order(7, quantity=None),
    _order(8),
    # 9 and 10 differ in their status only, 11 and 12 in their quantity only: duplicates (O3) once corrected.
    _order(9, date="2021-02-01"),
    _order(10, date="2021-02-01", status="SHIPPED"),
    _order(11, date="2021-02-02", quantity=2),
    _order(12, date="2021-02-02", quantity=20),
    _order(13, unit="12,00 bucks"),
    _order(14, total="twelve"),
    _order(15, unit="abc"),
    _order(16, user="nobody"),
    _order(17, product="Lampp"),
    _order(18, user="nobody2"),
    # A repeated id whose copies differ: a correction of it names no one row (stale, with the id alone as its row).
    _order(20, date="2021-01-20"),
    _order(20, date="2021-01-21"),
]

# (legacy_id, column, raw_value, corrected_value, the reason code expected); None is NULL (an empty CSV field).
CORRECTIONS: dict[str, list[tuple[int, str, str | None, str | None, str]]] = {
    "old_users": [
        (2, "email", "bob@@x.com", " Bob@X.com ", "correction_applied"),
        (2, "registration_date_str", "31/31/2020", "2020-03-31", "correction_applied"),
        (2, "phone_number_str", "call me", "+1 (555) 555-9999", "correction_applied"),
        (2, "address_combined", "nowhere at all", "2 Elm St, Dover, DE 19901", "correction_applied"),
        (2, "full_name", "SMITH, BOB", "JONES, BOB", "correction_applied"),
        (3, "username", None, "carl", "correction_applied"),
        (4, "username", "   ", "N/A", "correction_unparseable"),
        (5, "full_name", "Eve Typo", None, "correction_applied"),
        # '' is not NULL: the row holds NULL.
        (5, "phone_number_str", "", "555", "correction_stale"),
        (6, "email", "fay@x", "not an email", "correction_unparseable"),
        (7, "full_name", "Gus", "Gustav", "correction_stale"),
    ],
    "old_products": [
        (2, "price_str", "1,234", "1234.00", "correction_applied"),
        (2, "category_name_redundant", "Furnture??", "home", "correction_applied"),
        (2, "created_at_str", "2020-02-30", "2020-02-28", "correction_applied"),
        (2, "description", "old words", "new words", "correction_applied"),
        (3, "price_str", "abc", "1,234", "correction_unparseable"),
        (3, "category_name_redundant", "Bogus", "Nonsense", "correction_unparseable"),
        (4, "price_str", "5.00", "-5.00", "correction_unparseable"),
        (5, "product_name", None, "Bench", "correction_applied"),
        (99, "description", "x", "y", "correction_stale"),
    ],
    "old_orders": [
        (1, "order_date_str", "31/31/2021", "2021-03-31", "correction_applied"),
        (2, "order_date_str", "2021-13-45", "not a date", "correction_unparseable"),
        (3, "status_text", "Shiped??", "Shipped", "correction_applied"),
        (4, "status_text", "bogus", "nonsense", "correction_unparseable"),
        (5, "quantity", "-1", "+2", "correction_applied"),
        (6, "quantity", "0", "two", "correction_unparseable"),
        (7, "quantity", None, " 3 ", "correction_applied"),
        # The row holds another date now; stale before the corrected value is even read.
        (8, "order_date_str", "2020-01-08", "garbage", "correction_stale"),
        (10, "status_text", "SHIPPED", "shipped", "correction_applied"),
        (12, "quantity", "20", "+2", "correction_applied"),
        (13, "unit_price_str_redundant", "12,00 bucks", "12.00", "correction_applied"),
        (14, "total_order_amount_str", "twelve", "12.00", "correction_applied"),
        (15, "unit_price_str_redundant", "abc", "-12.00", "correction_unparseable"),
        (16, "user_identifier_text", "nobody", "alice", "correction_applied"),
        (17, "product_name_redundant", "Lampp", "Lamp", "correction_applied"),
        (18, "user_identifier_text", "nobody2", " ", "correction_unparseable"),
        (20, "status_text", "shipped", "cancelled", "correction_stale"),
        (999, "status_text", "shipped", "cancelled", "correction_stale"),
    ],
}


def _field(value: str | None) -> str:
    """A CSV field as stage reads it (COPY's CSV): NULL unquoted and empty, any text quoted ('' is `""`)."""
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def write_corrections(folder: Path, corrections: dict[str, list[tuple[int, str, str | None, str | None, str]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in corrections.items():
        lines = [",".join(CORRECTION_FILE_COLUMNS)]
        lines += [
            ",".join([str(legacy_id), column, _field(raw), _field(corrected), _field(f"note {n}"), "ana"])
            for n, (legacy_id, column, raw, corrected, _) in enumerate(rows, start=2)
        ]
        (folder / f"{table}.csv").write_text("\n".join(lines) + "\n")
    return folder


def _staged(databases: Databases, env: dict[str, str]) -> None:
    create_legacy(databases, USERS, PRODUCTS, ORDERS)
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)


def _corrections_differences(conn: psycopg.Connection[Any], reference: str) -> list[str]:
    """Rows of the corrections quarantine only one engine wrote (reference: dbt's, set aside)."""
    current = f"{QUARANTINE_SCHEMA}.corrections"
    differences = []
    for left, right, who in ((reference, current, "dbt only"), (current, reference, "engine only")):
        query = (
            f"select row_to_json(only_left)::text from (select * from {left} except all select * from {right}) "
            "as only_left"
        )
        differences += [f"{who}: {row[0]}" for row in conn.execute(query)]
    return differences


def _by_id(conn: psycopg.Connection[Any], query: str) -> dict[int, tuple[Any, ...]]:
    """The rows of a query by their first column."""
    return {row[0]: row[1:] for row in query_rows(conn, query)}


def _check_outcomes(conn: psycopg.Connection[Any], engine: str) -> None:
    """What the corrections change, and what they leave, in either engine's outputs."""
    reasons = query_rows(
        conn, "select legacy_table, legacy_id, column_name, outcome, reason_code from dbt_quarantine.corrections"
    )
    expected = [
        (table, legacy_id, column, "corrected" if reason == "correction_applied" else "warning", reason)
        for table, rows in CORRECTIONS.items()
        for legacy_id, column, _, _, reason in rows
    ]
    assert sorted(reasons) == sorted(expected), engine

    # Applied: the corrected values read in place of the raw ones, by every rule.
    orders = _by_id(conn, "select legacy_order_id, ordered_at, status, legacy_user_id from dbt_marts.orders")
    assert orders[1] == (datetime(2021, 3, 31), "shipped", 1), engine
    assert orders[3][1] == "shipped", engine
    assert orders[16][2] == 1, engine
    items = _by_id(conn, "select legacy_order_id, quantity, unit_price, legacy_product_id from dbt_marts.order_items")
    assert items[5] == (2, Decimal("12.00"), 1), engine
    assert items[7] == (3, Decimal("12.00"), 1), engine
    assert items[13] == (1, Decimal("12.00"), 1), engine
    assert items[17][2] == 1, engine
    assert {14, 9, 11} <= items.keys(), engine
    users = _by_id(conn, "select legacy_user_id, username, email, full_name, registered_at, phone from dbt_marts.users")
    assert users[2] == ("bob", "bob@x.com", "Bob Jones", datetime(2020, 3, 31), "+15555559999"), engine
    assert users[3][0] == "carl", engine
    assert users[5][2] is None, engine
    assert users[6][1] is None, engine
    addresses = query_rows(conn, "select city, state, address_raw from dbt_marts.addresses where legacy_user_id = 2")
    assert addresses == [("Dover", "DE", "2 Elm St, Dover, DE 19901")], engine
    products = _by_id(
        conn, "select legacy_product_id, name, description, price, category_name, created_at from dbt_marts.products"
    )
    assert products[2] == ("Desk", "new words", Decimal("1234.00"), "Home Goods", datetime(2020, 2, 28)), engine
    assert products[5][0] == "Bench", engine
    assert products[3][2] is None and products[3][3] is None, engine
    assert products[4][2] == Decimal("5.00"), engine

    # Not applied: the row read as the legacy table holds it, its reason and raw value its own.
    rejects = query_rows(
        conn,
        "select legacy_table, legacy_id, reason_code, raw_value, merged_into_legacy_id from dbt_quarantine.rejects",
    )
    assert sorted(rejects, key=repr) == sorted(
        [
            ("old_users", 4, "username_missing", "   ", None),
            ("old_users", 7, "legacy_id_duplicate", "7", None),
            ("old_users", 7, "legacy_id_duplicate", "7", None),
            ("old_orders", 2, "order_date_invalid", "2021-13-45", None),
            ("old_orders", 4, "status_unknown", "bogus", None),
            ("old_orders", 6, "quantity_not_positive", "0", None),
            # Duplicates once corrected (O3); the raw value at fault (the id) is the legacy row's.
            ("old_orders", 10, "duplicate_order", "10", 9),
            ("old_orders", 12, "duplicate_order", "12", 11),
            ("old_orders", 15, "unit_price_invalid", "abc", None),
            ("old_orders", 18, "user_not_found", "nobody2", None),
            ("old_orders", 20, "legacy_id_duplicate", "20", None),
            ("old_orders", 20, "legacy_id_duplicate", "20", None),
        ],
        key=repr,
    ), engine
    warnings = query_rows(
        conn,
        "select legacy_table, legacy_id, reason_code, raw_value from dbt_quarantine.warnings "
        "where reason_code in ('email_invalid', 'price_invalid', 'price_negative', 'category_unknown', "
        "'registration_date_invalid', 'created_date_invalid', 'amount_ambiguous')",
    )
    assert sorted(warnings, key=repr) == sorted(
        [
            ("old_users", 6, "email_invalid", "fay@x"),
            ("old_products", 3, "price_invalid", "abc"),
            ("old_products", 3, "category_unknown", "Bogus"),
        ],
        key=repr,
    ), engine
    # The raw value of a warning, and the legacy row, stay the legacy table's, corrected or not.
    assumed = query_rows(
        conn,
        "select raw_value from dbt_quarantine.warnings where legacy_table = 'old_orders' and legacy_id = 13 "
        "and reason_code = 'currency_assumed'",
    )
    assert assumed == [("12,00 bucks",)], engine
    raw_rows = query_rows(
        conn,
        "select legacy_row ->> 'order_date_str' from dbt_quarantine.warnings where legacy_id = 1 "
        "and legacy_table = 'old_orders'",
    )
    assert set(raw_rows) == {("31/31/2021",)}, engine

    # The corrections' evidence: the correction, and for a stale one what the legacy table holds instead.
    evidence = {
        (table, legacy_id, column): rest
        for table, legacy_id, column, *rest in query_rows(
            conn,
            "select legacy_table, legacy_id, column_name, raw_value, evidence, legacy_row "
            "from dbt_quarantine.corrections",
        )
    }
    raw, applied, legacy_row = evidence[("old_users", 2, "email")]
    assert raw == "bob@@x.com", engine
    assert applied == {
        "corrected_value": " Bob@X.com ",
        "note": "note 2",
        "author": "ana",
        "file": "old_users.csv",
        "line": 2,
    }
    assert legacy_row["email"] == "bob@@x.com" and legacy_row["id"] == 2, engine
    _, changed, _ = evidence[("old_orders", 8, "order_date_str")]
    assert changed["legacy_rows"] == 1 and changed["legacy_value"] == "2021-01-08", engine
    _, gone, gone_row = evidence[("old_products", 99, "description")]
    assert gone["legacy_rows"] == 0 and gone["legacy_value"] is None and gone_row == {"id": 99}, engine
    _, repeated, repeated_row = evidence[("old_users", 7, "full_name")]
    assert repeated["legacy_rows"] == 2 and repeated["legacy_value"] is None and repeated_row == {"id": 7}, engine
    _, nulled, _ = evidence[("old_users", 5, "full_name")]
    assert nulled["corrected_value"] is None and "legacy_rows" not in nulled, engine
    _, quantity, _ = evidence[("old_orders", 7, "quantity")]
    assert quantity["corrected_value"] == " 3 " and quantity["line"] == 8, engine


def test_both_engines_apply_the_same_corrections(databases: Databases) -> None:
    folder = write_corrections(databases.scratch / "these_corrections", CORRECTIONS)
    env = databases.env(CORRECTIONS_DIR=str(folder))
    _staged(databases, env)
    with databases.new() as conn:
        staged = conn.execute("select count(*) from staging.corrections").fetchone()
    assert staged == (sum(len(rows) for rows in CORRECTIONS.values()),)

    reference = "public.dbt_corrections"
    for engine in both_engines(databases, env):
        with databases.new() as conn:
            _check_outcomes(conn, engine)
            if engine == "dbt":
                dbt_columns = column_types(conn, QUARANTINE_SCHEMA, "corrections")
                conn.execute(f"create table {reference} as select * from {QUARANTINE_SCHEMA}.corrections")
            else:
                assert column_types(conn, QUARANTINE_SCHEMA, "corrections") == dbt_columns
                differences = _corrections_differences(conn, reference)
                assert not differences, "the engines' corrections differ:\n" + "\n".join(differences)


def test_pandas_engine_reads_no_corrections_and_refuses_a_staging_without_their_table(databases: Databases) -> None:
    folder = databases.scratch / "no_corrections"
    folder.mkdir()
    env = databases.env(CORRECTIONS_DIR=str(folder))
    _staged(databases, env)
    run_module("loader", "transform", "--engine", "pandas", env=env)
    with databases.new() as conn:
        assert query_rows(conn, "select count(*) from dbt_quarantine.corrections") == [(0,)]
        assert column_types(conn, QUARANTINE_SCHEMA, "corrections")[0] == ("legacy_table", "text", False)
        orders = query_rows(conn, "select legacy_order_id from dbt_marts.orders where legacy_order_id = 1")
        assert orders == [], "order 1's date is unreadable without its correction"
        conn.execute("drop table staging.corrections")
    refused = run_module("loader", "transform", "--engine", "pandas", env=env, check=False)
    assert refused.returncode != 0
    assert "run `python -m loader stage` again" in refused.stderr
