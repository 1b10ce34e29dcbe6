"""The answer key says what docs/cleaning-rules.md makes of each legacy row: hand-written cases, then every row
of a generated database checked against a second reading of the rules written here from the doc alone."""

from __future__ import annotations

import csv
import importlib.util
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pycountry
import pytest

from loader.core.contract import DBT_PROJECT_DIR, PROJECT_ROOT, dbt_var
from seeder import catalogue, grammar
from seeder.generate import Sizes, generate
from seeder.orders import CanonicalOrder, OrderBatch, ProductIndex, UserIndex, render_orders
from seeder.pools import (
    CATEGORY_SPANISH,
    CATEGORY_SYNONYMS,
    CATEGORY_TYPOS,
    COUNTRY_SPELLINGS,
    LEGACY_CATEGORY_SPELLINGS,
    LEGACY_STATUS_SPELLINGS,
    STATUS_SPANISH,
    STATUS_SYNONYMS,
    UNKNOWN_CATEGORIES,
    UNKNOWN_COUNTRIES,
    UNKNOWN_STATUSES,
)
from seeder.products import CanonicalProduct, render_products
from seeder.text import seconds
from seeder.users import Address, CanonicalUser, Phone, render_users

SEEDS = DBT_PROJECT_DIR / "seeds"


