"""Each parsing macro and its pandas counterpart agree, value for value, on random and adversarial text.

The macros are rendered to SQL from dbt_project/macros/ (tests/pandas_engine_sql.py) and evaluated on the test
server; the pandas functions run on the same list. Hypothesis runs with a fixed seed (derandomize) so `make test`
is repeatable; a failure prints the smallest list it found.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loader.transform.pandas_engine import parse
from loader.transform.pandas_engine.pg_text import TextRules
from tests.support.pandas_engine_sql import evaluate, macro_sql, model_sql

EXAMPLES = 300
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Characters the rules care about, and characters that fool naive rules: Unicode spaces (PostgreSQL's `\s` has
# some, not the no-break ones), case oddities (ß, İ, ǅ, ᾳ, the Kelvin sign), combining marks, non-ASCII digits.
TRICKY = (
    " \t\n\r\x0b\x0c\u00a0\u1680\u2003\u2007\u200b\u202f\u3000\u0085\x1c"
    "ßİ\u0131ǅǆᾳᾼ\u212aÅŉﬁ\u0301\u0345²٣\uff11\uff21éÉøØ"
    "$€£,.;:/-+()'\"%_@#&*?!\\[]{}<>|=~`^"
)
ALPHABET = st.sampled_from(string.ascii_letters + string.digits + TRICKY) | st.characters(
    exclude_categories=("Cs",), exclude_characters="\x00"
)
SQL_LOOKING = ("'); drop table users; --", "1; select pg_sleep(10)", "' or '1'='1", "$$", "\\.", "E'\\x41'")
MARKERS = ("N/A", "n/a", " NA ", "null", "NULL", "None", "-", "", "   ", "\tN/A", "nan")


def _noise() -> st.SearchStrategy[str]:
    return st.text(ALPHABET, max_size=25)


def _digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from("0123456789"), min_size=low, max_size=high)


def _joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


def _spaces() -> st.SearchStrategy[str]:
    return st.sampled_from(["", "", " ", "  ", "\t", "\u2003", "\u00a0", "\n"])


TIMESTAMPS = st.one_of(
    _joined(_digits(4, 4), st.just("-"), _digits(1, 3), st.just("-"), _digits(1, 3)),
    _joined(
        _digits(4, 4),
        st.just("-"),
        _digits(2, 2),
        st.just("-"),
        _digits(2, 2),
        st.sampled_from([" ", "T", "t", "  "]),
        _digits(1, 3),
        st.just(":"),
        _digits(2, 2),
        st.sampled_from(["", ":00", ":59", ":60", ":7"]),
    ),
    _joined(
        _digits(1, 3),
        st.just("/"),
        _digits(1, 3),
        st.just("/"),
        _digits(2, 5),
        st.sampled_from(["", " ", "  "]),
        st.sampled_from(["", "1:05", "12:15", "13:15", "00:00", "25:61", "9:5"]),
        st.sampled_from(["", " AM", "PM", " pm", " aM", " XM", "AMM"]),
    ),
    _digits(8, 11),
    st.sampled_from(["2021-02-29", "2024-02-29", "2100-12-31 23:59:59", "1899-12-31", "2101-01-01", "0000-00-00"]),
)
MONEY = st.one_of(
    _joined(
        _spaces(),
        st.sampled_from(["", "-", "$", "€", "--", "+", "EUR ", "gbp", "-£", "us$ ", "R$", "¥", "Rs.", "$-", "€ -"]),
        _spaces(),
        _digits(1, 13),
        st.sampled_from(["", ".", ",", " "]),
        _digits(0, 4),
        st.sampled_from(["", ".", ",", " "]),
        _digits(0, 4),
        _spaces(),
        st.sampled_from(
            [
                *("", "EUR", "eur", "USD", "usd", "US", "€", "$", "Eur", "\u0415UR", "dollars", "uusdsd", "GBP"),
                *("chf.", "£", "kr", "zł", "Euros", "US Dollars", "EUR EUR", "E U R", "12", "-", ".", "x1"),
            ]
        ),
    ),
    st.sampled_from(["free", "FREE", " Gratis ", "free!", "99,999,999,999", "9,999,999,999.99", "999.999.999,99"]),
    st.sampled_from(["1,234.56", "1.234,56 EUR", "€12,50", "12.555", "12.5555", "-3.00", "-0", "1,2,3", "1.234.5"]),
    # Spaces group thousands, and nothing else.
    st.sampled_from(["12 500,00 CHF", "1 234 567", "12 50", "5 99 EUR", "1 2 3", "-1 234.5", "12  500", "1 2345"]),
    # Rule M4's ambiguous amounts, and their near misses.
    st.sampled_from(
        ["1,234", "5.001", "-1.234", "0,000", "0.500", "$1.230", "1.234 EUR", "1234,567", "12,34", "1,2345"]
    ),
)
EMAILS = st.one_of(
    _joined(
        _spaces(),
        st.text(st.sampled_from("abcAB09._%+'-é "), min_size=0, max_size=6),
        st.sampled_from(["@", "@@", "", "\uff20"]),
        st.text(st.sampled_from("abcXY09-."), min_size=0, max_size=6),
        st.sampled_from([".com", ".c", ".COM", ".", "", ".co.uk", ".com.", ".\uff43om", ".k"]),
        _spaces(),
    ),
)
PHONES = st.one_of(
    _joined(
        st.sampled_from(["", "+", "00", "++", " +", "1", "1-"]),
        st.text(st.sampled_from("0123456789 ().-"), min_size=0, max_size=22),
        st.sampled_from(["", " x12", "ext. 4", "#", "٣"]),
    ),
)
NAMES = st.one_of(
    _joined(
        _spaces(),
        st.text(st.sampled_from("ABCDEÉÑßİǅMcO'-"), min_size=0, max_size=8),
        st.sampled_from(["", ",", ", ", " ,", ",,", ", , "]),
        _spaces(),
        st.text(st.sampled_from("abcdeéñAJNEß'- "), min_size=0, max_size=8),
        st.sampled_from(["", ", Jr.", ",", " III", "1ST"]),
    ),
)
ADDRESSES = st.one_of(
    _joined(
        _spaces(),
        st.sampled_from(["", "1 Main St", "PSC 1234", "12  Elm Rd ", "PO Box 42", "a,b"]),
        st.sampled_from(["", ", ", " ,", ",", ",,", " , "]),
        st.sampled_from(["", "Apt 2", "Box 5678", "Springfield", "Dover ", "USNS Brown"]),
        st.sampled_from(["", ", ", " ,", ","]),
        st.sampled_from(["", "Dover", "St. Louis", "APO", "apo"]),
        st.sampled_from(["", ", ", ",", " , "]),
        st.sampled_from(
            ["IL 62701", "DE 19901-1234", "APO AE 12345", "FPO AP 71234", "DPO AA 12345", "il 62701", "IL 6270", "XX"]
        ),
        st.sampled_from(["", ", ", ",", " ,"]),
        st.sampled_from(["", "USA", "us", "United  States", "Estados Unidos", "Atlantis", "U.S.A.", "IL 62701"]),
        _spaces(),
    ),
)


def values(specific: st.SearchStrategy[str]) -> st.SearchStrategy[list[str | None]]:
    """Lists mixing the rule's own shapes with nulls, markers, SQL-looking text and plain noise."""
    one = st.one_of(
        specific,
        specific,
        st.none(),
        st.sampled_from(MARKERS + SQL_LOOKING),
        _noise(),
        _joined(_spaces(), specific, _spaces()),
    )
    return st.lists(one, max_size=40)


