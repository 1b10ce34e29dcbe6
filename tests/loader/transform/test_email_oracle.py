"""Rule E2 against an oracle: the email-validator library (syntax only, no network) and both engines' rule agree on
which addresses are valid, internationalized ones (RFC 6531) included.

The addresses are normalized first (E1, trimmed and lower case), as the rule sees them; the library reads the same
text. Where the rule differs from the library on purpose (docs/cleaning-rules.md, E2), the addresses are written
down below and the difference itself is asserted, so a change on either side shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import psycopg
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from loader.transform.pandas_engine import parse
from loader.transform.pandas_engine.pg_text import TextRules
from tests.support.helpers import batch_property
from tests.support.pandas_engine_sql import evaluate, macro_sql

PROPERTY = batch_property(100)

# Letters the library's IDNA tables take in a domain (lower case: E1 has lowered them), and characters that are
# valid only before the @ (symbols, punctuation) or nowhere (spaces, invisible and control characters).
DOMAIN_LETTERS = "éèñüößøåçąłžšждяаиλμ中文日本한국ı"
LOCAL_ONLY = "☃€£¡¿·—«»²\u00d7\u2019"
UNSAFE = "\u00a0\u2003\u200b\u200d\u2028\u202e\u2060\ufeff\u0085\u00ad\u3000\ue000"
ASCII_ATEXT = "!#$%&'*+/=?^_`{|}~-"

_local_char = st.sampled_from("abcxyz0189._" + ASCII_ATEXT + DOMAIN_LETTERS + LOCAL_ONLY + UNSAFE + ' "(),:;<>[]\\@')
_label_char = st.sampled_from("abcxn019-" + DOMAIN_LETTERS + "_\u00a0\u200b.\u0301")
_TLDS = [".com", ".de", ".c", ".io", ".co.uk", ".com.", ".", "", ".1", ".c1", ".1a", ".xn--p1ai", ".test", ".local"]
_TLDS += [".onion", ".example", ".b-c", ".c-", ".ab--c", ".com\u0301", ".рф", ".中国"]
# Well-formed addresses, internationalized or not, most of them valid.
WELL_FORMED = st.tuples(
    st.lists(
        st.text(st.sampled_from("abz09" + ASCII_ATEXT + DOMAIN_LETTERS + LOCAL_ONLY), min_size=1, max_size=6),
        min_size=1,
        max_size=3,
    ).map(".".join),
    st.just("@"),
    st.lists(
        st.tuples(
            st.text(st.sampled_from("abxn019" + DOMAIN_LETTERS), min_size=1, max_size=5),
            st.sampled_from(["", "", "-", "--"]),
            st.text(st.sampled_from("abc019" + DOMAIN_LETTERS), min_size=0, max_size=3),
        ).map("".join),
        min_size=1,
        max_size=3,
    ).map(".".join),
    st.sampled_from(_TLDS),
).map("".join)
# Anything near an address: every kind of character in every place.
NOISY = st.tuples(
    st.text(_local_char, min_size=0, max_size=8),
    st.sampled_from(["@", "@", "@", "@@", "", "\uff20"]),
    st.lists(st.text(_label_char, min_size=0, max_size=6), min_size=1, max_size=3).map(".".join),
    st.sampled_from(_TLDS),
).map("".join)
ADDRESSES = st.one_of(WELL_FORMED, WELL_FORMED, NOISY)

HAND_WRITTEN = [
    "ann.lee@mail.com",
    "josé@mail.com",
    "jose@maíl.com",
    "用户@例子.广告",
    "пользователь@пример.рф",
    "δοκιμή@παράδειγμα.δοκιμή",
    "a!#$%&'*+/=?^_`{|}~-@b.com",
    "ann+tag@mail.co.uk",
    "a@b.c",
    "a@b--c.com",
    "a@ab--c.com",
    "a@xn--mal-bma.com",
    "a@123.com",
    "a@b.1a",
    "a@b.123",
    "a@localhost",
    "a@b.invalid",
    "a@b.home.arpa",
    "☃@b.com",
    "ß@straße.de",
    "a..b@c.com",
    ".a@c.com",
    "a.@c.com",
    "a@-b.com",
    "a@b-.com",
    "a@b_c.com",
    "a b@c.com",
    "a\u00a0b@c.com",
    "a\u200b@c.com",
    "\u0301a@b.com",
    "a\u0301@b.com",
    "a@\u0301b.com",
    '"a b"@c.com',
    "a@[1.2.3.4]",
    "ann.lee7gmail.com",
    "ann.lee7@@gmail.com",
    "ann.lee7@gmail.com.",
    "a" * 64 + "@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a" * 244 + "@" + "b" * 5 + ".com",
    "a" * 245 + "@" + "b" * 5 + ".com",
    "a@" + ("b" * 63 + ".") * 3 + "b" * 61,
    "a@" + ("b" * 63 + ".") * 3 + "b" * 62,
]
# Where E2 differs from the library on purpose (docs/cleaning-rules.md): it checks the form, not IDNA 2008's
# tables per code point, its bidirectional rule, or Punycode, so these pass E2 and fail the library.
DIFFERENT_ON_PURPOSE = [
    "a@☃.com",
    "a@b.☃",
    "a@¡hola.com",
    "a@١٢٣.com",
    "a@xn--zz.com",
    "a@b.xn--ab",
]


def library_says_valid(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _verdicts(
    conn: psycopg.Connection[Any], rules: TextRules, raw: Sequence[str]
) -> list[tuple[str, bool, bool, bool]]:
    """Per address: its normalized form, and whether SQL, pandas and the library each call it valid."""
    normalized = parse.normalize_email(pd.Series(list(raw), dtype="str"), rules)
    texts = [str(text) for text in normalized]
    from_sql = evaluate(conn, macro_sql("is_valid_email", macro_sql("normalize_email", "value")), list(raw))
    from_pandas = parse.is_valid_email(normalized)
    return [
        (text, bool(sql_says), bool(pandas_says), library_says_valid(text))
        for text, sql_says, pandas_says in zip(texts, from_sql, from_pandas, strict=True)
    ]


def _disagreements(verdicts: list[tuple[str, bool, bool, bool]]) -> list[str]:
    return [
        f"  {text!r}: sql {sql_says}, pandas {pandas_says}, email-validator {library}"
        for text, sql_says, pandas_says, library in verdicts
        if not sql_says == pandas_says == library
    ]


def test_hand_written_addresses_agree_with_email_validator(conn: psycopg.Connection[Any], rules: TextRules) -> None:
    verdicts = _verdicts(conn, rules, HAND_WRITTEN)
    assert not _disagreements(verdicts), "E2 and email-validator disagree:\n" + "\n".join(_disagreements(verdicts))
    # Both kinds are really there.
    assert {library for *_, library in verdicts} == {True, False}


def test_the_documented_differences_are_the_only_ones(conn: psycopg.Connection[Any], rules: TextRules) -> None:
    for text, sql_says, pandas_says, library in _verdicts(conn, rules, DIFFERENT_ON_PURPOSE):
        assert (sql_says, pandas_says, library) == (True, True, False), text


@PROPERTY
@given(st.lists(ADDRESSES, min_size=10, max_size=25))
def test_generated_addresses_agree_with_email_validator(
    conn: psycopg.Connection[Any], rules: TextRules, addresses: list[str]
) -> None:
    disagreements = _disagreements(_verdicts(conn, rules, addresses))
    assert not disagreements, "E2 and email-validator disagree:\n" + "\n".join(disagreements)