def _mapping(name: str) -> dict[str, str]:
    with (SEEDS / f"{name}.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    return {spelling: value for spelling, value in rows[1:]}


def _forms(table: catalogue.LegacyTable, count: int, **chosen: list[str]) -> dict[str, np.ndarray]:
    """Every form column at its default, except the ones a test names."""
    forms = {}
    for column in catalogue.columns(table):
        default = next(p.id for p in catalogue.column_patterns(table, column) if p.default)
        forms[column] = catalogue.encode(table, column, chosen.get(column, [default] * count))
    return forms


ANN = CanonicalUser(
    id=1,
    username="annlee1",
    first_name="Ann",
    last_name="McDonald",
    email="ann.mcdonald1@gmail.com",
    registered_at=seconds(2021, 3, 4, 13, 5, 9),
    phone=Phone("1", ("555", "201", "1234")),
    address=Address("address_apartment", "1 Main St, Apt. 2", "Springfield", "IL", "62701"),
)
USER_COLUMNS = [
    "username",
    "email",
    "full_name",
    "phone",
    "registered_at",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "country_code",
    "address_raw",
]
WARNINGS = len(USER_COLUMNS) + 4  # the users' answer column after the expected values


def _user(answer: tuple[object, ...]) -> dict[str, object]:
    """The answer row's outcome and expected values by name (warnings and forms follow them)."""
    names = ("legacy_id", "outcome", "reason_code", "merged_into_legacy_id", *USER_COLUMNS)
    return dict(zip(names, answer[: len(names)], strict=True))


# ---- hand-written cases -----------------------------------------------------------------------------------


def test_a_clean_user_is_migrated_with_its_true_values() -> None:
    rendered = render_users([ANN], _forms("old_users", 1), np.zeros(1, dtype=np.int64))
    assert rendered.legacy_rows == [
        (
            1,
            "annlee1",
            "ann.mcdonald1@gmail.com",
            "Ann McDonald",
            "2021-03-04 13:05",
            "1 Main St, Apt. 2, Springfield, IL 62701, USA",
            "555-201-1234",
        )
    ]
    assert _user(rendered.answer_rows[0]) | {"warnings": rendered.answer_rows[0][WARNINGS]} == {
        "legacy_id": 1,
        "outcome": "migrated",
        "reason_code": None,
        "merged_into_legacy_id": None,
        "username": "annlee1",
        "email": "ann.mcdonald1@gmail.com",
        "full_name": "Ann McDonald",
        "phone": "+15552011234",
        "registered_at": "2021-03-04 13:05:00",  # the legacy format keeps minutes
        "street": "1 Main St, Apt. 2",  # commas and all (A1)
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62701",
        "country": "USA",  # as written (D)
        "country_code": "US",
        "address_raw": "1 Main St, Apt. 2, Springfield, IL 62701, USA",
        "warnings": "{}",
    }


@pytest.mark.parametrize(
    ("column", "pattern", "legacy", "expected", "warnings"),
    [
        ("email_form", "email_mixed_case", "Ann.Mcdonald1@Gmail.Com", {"email": "ann.mcdonald1@gmail.com"}, "{}"),
        ("email_form", "email_spaces", "  ann.mcdonald1@gmail.com", {"email": "ann.mcdonald1@gmail.com"}, "{}"),
        ("email_form", "email_two_at", "ann.mcdonald1@@gmail.com", {"email": None}, "{email_invalid}"),
        ("email_form", "email_inner_space", "ann mcdonald1@gmail.com", {"email": None}, "{email_invalid}"),
        ("email_form", "email_null", None, {"email": None}, "{}"),
        ("registration_form", "reg_dmy", "04/03/2021", {"registered_at": "2021-03-04 00:00:00"}, "{}"),
        ("registration_form", "reg_us_ampm", "03/04/2021 01:05 PM", {"registered_at": "2021-03-04 13:05:00"}, "{}"),
        ("registration_form", "reg_epoch", "1614863109", {"registered_at": "2021-03-04 13:05:09"}, "{}"),
        ("registration_form", "reg_iso_t", "2021-03-04T13:05:09", {"registered_at": "2021-03-04 13:05:09"}, "{}"),
        ("registration_form", "reg_na", "N/A", {"registered_at": None}, "{}"),
        (
            "registration_form",
            "reg_impossible",
            "2021-02-30 13:05",
            {"registered_at": None},
            "{registration_date_invalid}",
        ),
        ("name_form", "name_last_first", "McDonald, Ann", {"full_name": "Ann McDonald"}, "{}"),
        # All capitals cannot be undone: the expected value is the rule's output (N1 and its note).
        ("name_form", "name_last_first_caps", "MCDONALD,  ANN", {"full_name": "Ann Mcdonald"}, "{}"),
        ("name_form", "name_extra_spaces", "  Ann   McDonald ", {"full_name": "Ann McDonald"}, "{}"),
        ("phone_form", "phone_leading_00", "001-555-201-1234", {"phone": "+15552011234"}, "{}"),
        ("phone_form", "phone_parens", "(555) 201-1234", {"phone": "+15552011234"}, "{}"),
        (
            "phone_form",
            "phone_extension",
            "(555) 201-1234 x100",
            {"phone": "(555) 201-1234 x100"},
            "{phone_not_normalized}",
        ),
        (
            "phone_form",
            "phone_cut_20",
            "+1-555-201-1234 x100",
            {"phone": "+1-555-201-1234 x100"},
            "{phone_not_normalized}",
        ),
        ("phone_form", "phone_short", "201-1234", {"phone": "201-1234"}, "{phone_not_normalized}"),
        (
            "address_form",
            "address_country_variant",
            "1 Main St, Apt. 2, Springfield, IL 62701, US",
            {"country": "US", "country_code": "US", "city": "Springfield"},
            "{}",
        ),
        (
            "address_form",
            "address_country_unknown",
            "1 Main St, Apt. 2, Springfield, IL 62701, Amerika",
            {"country": "Amerika", "country_code": None},
            "{country_unknown}",
        ),
        (
            "address_form",
            "address_no_country",
            "1 Main St, Apt. 2, Springfield, IL 62701",
            {"country": None, "country_code": None, "street": "1 Main St, Apt. 2"},
            "{}",
        ),
        (
            "address_form",
            "address_no_street",
            "Springfield, IL 62701, USA",
            {"street": None, "city": "Springfield", "country": "USA", "country_code": "US"},
            "{}",
        ),
        (
            "address_form",
            "address_no_state_zip",
            "1 Main St, Apt. 2, Springfield, USA",
            {
                "street": None,
                "city": None,
                "state": None,
                "country": None,
                "country_code": None,
                "address_raw": "1 Main St, Apt. 2, Springfield, USA",
            },
            "{address_not_split}",
        ),
        (
            "address_form",
            "address_stray_spaces",
            "  1  Main  St,  Apt.  2 ,Springfield,  IL  62701 , USA ",
            {"street": "1 Main St, Apt. 2", "state": "IL", "postal_code": "62701", "country": "USA"},
            "{}",
        ),
        ("address_form", "address_null", None, {"street": None, "address_raw": None}, "{}"),
    ],
)
def test_user_dirt_has_the_answer_the_rules_give(
    column: str, pattern: str, legacy: str | None, expected: dict[str, object], warnings: str
) -> None:
    rendered = render_users([ANN], _forms("old_users", 1, **{column: [pattern]}), np.zeros(1, dtype=np.int64))
    legacy_column = {
        "email_form": 2,
        "registration_form": 4,
        "name_form": 3,
        "phone_form": 6,
        "address_form": 5,
    }[column]
    assert rendered.legacy_rows[0][legacy_column] == legacy
    answer = _user(rendered.answer_rows[0])
    assert answer["outcome"] == "migrated"
    assert {key: answer[key] for key in expected} == expected
    assert rendered.answer_rows[0][WARNINGS] == warnings


def test_a_military_address_is_split_with_its_post_office_as_city() -> None:
    soldier = CanonicalUser(
        2, "ben2", "Ben", "Ode", "ben.ode2@yahoo.com", seconds(2020, 1, 1), Phone("44", ("20", "7946", "0958")),
        Address("address_military", "PSC 1234, Box 5678", "APO", "AA", "09876"),
    )  # fmt: skip
    rendered = render_users([soldier], _forms("old_users", 1), np.ones(1, dtype=np.int64))
    legacy = rendered.legacy_rows[0]
    assert legacy[5] == "PSC 1234, Box 5678, APO AA 09876, USA"
    assert legacy[6] == "+44 20 7946 0958"  # abroad: written the international way, whatever was drawn
    answer = _user(rendered.answer_rows[0])
    assert (answer["street"], answer["city"], answer["state"], answer["postal_code"]) == (
        "PSC 1234, Box 5678",
        "APO",
        "AA",
        "09876",
    )
    assert answer["phone"] == "+442079460958"


def test_a_second_registration_with_the_email_in_capitals_is_merged_into_the_first() -> None:
    again = CanonicalUser(7, "annlee7", "Ann", "McDonald", ANN.email, seconds(2022, 5, 6), ANN.phone, ANN.address)
    rendered = render_users(
        [ANN, again], _forms("old_users", 2), np.zeros(2, dtype=np.int64), merged_into=np.array([-1, 1])
    )
    assert rendered.legacy_rows[1][2] == "ANN.MCDONALD1@GMAIL.COM"
    assert rendered.legacy_rows[0][2] != rendered.legacy_rows[1][2]  # the legacy unique constraint lets it in
    assert rendered.answer_rows[1][:4] == (7, "merged", "duplicate_email", 1)
    assert rendered.answer_rows[1][catalogue.columns("old_users").index("row_form") + WARNINGS + 1] == (
        "user_duplicate_registration"
    )
    assert list(rendered.survivor_ids) == [1, 1]


@pytest.mark.parametrize(
    ("pattern", "cents", "currency", "legacy", "price", "expected_currency", "warnings"),
    [
        ("price_thousands_eu", 123_456, "EUR", "1.234,56 EUR", "1234.56", "EUR", "{}"),
        # A bare amount is LEGACY_CURRENCY, with a warning (B).
        ("price_thousands_us", 123_456, "USD", "1,234.56", "1234.56", "USD", "{currency_assumed}"),
        ("price_euro_comma", 1_250, "EUR", "€12,50", "12.50", "EUR", "{}"),
        ("price_short_decimals", 1_250, "USD", "12.5 USD", "12.50", "USD", "{}"),
        ("price_integer", 1_200, "USD", "12", "12.00", "USD", "{currency_assumed}"),
        ("price_dollar", 1_250, "USD", "$12.50", "12.50", "USD", "{}"),
        ("price_free", 0, "USD", "free", "0.00", "USD", "{currency_assumed}"),
        ("price_na", 1_250, "USD", "N/A", None, None, "{}"),  # a missing price: no warning (R3 note)
        ("price_negative", 1_250, "EUR", "-12.50 EUR", None, None, "{price_negative}"),
        ("price_unreadable", 1_250, "USD", "TBD", None, None, "{price_invalid}"),
        # A form that cannot write the value falls back to the legacy app's own way to write it.
        ("price_thousands_us", 1_250, "USD", "12.50", "12.50", "USD", "{currency_assumed}"),
    ],
)
def test_product_prices_have_the_answer_m1_to_m3_give(
    pattern: str,
    cents: int,
    currency: str,
    legacy: str,
    price: str | None,
    expected_currency: str | None,
    warnings: str,
) -> None:
    product = CanonicalProduct(3, "Oak Table", "A table.", "Home Goods", cents, currency, seconds(2020, 5, 24))
    rendered = render_products([product], _forms("old_products", 1, price_form=[pattern]), np.zeros(1, np.int64))
    assert rendered.legacy_rows[0][3] == legacy
    assert rendered.answer_rows[0][7:10] == (price, expected_currency, "2020-05-24 00:00:00")
    assert rendered.answer_rows[0][10] == warnings
    # What a bare unit price of this product's orders reads as (B): the currency its price names, "" for none,
    # None where an unreadable price names one (its orders then always write theirs).
    named = {"price_negative": None, "price_thousands_eu": "EUR", "price_euro_comma": "EUR"}.get(pattern, "")
    assert rendered.named_currency[0] == ("USD" if pattern in ("price_short_decimals", "price_dollar") else named)


@pytest.mark.parametrize(
    ("column", "pattern", "legacy_index", "legacy", "answer_index", "expected", "warnings"),
    [
        # The price is written bare, as the legacy app did: USD with a warning (B).
        ("category_form", "category_typo", 4, "sprots", 6, "Sports", "{currency_assumed}"),
        ("category_form", "category_spanish", 4, "deportes", 6, "Sports", "{currency_assumed}"),
        ("category_form", "category_spacing", 4, "  Sports ", 6, "Sports", "{currency_assumed}"),
        ("category_form", "category_unknown", 4, "Gadgets", 6, None, "{currency_assumed,category_unknown}"),
        ("created_form", "created_mdy_day_over_12", 5, "05/24/2020", 9, "2020-05-24 00:00:00", "{currency_assumed}"),
        (
            "created_form",
            "created_impossible",
            5,
            "2020-02-30 00:00",
            9,
            None,
            "{currency_assumed,created_date_invalid}",
        ),
        ("name_form", "product_name_stray_spaces", 1, "  Oak Table ", 4, "Oak Table", "{currency_assumed}"),
    ],
)
def test_product_dirt_has_the_answer_the_rules_give(
    column: str,
    pattern: str,
    legacy_index: int,
    legacy: str,
    answer_index: int,
    expected: str | None,
    warnings: str,
) -> None:
    product = CanonicalProduct(3, "Oak Table", "A table.", "Sports", 1_250, "USD", seconds(2020, 5, 24))
    rendered = render_products([product], _forms("old_products", 1, **{column: [pattern]}), np.zeros(1, np.int64))
    assert rendered.legacy_rows[0][legacy_index] == legacy
    assert rendered.answer_rows[0][answer_index] == expected
    assert rendered.answer_rows[0][10] == warnings


def test_a_product_without_a_name_is_rejected() -> None:
    product = CanonicalProduct(3, "Oak Table", "A table.", "Sports", 1_250, "USD", seconds(2020, 5, 24))
    rendered = render_products(
        [product], _forms("old_products", 1, name_form=["product_name_missing"]), np.full(1, 2, np.int64)
    )
    assert rendered.legacy_rows[0][1] == "N/A"
    assert rendered.answer_rows[0][:3] == (3, "rejected", "product_name_missing")
    assert not rendered.migrated[0]


# ---- orders in a small hand-made world ----------------------------------------------------------------------


def _world() -> tuple[UserIndex, ProductIndex]:
    """Users 1 (registered 2021-03-04), 2 (a second registration of 1), 3 (email invalid, registered 2020-01-01);
    products 1 and 2 both called "Oak Table" (12.50 and 19.99 USD; the first's price names its currency), 3 free."""
    users = UserIndex(
        usernames=np.array(["ann1", "ann2", "cy3"], dtype=object),
        raw_emails=np.array(["ann@x.com", "ANN@X.COM", "cy@@x.com"], dtype=object),
        email_valid=np.array([True, True, False]),
        survivor_ids=np.array([1, 1, 3]),
        registered_day=np.array([seconds(2021, 3, 4), seconds(2021, 6, 1), seconds(2020, 1, 1)]) // 86_400,
        registered_at=np.array([seconds(2021, 3, 4, 9), seconds(2021, 6, 1, 9), seconds(2020, 1, 1, 9)]),
    )
    products = ProductIndex(
        names=np.array(["Oak Table", "Oak Table", "Sample Cup"], dtype=object),
        migrated=np.array([True, True, True]),
        price_cents=np.array([1_250, 1_999, 0]),
        currency=np.array(["USD", "USD", "USD"], dtype=object),
        true_cents=np.array([1_250, 1_999, 0]),
        true_currency=np.array(["USD", "USD", "USD"], dtype=object),
        partner=np.array([1, 0, -1]),
        named_currency=np.array(["USD", "", ""], dtype=object),
    )
    return users, products


ORDER_CASES = [
    # (user, product, quantity, status, chosen forms) -> (outcome, reason, merged_into, user, product, total, warnings)
    (2, 3, 2, "shipped", {"user_form": "order_user_email", "unit_price_form": "unit_price_free"},
     ("migrated", None, None, 1, 3, "0.00", "{currency_assumed}")),
    (1, 2, 3, "pending", {"total_form": "total_mismatch_amount"},
     ("migrated", None, None, 1, 2, "59.97", "{currency_assumed,total_mismatch}")),
    (1, 3, 1, "pending", {"row_form": "order_double_submit"}, ("merged", "duplicate_order", 2, None, None, None, "{}")),
    (1, 1, 1, "pending", {"unit_price_form": "unit_price_unreadable"},
     ("rejected", "product_ambiguous", None, None, None, None, "{}")),
    (1, 3, 1, "pending", {"date_form": "order_date_future", "status_form": "status_unknown"},
     ("rejected", "order_date_in_future", None, None, None, None, "{}")),
    (1, 3, 1, "pending", {"user_form": "order_user_unknown", "quantity_form": "quantity_null"},
     ("rejected", "user_not_found", None, None, None, None, "{}")),
    (1, 3, 1, "pending", {"date_form": "order_date_before_registration"},
     ("migrated", None, None, 1, 3, "0.00", "{order_before_registration,currency_assumed}")),
    (3, 3, 1, "pending", {"user_form": "order_user_email"},
     ("rejected", "user_not_found", None, None, None, None, "{}")),
    (3, 3, 1, "delivered", {"status_form": "status_spanish", "quantity_form": "quantity_boundary"},
     ("migrated", None, None, 3, 3, "0.00", "{currency_assumed}")),
    (1, 3, 1, "pending", {"quantity_form": "quantity_absurd", "status_form": "status_unknown"},
     ("rejected", "quantity_implausible", None, None, None, None, "{}")),
    # A double submit of an order that does not migrate is not written: the row stays a single submit.
    (1, 3, 1, "pending", {"row_form": "order_double_submit", "status_form": "status_unknown"},
     ("rejected", "status_unknown", None, None, None, None, "{}")),
    (1, 3, 1, "returned", {"total_form": "total_na"},
     ("migrated", None, None, 1, 3, "0.00", "{currency_assumed,total_missing}")),
    (1, 2, 3, "pending", {"date_form": "order_date_before_registration", "total_form": "total_mismatch_amount"},
     ("migrated", None, None, 1, 2, "59.97", "{order_before_registration,currency_assumed,total_mismatch}")),
    # A bare unit price found by its amount among products sharing a name takes the currency its price names.
    (1, 1, 2, "pending", {}, ("migrated", None, None, 1, 1, "25.00", "{currency_from_product}")),
    (1, 1, 2, "pending", {"unit_price_form": "unit_price_usd_suffix"}, ("migrated", None, None, 1, 1, "25.00", "{}")),
    # A total in another currency, written, never agrees (O5); a bare one is read in the order's (B).
    (1, 2, 1, "pending", {"total_form": "total_mismatch_currency"},
     ("migrated", None, None, 1, 2, "19.99", "{currency_assumed,total_mismatch}")),
]  # fmt: skip


def test_orders_get_the_first_reason_in_the_rules_order() -> None:
    users, products = _world()
    orders = [
        CanonicalOrder(i + 1, user, product, seconds(2022, 7, 8, 10, 30), quantity, status)
        for i, (user, product, quantity, status, _, _) in enumerate(ORDER_CASES)
    ]
    chosen: dict[str, list[str]] = defaultdict(list)
    for column in catalogue.columns("old_orders"):
        default = next(p.id for p in catalogue.column_patterns("old_orders", column) if p.default)
        for case in ORDER_CASES:
            chosen[column].append(case[4].get(column, default))
    forms = {column: catalogue.encode("old_orders", column, ids) for column, ids in chosen.items()}
    rendered = render_orders(OrderBatch.of(orders), forms, np.zeros(len(orders), np.int64), users, products)
    for i, case in enumerate(ORDER_CASES):
        answer = rendered.answer_rows[i]
        outcome, reason, merged_into, user, product, total, warnings = case[5]
        got = (answer[1], answer[2], answer[3], answer[4], answer[5], answer[11], answer[12])
        assert got == (outcome, reason, merged_into, user, product, total, warnings), (i, rendered.legacy_rows[i])
    # The double submit repeats the order before it in every column but the id.
    assert rendered.legacy_rows[2][1:] == rendered.legacy_rows[1][1:]
    assert rendered.forms["row_form"][2] == "order_double_submit" and rendered.forms["row_form"][10] == "order_single"
    # The order by the second registration's email names the user it was merged into.
    assert rendered.legacy_rows[0][1] == "ANN@X.COM" and rendered.forms["user_form"][0] == "order_user_merged"
    assert rendered.legacy_rows[0][6] == "free"
    assert rendered.forms["product_form"][1] == "order_product_shared_name"
    assert rendered.forms["product_form"][3] == "order_product_shared_ambiguous"
    assert rendered.forms["user_form"][7] == "order_user_email_invalid"
    assert rendered.legacy_rows[6][2] < "2021-03-04"  # before user 1's registration day
    assert rendered.legacy_rows[8][3] == "entregado"
    # Each answer row names its legacy row: the legacy ids line up.
    assert [row[0] for row in rendered.answer_rows] == [row[0] for row in rendered.legacy_rows]


def test_the_spellings_the_seeder_uses_are_the_ones_the_mapping_seeds_know() -> None:
    categories, statuses, countries = _keyed("category_synonyms"), _keyed("status_synonyms"), country_codes()
    for table in (LEGACY_CATEGORY_SPELLINGS, CATEGORY_SPANISH, CATEGORY_SYNONYMS, CATEGORY_TYPOS):
        for category, spellings in table.items():
            assert all(categories[key(s)] == category for s in spellings), (category, spellings)
    for table in (LEGACY_STATUS_SPELLINGS, STATUS_SPANISH, STATUS_SYNONYMS):
        for status, spellings in table.items():
            assert all(statuses[key(s)] == status for s in spellings), (status, spellings)
    assert all(countries[key(c)] == "US" for c in (*COUNTRY_SPELLINGS, "USA"))
    # The deliberately unknown ones must stay unknown.
    assert not {key(c) for c in UNKNOWN_CATEGORIES} & set(categories)
    assert not {key(s) for s in UNKNOWN_STATUSES} & set(statuses)
    assert not {key(c) for c in (*UNKNOWN_COUNTRIES, *grammar.UNKNOWN_COUNTRIES)} & set(countries)
    # Every country spelling the wild grammar writes is the seed's, for the same country.
    written = {spelling: code for code, forms in grammar.country_spellings().items() for spelling in forms.values()}
    assert {s: countries.get(key(s)) for s in written} == written


def test_the_catalogue_page_is_generated_from_the_catalogue() -> None:
    page = (PROJECT_ROOT / "docs" / "dirt-catalogue.md").read_text()
    assert page == catalogue.markdown(), "run: python -m seeder catalogue > docs/dirt-catalogue.md"


# ---- a second reading of the rules, from docs/cleaning-rules.md alone ----------------------------------------

MISSING, UNREADABLE = "missing", "unreadable"
LEGACY_CURRENCY = "USD"


def c1(text: object) -> str | None:
    if text is None:
        return None
    trimmed = str(text).strip(" ")
    return None if trimmed.lower() in {"", "n/a", "na", "null", "none", "-"} else trimmed


_FOLDED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "ß": "ss", "æ": "ae", "œ": "oe"})