def _series(values: Sequence[str | None]) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def _python(value: Any) -> Any:
    """A pandas result value in the form psycopg returns the SQL one."""
    if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _cents(values: pd.Series) -> list[Decimal | None]:
    return [None if pd.isna(cents) else Decimal(int(cents)).scaleb(-2) for cents in values]


def _assert_same(inputs: Sequence[str | None], from_sql: list[Any], from_pandas: Sequence[Any]) -> None:
    differences = [
        f"  {value!r}: sql {expected!r}, pandas {actual!r}"
        for value, expected, actual in zip(inputs, from_sql, map(_python, from_pandas), strict=True)
        if expected != actual
    ]
    assert not differences, "the macro and its pandas counterpart disagree:\n" + "\n".join(differences)


def _check(
    conn: psycopg.Connection[Any], expression: str, inputs: list[str | None], compute: Callable[[pd.Series], Any]
) -> None:
    from_sql = evaluate(conn, expression, inputs)
    _assert_same(inputs, from_sql, list(compute(_series(inputs))))


@PROPERTY
@given(values(st.sampled_from(MARKERS) | _noise()))
def test_clean_text_agrees(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    _check(conn, macro_sql("clean_text", "value"), inputs, lambda s: parse.clean_text(s, rules))


@PROPERTY
@given(values(_joined(_spaces(), _noise(), _spaces(), _noise(), _spaces())))
def test_squish_spelling_key_and_user_key_agree(
    conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]
) -> None:
    _check(conn, macro_sql("squish", "value"), inputs, lambda s: parse.squish(s, rules))
    _check(conn, macro_sql("spelling_key", "value"), inputs, lambda s: parse.spelling_key(s, rules))
    _check(conn, macro_sql("user_key", "value"), inputs, lambda s: parse.user_key(s, rules))


