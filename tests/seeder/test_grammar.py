"""The wild profile: every grammar choice is written, the same seed gives the same world, and the answer key adds up.

Whether each answer is what the rules give is tested once for every profile, by a second reading of the rules
(tests/seeder/test_answer_key.py); here, what is particular to a world written through a grammar.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from functools import cache

import numpy as np
import pandas as pd
import pytest

from loader.core.legacy_schema import LEGACY_SCHEMA, column_contracts
from loader.transform.pandas_engine import parse
from loader.transform.pandas_engine.pg_text import default_rules
from seeder import catalogue, grammar
from seeder.generate import Chunk, Sizes, generate
from seeder.pools import build_pools
from seeder.products import plan_products, render_products
from seeder.text import DAY, seconds
from tests.support.databases import Databases
from tests.support.helpers import count

Row = tuple[object, ...]
SIZE = 5_000


@cache
def world(seed: int = 7, size: int = SIZE) -> tuple[Chunk, ...]:
    return tuple(generate(seed, Sizes(orders=size), "wild"))


def _rows(table: str, seed: int = 7) -> Iterator[tuple[Row, Row]]:
    for chunk in world(seed):
        if chunk.table == table:
            yield from zip(chunk.legacy_rows, chunk.answer_rows, strict=True)


def _parts(labels: list[str]) -> set[str]:
    return {part for label in labels for part in label.split("/")}


# ---- the same seed, the same world ---------------------------------------------------------------------------


def test_the_same_seed_writes_the_same_world_and_another_seed_another() -> None:
    again = tuple(generate(7, Sizes(orders=SIZE), "wild"))
    assert [(c.table, c.legacy_rows, c.answer_rows) for c in again] == [
        (c.table, c.legacy_rows, c.answer_rows) for c in world()
    ]
    other = tuple(generate(8, Sizes(orders=SIZE), "wild"))
    for first, second in zip(world(), other, strict=True):
        assert first.legacy_rows != second.legacy_rows, first.table


def test_a_hand_written_value_is_written_the_same_way_every_time() -> None:
    secs = np.array([seconds(2021, 3, 4, 13, 5, 9)] * 3)
    picks = np.array([5, 5, 6])
    first, second = grammar.write_dates(secs, picks), grammar.write_dates(secs, picks)
    assert first.texts == second.texts and first.labels == second.labels
    assert first.texts[0] == first.texts[1]


# ---- every choice of the grammar is written --------------------------------------------------------------------

N = 4_000
PICKS = np.arange(N, dtype=np.int64) * 7_919 + 13
# Every day of 2015-2024 in turn, at a time of day that changes with it: days above and below 12, every month.
SECS = seconds(2015, 1, 1) + (np.arange(N, dtype=np.int64) * (DAY + 3_607)) % (3_600 * DAY)


def _names(weights: grammar.Weights) -> set[str]:
    return {name for name, _ in weights}


def test_every_date_family_and_its_choices_are_written() -> None:
    written = grammar.write_dates(SECS, PICKS)
    families = Counter(label.split("/")[0] for label in written.labels)
    assert set(families) == _names(grammar.DATE_FAMILIES)
    by_family: dict[str, list[str]] = {}
    for label in written.labels:
        by_family.setdefault(label.split("/")[0], []).append(label)
    assert {label.split("/")[1] for label in by_family["iso"]} == _names(grammar.ISO_TIMES)
    year_first = _parts(by_family["year_first"])
    assert _names(grammar.YEAR_FIRST_SEPARATORS) | _names(grammar.PADDING) | _names(grammar.CLOCKS) <= year_first
    assert _names(grammar.DOTTED_CLOCKS) | _names(grammar.PADDING) <= _parts(by_family["dotted"])
    month = [label.split("/") for label in by_family["month_name"]]
    assert {m[1] for m in month} == _names(grammar.LANGUAGES)
    assert {m[2] for m in month if m[1] == "en"} == _names(grammar.EN_ORDERS)
    assert {m[2] for m in month if m[1] == "es"} == _names(grammar.ES_ORDERS)
    assert {m[3] for m in month} == _names(grammar.MONTH_STYLES)
    assert {m[4] for m in month} == _names(grammar.LETTER_CASES)
    assert {m[5] for m in month} == _names(grammar.DATE_SPACING)
    assert {m[6] for m in month} == _names(grammar.CLOCKS)
    slash = _parts(by_family["slash"])
    assert {"dmy", "mdy_12h", "mdy_day_over_12", "dmy_12h"} | _names(grammar.MERIDIEM_CASES) <= slash
    assert any(label.endswith("/padded") for label in written.labels)
    # The texts themselves: Spanish and English month names, ordinals, `de`, the Oracle form, AM/PM, Z, epoch.
    texts = " | ".join(written.texts).lower()
    for needle in (" de ", "th,", "-mar-", " pm", "z", "t", ".2", "/"):
        assert needle in texts, needle
    assert max(len(text) for text in written.texts) <= grammar.DATE_WIDTH


def test_refused_and_misread_dates_take_every_form() -> None:
    two_digit = grammar.write_two_digit_years(SECS, PICKS)
    assert {label.split("/")[1] for label in two_digit.labels} == _names(grammar.TWO_DIGIT_YEAR_FORMS)
    impossible = grammar.write_impossible_dates(SECS, PICKS)
    assert {label.split("/")[1] for label in impossible.labels} == _names(grammar.IMPOSSIBLE_FORMS)
    for written in (two_digit, impossible):
        assert max(len(text) for text in written.texts) <= grammar.DATE_WIDTH
        assert not re.search(r"(?<!\d)(19|20)\d\d(?!\d)", " ".join(two_digit.texts))
    fits = grammar.ambiguous_slash_fits(SECS)
    misread = grammar.write_ambiguous_slash(SECS[fits], PICKS[fits])
    month, day = (int(part) for part in misread.texts[0].split("/")[:2])
    assert month <= 12 and day <= 12 and month != day
    # Read day-first: the day written second is the month read.
    assert np.datetime64(int(misread.expected[0]), "s").astype(object).month == day


def test_every_money_choice_is_written() -> None:
    cents = [int(c) for c in (PICKS * 37) % 900_000 + 100]
    currencies = ["USD", "EUR", "GBP", "INR", "JPY", "CHF", "PLN", "KRW"] * (N // 8)
    bare = grammar.uniform(PICKS, "test.bare") < 0.2
    written = grammar.write_money(cents, currencies, PICKS, bare, "price")
    labels = [label.split("/") for label in written.labels]
    assert {label[0] for label in labels} == {"bare", *_names(grammar.MONEY_MARKS)}
    marked = [label for label in labels if label[0] != "bare"]
    assert {label[1] for label in marked} == {"before", "after"}
    assert {label[2] for label in marked} == _names(grammar.SPACED)
    assert {label[3] for label in marked} == _names(grammar.MONEY_CASES) | {"none"}
    assert {label[-1] for label in labels} == _names(grammar.MONEY_AMOUNTS) | {"whole"}
    texts = " ".join(written.texts)
    for symbol in ("€", "£", "$", "₹", "₩", "zł", "euro", "dollar"):
        assert symbol in texts.lower(), symbol
    assert max(len(text) for text in written.texts) <= grammar.MONEY_WIDTH
    # No amount M4 would call ambiguous: a single separator before exactly three digits.
    assert not [t for t in written.texts if re.fullmatch(r"\D*\d+[.,]\d{3}\D*", t)]
    # Currencies without minor units are written whole.
    assert all(re.fullmatch(r"\D*\d+\D*", t) for t, cur in zip(written.texts, currencies, strict=True) if cur == "JPY")
    shared = grammar.write_shared_symbol(cents[:40], ["JPY", "SEK", "CNY", "NOK"] * 10, PICKS[:40], "price")
    assert {label.split("/")[1] for label in shared.labels} == set(grammar.SHARED_SYMBOLS)


def test_every_word_choice_is_written_and_keeps_its_key() -> None:
    spellings = ["en proceso", "electrónica", "returned?", "home goods", "Shipped"] * (N // 5)
    texts, labels = grammar.write_words(spellings, PICKS, "status", grammar.STATUS_WIDTH)
    parts = [label.split("/") for label in labels if label != "as_written"]
    assert {p[0] for p in parts} == _names(grammar.KEY_CASES)
    assert {p[1] for p in parts} == _names(grammar.KEY_SEPARATORS) | {"single_word"}
    assert {p[2] for p in parts} == _names(grammar.KEY_ACCENTS) | {"ascii"}
    assert {p[3] for p in parts} == _names(grammar.KEY_PUNCTUATION)
    assert {p[4] for p in parts} == _names(grammar.KEY_OUTER)
    assert all(grammar.mapping_key(t) == grammar.mapping_key(s) for t, s in zip(texts, spellings, strict=True))
    # The seeder's key is the engines' (rule S1): checked against the pandas engine's, which the differential and
    # parse tests hold to the macro.
    engine_keys = parse.mapping_key(pd.Series([*texts, *spellings], dtype="str"), default_rules()).tolist()
    assert engine_keys == [grammar.mapping_key(text) for text in [*texts, *spellings]]


def test_every_country_form_is_written_and_no_two_countries_share_a_key() -> None:
    unknown = grammar.uniform(PICKS, "test.unknown") < 0.05
    written = grammar.write_countries(PICKS, unknown=unknown)
    labels = [label.split("/") for label in written.labels]
    assert {label[0] for label in labels} == _names(grammar.COUNTRY_FORMS) | {"unknown"}
    assert {label[1] for label in labels} == _names(grammar.COUNTRY_CASES)
    assert {label[2] for label in labels} == _names(grammar.COUNTRY_ACCENTS) | {"ascii"}
    assert {label[3] for label in labels} == _names(grammar.CODE_DOTS)
    assert {label[4] for label in labels} == _names(grammar.COUNTRY_SPACING)
    # The whole ISO list, the US most of all; unknown ones have no code.
    codes = Counter(code for code in written.codes if code)
    assert len(codes) > 200 and codes.most_common(1)[0][0] == "US"
    assert all((code is None) == bool(u) for code, u in zip(written.codes, unknown.tolist(), strict=True))
    assert all("," not in text for text in written.texts)
    assert all(
        expected == " ".join(text.split()) for text, expected in zip(written.texts, written.expected, strict=True)
    )
    keys: dict[str, str] = {}
    for code, forms in grammar.country_spellings().items():
        for spelling in forms.values():
            assert keys.setdefault(grammar.mapping_key(spelling), code) == code, spelling
    assert not {grammar.mapping_key(c) for c in grammar.UNKNOWN_COUNTRIES} & set(keys)


def test_every_wild_pattern_is_written_at_a_small_size() -> None:
    drawn = {p.id for p in catalogue.PATTERNS if p.rate("wild") > 0 and not p.conditional}
    seen: set[str] = set()
    for chunk in world():
        columns = catalogue.columns(chunk.table)  # type: ignore[arg-type]
        first = len(chunk.answer_rows[0]) - len(columns) - 1  # the pattern columns, then `grammar`
        for answer in chunk.answer_rows:
            seen.update(str(v) for v in answer[first : first + len(columns)])
    # Products are few at this size (one per 50 orders): their patterns are checked on a catalogue of their own.
    product_patterns = {p.id for p in catalogue.PATTERNS if p.table == "old_products"}
    assert drawn - product_patterns <= seen
    rng = np.random.default_rng([7, 2])
    plan = plan_products(rng, build_pools(7), 1_500, "wild")
    rendered = render_products(plan.products, plan.forms, plan.picks)
    written = {form for forms in rendered.forms.values() for form in forms}
    assert drawn & product_patterns <= written
    # The derived and conditional wild patterns come from the rows they fit.
    assert {"unit_price_wild_bare_assumed", "unit_price_wild_shared_symbol"} <= seen


# ---- the answer key adds up ------------------------------------------------------------------------------------


def test_every_legacy_text_fits_its_column() -> None:
    for table in LEGACY_SCHEMA:
        widths = [contract.width for contract in column_contracts(table).values()]
        for legacy, _ in _rows(table):
            for value, width in zip(legacy, widths, strict=True):
                assert width is None or not isinstance(value, str) or len(value) <= width, (table, legacy)


def test_the_answer_key_adds_up() -> None:
    outcomes: dict[str, Counter[str]] = {}
    migrated: dict[str, set[int]] = {}
    for table in LEGACY_SCHEMA:
        outcomes[table], migrated[table] = Counter(), set()
        ids = []
        for legacy, answer in _rows(table):
            assert answer[0] == legacy[0]
            ids.append(legacy[0])
            outcome, reason, merged_into = answer[1:4]
            outcomes[table][str(outcome)] += 1
            warnings = answer[-len(catalogue.columns(table)) - 2]  # type: ignore[arg-type]
            if outcome == "migrated":
                assert reason is None and merged_into is None
                migrated[table].add(int(legacy[0]))  # type: ignore[call-overload]
            else:
                assert reason and warnings == "{}", answer
                assert (merged_into is not None) == (outcome == "merged")
                if merged_into is not None:
                    assert int(merged_into) < int(legacy[0])  # type: ignore[call-overload]
        assert len(ids) == len(set(ids)) and sum(outcomes[table].values()) == len(ids)
    sizes = Sizes(orders=SIZE)
    assert [sum(outcomes[t].values()) for t in LEGACY_SCHEMA] == [sizes.users, sizes.products, sizes.orders]
    # Migrated orders name migrated users and products, and their total is quantity times unit price.
    products = {int(answer[0]): answer for _, answer in _rows("old_products")}  # type: ignore[call-overload]
    for _, answer in _rows("old_orders"):
        if answer[1] != "migrated":
            continue
        user, product, quantity, unit_price, currency, total = (answer[i] for i in (4, 5, 8, 9, 10, 11))
        assert user in migrated["old_users"] and product in migrated["old_products"], answer
        assert float(total) == pytest.approx(int(quantity) * float(unit_price)), answer  # type: ignore[arg-type]
        # The legacy app wrote an order's unit price in its product's currency.
        assert products[int(product)][8] in (None, currency), answer  # type: ignore[call-overload]
    # Most of the world is readable: a careful person reads it, and so must the migration.
    assert outcomes["old_users"]["migrated"] / sum(outcomes["old_users"].values()) > 0.95
    assert outcomes["old_orders"]["migrated"] / sum(outcomes["old_orders"].values()) > 0.7


def test_the_grammar_column_names_every_wild_value_and_only_those() -> None:
    for table in LEGACY_SCHEMA:
        columns = catalogue.columns(table)  # type: ignore[arg-type]
        for _, answer in _rows(table):
            forms, grammar_text = answer[-len(columns) - 1 : -1], answer[-1]
            wild = [c for c, form in zip(columns, forms, strict=True) if "_wild" in str(form)]
            written = dict(part.split("=", 1) for part in grammar_text.split(";")) if grammar_text else {}
            assert set(written) == set(wild), (table, answer)
    for chunk in generate(7, Sizes(orders=300), "dirty"):
        assert {answer[-1] for answer in chunk.answer_rows} == {None}


def test_wild_rates_add_up_in_every_column() -> None:
    for table in catalogue.TABLES:
        for column in catalogue.columns(table):
            rates = catalogue.probabilities(table, column, "wild")
            assert rates.min() >= 0 and rates.sum() == pytest.approx(1.0)


# ---- on a real database ------------------------------------------------------------------------------------------


def test_the_wild_profile_seeds_a_database_and_says_so_in_its_key(databases: Databases) -> None:
    databases.seed("--size", "600", "--profile", "wild")
    with databases.old() as conn:
        meta = dict(conn.execute("select key, value from answer_key.meta").fetchall())
        assert meta["profile"] == "wild"
        assert count(conn, "select count(*) from answer_key.orders") == 600
        assert count(conn, "select count(*) from answer_key.users where country_code is not null") > 0
        assert count(conn, "select count(*) from answer_key.orders where starts_with(grammar, 'date_form=')") > 0
        wild = count(conn, "select count(*) from answer_key.catalogue where rate > 0 and strpos(pattern, 'wild') > 0")
        assert wild == sum(1 for p in catalogue.PATTERNS if "wild" in p.id and p.rate("wild") > 0)