def key(text: str) -> str:
    """Rule C: case, accents (NFKD) and every space, punctuation mark and separator folded away."""
    folded = unicodedata.normalize("NFKD", text.lower()).translate(_FOLDED)
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN" and not unicodedata.combining(c))


def _keyed(name: str) -> dict[str, str]:
    return {key(spelling): value for spelling, value in _mapping(name).items()}


def country_codes() -> dict[str, str]:
    """The country_names seed by folded key: spelling -> ISO 3166-1 alpha-2 (rule D)."""
    with (SEEDS / "country_names.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    if rows[0] == ["country_spelling", "country_code"]:
        return {key(spelling): code for spelling, code in rows[1:]}
    # The seed is still the one before rule D: read what its script will write (dbt_project/scripts).
    spec = importlib.util.spec_from_file_location("country_names", SEEDS.parent / "scripts" / "country_names.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return {key(spelling): code for spelling, code in script.generated_rows()}


EN = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
      "november", "december")  # fmt: skip
ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
      "noviembre", "diciembre")  # fmt: skip
MONTHS = {name: i + 1 for names in (EN, ES) for i, name in enumerate(names)} | {
    name[:3]: i + 1 for names in (EN, ES) for i, name in enumerate(names)
}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_CLOCK = r"(?:(?:[Tt]| +|, +)(\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([ap])\.?m\.?)?(z)?)?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
DATE_FORMS = (
    # (pattern on the lower-cased text, group of year, month, day, first group of the clock)
    (re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _CLOCK), 1, 3, 4, 5),
    (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})" + _CLOCK), 3, 2, 1, 4),
    (re.compile(_MONTH + " +" + _DAY + ",? +(\\d{4})" + _CLOCK), 3, 1, 2, 4),
    (re.compile(_DAY + " +(?:de +)?" + _MONTH + ",? +(?:de +)?(\\d{4})" + _CLOCK), 3, 2, 1, 4),
    (re.compile(r"(\d{1,2})-" + _MONTH + r"-(\d{4})" + _CLOCK), 3, 2, 1, 4),
)