# Spellings of one word a mapping seed must find under one key (rule S1), and the key each folds to.
MAPPING_KEY_EXAMPLES = {
    "In-Transit": "intransit",
    "in_transit": "intransit",
    " IN  TRANSIT. ": "intransit",
    "Electrónica": "electronica",
    "ELECTRÓNICA": "electronica",
    "U.S.A.": "usa",
    "\uff35\uff33\uff21": "usa",  # full-width USA
    "Côte d\u2019Ivoire": "cotedivoire",
    "São Tomé & Príncipe": "saotomeprincipe",
    "Straße": "strasse",
    "Łódź": "lodz",
    "¿Devuelto?": "devuelto",
    "Россия": "россия",
    "日本": "日本",
    "x²": "x2",
    "\u210donduras": "honduras",  # NFKD brings a capital back (double-struck H): lower case comes after it
}


def test_mapping_key_folds_case_accents_punctuation_and_separators(
    conn: psycopg.Connection[Any], rules: TextRules
) -> None:
    inputs: list[str | None] = [*MAPPING_KEY_EXAMPLES, None, ""]
    expected = [*MAPPING_KEY_EXAMPLES.values(), None, ""]
    assert evaluate(conn, macro_sql("mapping_key", "value"), inputs) == expected
    assert [_python(value) for value in parse.mapping_key(_series(inputs), rules)] == expected