def read_timestamp(text: object) -> datetime | str:
    """Rule A (with T2 for slash dates): the time written, in UTC, without a zone."""
    value = c1(text)
    if value is None:
        return MISSING
    lowered = value.lower()
    try:
        if re.fullmatch(r"\d{9,10}", value):
            return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
        if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{2}) ?([ap])m)?", lowered):
            a, b, year = int(m[1]), int(m[2]), int(m[3])
            timed = m[4] is not None
            month, day = (b, a) if a > 12 else (a, b) if b > 12 else (a, b) if timed else (b, a)
            hour = (int(m[4]) % 12 + (12 if m[6] == "p" else 0)) if timed and 1 <= int(m[4]) <= 12 else 0
            if timed and not 1 <= int(m[4]) <= 12:
                return UNREADABLE
            return datetime(year, month, day, hour, int(m[5] or 0))
        for pattern, y, mo, d, t in DATE_FORMS:
            if m := pattern.fullmatch(lowered):
                month = int(m[mo]) if m[mo].isdigit() else MONTHS[m[mo]]
                hour = int(m[t] or 0)
                if m[t + 3]:
                    if not 1 <= hour <= 12:
                        return UNREADABLE
                    hour = hour % 12 + (12 if m[t + 3] == "p" else 0)
                read = datetime(int(m[y]), month, int(m[d]), hour, int(m[t + 1] or 0), int(m[t + 2] or 0))
                return read if 1900 <= read.year <= 2100 else UNREADABLE
    except ValueError:
        return UNREADABLE
    return UNREADABLE


CODES = {currency.alpha_3 for currency in pycountry.currencies}
# Rule B's symbols and words; a shared one reads as LEGACY_CURRENCY only where that is among its currencies.
MARKS = {
    "€": ("EUR",), "euro": ("EUR",), "euros": ("EUR",), "£": ("GBP",), "us$": ("USD",), "₹": ("INR",),
    "₩": ("KRW",), "₽": ("RUB",), "₺": ("TRY",), "₪": ("ILS",), "zł": ("PLN",),
    "$": ("USD", "CAD", "AUD"), "dollar": ("USD", "CAD", "AUD"), "dollars": ("USD", "CAD", "AUD"),
    "¥": ("JPY", "CNY"), "kr": ("SEK", "NOK", "DKK", "ISK"),
}  # fmt: skip


def read_currency(mark: str) -> str | None:
    lowered = mark.lower()
    if lowered.upper() in CODES and len(lowered) == 3 and lowered.isalpha():
        return lowered.upper()
    currencies = MARKS.get(lowered, ())
    if len(currencies) == 1:
        return currencies[0]
    return LEGACY_CURRENCY if LEGACY_CURRENCY in currencies else None


def read_money(text: object) -> tuple[Decimal, str | None] | str:
    """M1 and B: the amount (negative where written so) and the currency written, None for a bare amount."""
    value = c1(text)
    if value is None:
        return MISSING
    if value.lower() in ("free", "gratis"):
        return Decimal("0.00"), None
    m = re.fullmatch(r"(-?)\s*([^\d\s.,-](?:.*[^\d\s.,-])?)?\s*(-?\d[\d.,]*)\s*([^\d\s.,-].*)?", value)
    if m is None or (m[2] and m[4]):
        return UNREADABLE
    currency = None
    if m[2] or m[4]:
        currency = read_currency(m[2] or m[4])
        if currency is None:
            return UNREADABLE
    digits = m[1] + m[3]
    amount = None
    if re.fullmatch(r"-?\d+(\.\d{1,2})?", digits):
        amount = Decimal(digits)
    elif re.fullmatch(r"-?\d{1,3}(,\d{3})+\.\d{1,2}|-?\d{1,3}(,\d{3}){2,}", digits):
        amount = Decimal(digits.replace(",", ""))
    elif re.fullmatch(r"-?\d{1,3}(\.\d{3})+,\d{1,2}|-?\d{1,3}(\.\d{3}){2,}", digits):
        amount = Decimal(digits.replace(".", "").replace(",", "."))
    elif re.fullmatch(r"-?\d+,\d{1,2}", digits):
        amount = Decimal(digits.replace(",", "."))
    assert not re.fullmatch(r"-?\d+[.,]\d{3}", digits), f"the seeder writes no ambiguous amount (M4): {value}"
    if amount is not None and abs(amount) < 10_000_000:
        return amount, currency
    return UNREADABLE