@PROPERTY
@given(
    values(
        _joined(
            _spaces(),
            _noise(),
            st.sampled_from(["", ".", "-", "_", "\u2019", "\u00b4", "\u0301", "ß", "Æ", "ﬁ"]),
            _noise(),
        )
    )
)
def test_mapping_key_agrees(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    _check(conn, macro_sql("mapping_key", "value"), inputs, lambda s: parse.mapping_key(s, rules))


@PROPERTY
@given(values(TIMESTAMPS))
def test_parse_timestamp_agrees(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    expression = macro_sql("parse_timestamp", macro_sql("clean_text", "value"))
    _check(conn, expression, inputs, lambda s: parse.parse_timestamp(parse.clean_text(s, rules)))


def _amounts(values: pd.Series, digits: pd.Series, rules: TextRules) -> list[Decimal | None]:
    return list(_cents(parse.parse_money_amount(values, digits, rules)))


@PROPERTY
@given(values(MONEY))
def test_parse_money_agrees(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    cleaned = macro_sql("clean_text", "value")
    amount = macro_sql("money_amount_text", cleaned)
    digits = macro_sql("money_digits", cleaned, amount)

    def split(values: pd.Series) -> parse.MoneyParts:
        return parse.money_parts(parse.clean_text(values, rules), rules)

    _check(conn, digits, inputs, lambda s: split(s).digits)
    _check(conn, macro_sql("money_currency_key", cleaned, amount), inputs, lambda s: split(s).currency_key)
    _check(
        conn,
        macro_sql("parse_money_amount", cleaned, digits),
        inputs,
        lambda s: _amounts(parse.clean_text(s, rules), split(s).digits, rules),
    )
    for reading in ("thousands", "decimal"):
        _check(
            conn,
            macro_sql("money_reading", digits, reading),
            inputs,
            lambda s, reading=reading: _mills(getattr(parse.money_readings(split(s).digits), reading)),
        )


def _mills(values: pd.Series) -> list[Decimal | None]:
    """Thousandths as the unrounded numeric the macro gives (Decimal compares by value: 1234 == 1234.000)."""
    return [None if pd.isna(mills) else Decimal(int(mills)).scaleb(-3) for mills in values]


@PROPERTY
@given(values(EMAILS))
def test_email_rules_agree(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    normalized = macro_sql("normalize_email", "value")
    _check(conn, normalized, inputs, lambda s: parse.normalize_email(s, rules))
    _check(
        conn,
        macro_sql("is_valid_email", normalized),
        inputs,
        lambda s: parse.is_valid_email(parse.normalize_email(s, rules)),
    )


@PROPERTY
@given(values(PHONES))
def test_normalize_phone_agrees(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    expression = macro_sql("normalize_phone", macro_sql("clean_text", "value"))
    _check(conn, expression, inputs, lambda s: parse.normalize_phone(parse.clean_text(s, rules)))


@PROPERTY
@given(values(NAMES))
def test_tidy_name_agrees(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    # Raw text too, not only squished names: the function must agree wherever the macro is defined.
    _check(conn, macro_sql("tidy_name", "value"), inputs, lambda s: parse.tidy_name(s, rules))
    squished = macro_sql("squish", macro_sql("clean_text", "value"))
    _check(
        conn,
        macro_sql("tidy_name", squished),
        inputs,
        lambda s: parse.tidy_name(parse.squish(parse.clean_text(s, rules), rules), rules),
    )


ADDRESS_COLUMNS = (
    "address_street",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country_text",
    "address_country_key",
    "address_status",
)


@PROPERTY
@given(values(ADDRESSES))
def test_address_split_agrees(conn: psycopg.Connection[Any], rules: TextRules, inputs: list[str | None]) -> None:
    # A1 lives in the stg_legacy__users model, not a macro: run the model itself on a temporary table.
    with conn.transaction(force_rollback=True):
        conn.execute(
            "create temporary table legacy_users (id int, username text, email text, full_name text, "
            "registration_date_str text, address_combined text, phone_number_str text) on commit drop"
        )
        conn.execute(
            "insert into legacy_users (id, username, address_combined) "
            "select position, 'u' || position, value from unnest(%s::text[]) with ordinality as input(value, position)",
            (inputs,),
        )
        # No per-row corrections (rule C2): the addresses are read as the legacy table holds them.
        conn.execute(
            "create temporary table legacy_corrections (legacy_table text, legacy_id bigint, column_name text, "
            "correction_status text, corrected_json jsonb) on commit drop"
        )
        model = model_sql(
            "staging/stg_legacy__users.sql",
            refs=(("stg_legacy__corrections", "legacy_corrections"),),
            old_users="legacy_users",
        )
        rows = conn.execute(
            f"select {', '.join(ADDRESS_COLUMNS)} from ({model}) as model order by legacy_user_id"
        ).fetchall()
    parts = parse.split_address(_series(inputs), rules)
    computed = [
        parts.street,
        parts.city,
        parts.state,
        parts.postal_code,
        parts.country_text,
        parts.country_key,
        parts.status,
    ]
    for position, (column, from_pandas) in enumerate(zip(ADDRESS_COLUMNS, computed, strict=True)):
        try:
            _assert_same(inputs, [row[position] for row in rows], list(from_pandas))
        except AssertionError as failure:
            raise AssertionError(f"{column}: {failure}") from None


def test_case_and_space_tables_match_the_server_for_every_character(
    conn: psycopg.Connection[Any], rules: TextRules
) -> None:
    """lower(), upper(), initcap() and `\\s` for every assigned code point: the tables are the server's."""
    characters = [
        chr(code)
        for code in range(1, 0x30000)
        if unicodedata.category(chr(code)) not in ("Cn", "Cs", "Co") and code not in (0x5C,)
    ]
    rows = conn.execute(
        "select lower(value), upper(value), initcap('a' || value || 'b'), value ~ '^\\s$' "
        "from unnest(%s::text[]) with ordinality as input(value, position) order by position",
        (characters,),
    ).fetchall()
    series = _series(characters)
    lower = rules.lower(series).tolist()
    upper = rules.upper(series).tolist()
    initcap = rules.initcap("a" + series + "b").tolist()
    space = parse._matches(series, rules.space_class)
    wrong = [
        (character, row)
        for character, row, low, up, cap, is_space in zip(characters, rows, lower, upper, initcap, space, strict=True)
        if row != (low, up, cap, bool(is_space))
    ]
    assert not wrong, f"{len(wrong)} characters differ, first: {wrong[:10]}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-03-04", datetime(2021, 3, 4)),
        ("03/04/2021", datetime(2021, 4, 3)),
        ("03/04/2021 01:15 PM", datetime(2021, 3, 4, 13, 15)),
        ("12/31/2021 12:15 AM", datetime(2021, 12, 31, 0, 15)),
        ("1614870000", datetime(2021, 3, 4, 15, 0)),
        ("9999999999", datetime(2286, 11, 20, 17, 46, 39)),
        ("2021-02-30", None),
        ("2024-02-29 24:00", None),
    ],
)
def test_parse_timestamp_reads_the_documented_examples(value: str, expected: datetime | None) -> None:
    result = parse.parse_timestamp(_series([value]))
    assert _python(result.iloc[0]) == expected