def read_phone(text: object) -> tuple[str | None, bool]:
    """P1: the phone and whether it was kept as written."""
    value = c1(text)
    if value is None:
        return None, False
    digits = re.sub(r"\D", "", value)
    if re.search(r"x|ext", value, re.IGNORECASE):
        return value, True
    if value.startswith("+") and 8 <= len(digits) <= 15:
        return "+" + digits, False
    if digits.startswith("00") and 8 <= len(digits) - 2 <= 15:
        return "+" + digits[2:], False
    if len(digits) == 10:
        return "+1" + digits, False
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits, False
    return value, True


def read_email(text: object) -> tuple[str | None, bool]:
    """E1, E2: the email and whether it was invalid."""
    value = c1(text)
    if value is None:
        return None, False
    email = value.lower()
    domain = email.split("@")[-1]
    valid = email.count("@") == 1 and " " not in email and "." in domain and not email.endswith(".")
    return (email if valid else None), not valid


def tidy(text: object) -> str | None:
    """N1."""
    value = c1(text)
    if value is None:
        return None
    spaced = " ".join(value.split())
    turned = spaced
    if "," in spaced:
        last, first = spaced.split(",")[:2]
        turned = f"{first.strip()} {last.strip()}"
    if spaced.isupper():
        out, previous = [], False
        for char in turned:
            out.append(char.lower() if previous else char.upper())
            previous = char.isalnum()
        return "".join(out)
    return turned


def split_address(text: object, countries: dict[str, str]) -> tuple[tuple[str | None, ...], list[str]] | None:
    """A1 and D: (street, city, state, postal code, country as written, its code) and the warnings."""
    value = c1(text)
    if value is None:
        return None
    parts = [" ".join(p.split(" ")).strip(" ") for p in value.split(",")]
    parts = [re.sub(" +", " ", p) for p in parts]
    state_zip = re.compile(r"([A-Z]{2}) (\d{5}(?:-\d{4})?)")
    military = re.compile(r"(APO|FPO|DPO) ([A-Z]{2}) (\d{5}(?:-\d{4})?)")
    nothing = (None, None, None, None, None, None), ["address_not_split"]
    warnings = []
    if state_zip.fullmatch(parts[-1]):
        country, code, rest, place = None, None, parts[:-1], parts[-1]
    else:
        if len(parts) < 2:
            return nothing
        country, rest, place = parts[-1], parts[:-2], parts[-2]
        code = countries.get(key(country))
        if code is None:
            warnings.append("country_unknown")
    if m := military.fullmatch(place):
        city, state, postal = m[1], m[2], m[3]
        street = ", ".join(rest) or None
    elif m := state_zip.fullmatch(place):
        state, postal = m[1], m[2]
        city = rest[-1] if rest else None
        street = ", ".join(rest[:-1]) or None
    else:
        return nothing
    return (street, city, state, postal, country, code), warnings


def _ts(value: datetime | str) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else None


def _warnings(text: object) -> set[str]:
    return set(str(text).strip("{}").split(",")) - {""}


@pytest.mark.parametrize("profile", ["dirty", "legacy", "wild"])
def test_every_generated_row_has_the_answer_a_second_reading_of_the_rules_gives(profile: catalogue.Profile) -> None:
    categories, statuses = _keyed("category_synonyms"), _keyed("status_synonyms")
    countries = country_codes()
    rows: dict[str, list[tuple[tuple[object, ...], tuple[object, ...]]]] = defaultdict(list)
    for chunk in generate(11, Sizes(orders=6_000), profile):
        rows[chunk.table] += list(zip(chunk.legacy_rows, chunk.answer_rows, strict=True))
    assert len(rows["old_orders"]) == 6_000 and len(rows["old_users"]) == 1_200

    # Users (U1, E1/E2, A, N1, P1, A1, D).
    by_email: dict[str, int] = {}
    user_keys: dict[str, int] = {}
    user_day: dict[int, object] = {}
    for legacy, answer in rows["old_users"]:
        email, invalid = read_email(legacy[2])
        if email is not None and email in by_email:
            assert answer[1:4] == ("merged", "duplicate_email", by_email[email]), legacy
            survivor = by_email[email]
        else:
            survivor = legacy[0]
            if email is not None:
                by_email[email] = legacy[0]
            expected = _user(answer)
            warnings = _warnings(answer[WARNINGS])
            registered = read_timestamp(legacy[4])
            phone, kept = read_phone(legacy[6])
            address = split_address(legacy[5], countries)
            assert expected["outcome"] == "migrated"
            assert expected["email"] == email and ("email_invalid" in warnings) == invalid, legacy
            assert expected["registered_at"] == _ts(registered), legacy
            assert ("registration_date_invalid" in warnings) == (registered == UNREADABLE), legacy
            assert expected["full_name"] == tidy(legacy[3]), legacy
            assert (expected["phone"], "phone_not_normalized" in warnings) == (phone, kept), legacy
            parts = address[0] if address else (None,) * 6
            fields = ("street", "city", "state", "postal_code", "country", "country_code")
            assert tuple(expected[k] for k in fields) == parts, legacy
            assert expected["address_raw"] == (legacy[5] if address else None), legacy
            address_warnings = {"address_not_split", "country_unknown"} & warnings
            assert address_warnings == set(address[1] if address else []), legacy
            user_day[legacy[0]] = registered
        user_keys[re.sub(r"\s", "", legacy[1]).lower()] = survivor
        if email is not None:
            user_keys[email] = survivor

    # Products (R1, R2, R3, B).
    by_name: dict[str, list[tuple[int, tuple[object, object]]]] = defaultdict(list)
    names_currency: dict[int, str | None] = {}
    for legacy, answer in rows["old_products"]:
        name = c1(legacy[1])
        if name is None:
            assert answer[1:3] == ("rejected", "product_name_missing"), legacy
            continue
        price = read_money(legacy[3])
        category_key = key(legacy[4]) if c1(legacy[4]) else None
        created = read_timestamp(legacy[5])
        warnings = _warnings(answer[10])
        readable = isinstance(price, tuple) and price[0] >= 0
        currency = (price[1] or LEGACY_CURRENCY) if readable else None  # type: ignore[index]
        assert answer[4] == name and answer[5] == c1(legacy[2]), legacy
        assert answer[6] == (categories.get(category_key) if category_key else None), legacy
        assert ("category_unknown" in warnings) == (category_key is not None and category_key not in categories)
        assert (answer[7], answer[8]) == ((f"{price[0]:.2f}", currency) if readable else (None, None)), legacy
        assert ("currency_assumed" in warnings) == (readable and price[1] is None), legacy  # type: ignore[index]
        assert ("price_negative" in warnings) == (isinstance(price, tuple) and price[0] < 0), legacy
        assert ("price_invalid" in warnings) == (price == UNREADABLE), legacy
        assert answer[9] == _ts(created) and ("created_date_invalid" in warnings) == (created == UNREADABLE)
        by_name[" ".join(name.split()).lower()].append((legacy[0], (answer[7], answer[8])))
        names_currency[legacy[0]] = price[1] if isinstance(price, tuple) else None  # type: ignore[index]

    # Orders (O1-O7, B), reasons in the rules' order.
    max_quantity = int(str(dbt_var("max_order_quantity")))
    seen: dict[tuple[object, ...], int] = {}
    reasons: Counter[str] = Counter()
    for legacy, answer in rows["old_orders"]:
        first = seen.setdefault(legacy[1:], legacy[0])
        reason, user, product = None, None, None
        identifier = c1(legacy[1])
        name = c1(legacy[4])
        ordered = read_timestamp(legacy[2])
        price = read_money(legacy[6])
        quantity = legacy[5]
        status = statuses.get(key(str(legacy[3])))
        matching: list[int] = []
        if first != legacy[0]:
            reason = "duplicate_order"
        elif identifier is None:
            reason = "user_missing"
        elif (user := user_keys.get(re.sub(r"\s", "", identifier).lower())) is None:
            reason = "user_not_found"
        elif name is None:
            reason = "product_missing"
        elif not (candidates := by_name.get(" ".join(name.split()).lower())):
            reason = "product_not_found"
        elif len(candidates) > 1 and (
            not isinstance(price, tuple)
            or len(
                matching := [
                    c
                    for c, (amount, currency) in candidates
                    if amount == f"{price[0]:.2f}" and (price[1] is None or currency == price[1])
                ]
            )
            != 1
        ):
            reason = "product_ambiguous"
        elif ordered == MISSING:
            reason = "order_date_missing"
        elif ordered == UNREADABLE:
            reason = "order_date_invalid"
        elif ordered > datetime(2026, 1, 1):  # type: ignore[operator]
            reason = "order_date_in_future"
        elif quantity is None:
            reason = "quantity_missing"
        elif quantity <= 0:
            reason = "quantity_not_positive"
        elif quantity > max_quantity:
            reason = "quantity_implausible"
        elif status is None:
            reason = "status_unknown"
        elif price == MISSING:
            reason = "unit_price_missing"
        elif price == UNREADABLE or price[0] < 0:  # type: ignore[index]
            reason = "unit_price_invalid"
        else:
            product = candidates[0][0] if len(candidates) == 1 else matching[0]
        reasons[reason or "migrated"] += 1
        if reason is not None:
            outcome = "merged" if reason == "duplicate_order" else "rejected"
            assert answer[1:4] == (outcome, reason, first if outcome == "merged" else None), legacy
            continue
        amount, written = price  # type: ignore[misc]
        named = names_currency[product]  # type: ignore[index]
        currency = written or named or LEGACY_CURRENCY
        currency_warning = None if written else ("currency_from_product" if named else "currency_assumed")
        total = read_money(legacy[7])
        computed = (amount * quantity, currency)
        total_warning = (
            "total_missing"
            if total == MISSING
            else "total_unreadable"
            if total == UNREADABLE
            else "total_mismatch"
            if (total[0], total[1] or currency) != computed  # type: ignore[index]
            else None
        )
        # O7 without strict_dates: an order dated before its user registered migrates, with a warning.
        day = user_day.get(user)
        early = isinstance(day, datetime) and ordered.date() < day.date()  # type: ignore[union-attr]
        warnings = ["order_before_registration"] if early else []
        warning = "{" + ",".join([*warnings, *(w for w in (currency_warning, total_warning) if w)]) + "}"
        if early:
            reasons["order_before_registration"] += 1
        reasons[currency_warning or "currency_written"] += 1
        expected = ("migrated", None, None, user, product, status, _ts(ordered), quantity)
        assert answer[1:9] == expected, legacy
        assert answer[9:13] == (f"{amount:.2f}", currency, f"{computed[0]:.2f}", warning), legacy
    # The check above means little unless the data calls for every order reason the profile writes.
    written_reasons = {
        p.reason for p in catalogue.PATTERNS if p.table == "old_orders" and p.reason and p.rate(profile) > 0
    }
    assert written_reasons - {"total_missing", "total_mismatch", "total_unreadable"} <= set(reasons), reasons
    if profile == "wild":
        # Dated independently of the registration: about half the orders come before it.
        assert 0.3 < reasons["order_before_registration"] / reasons["migrated"] < 0.7, reasons
        assert reasons["currency_from_product"] and reasons["currency_assumed"], reasons
