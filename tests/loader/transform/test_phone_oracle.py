"""Rule P1 against an oracle: libphonenumber (the phonenumbers package) reads every number the rule writes in E.164
as the rule does, and calls it a possible number.

The texts are the library's example numbers, of every type it has one for, in every region it knows, written the
ways people write them (its E.164, international, national and RFC 3966 formats; the 00 prefix; a country code
before a national form, trunk prefix and all; any grouping and punctuation), the same numbers spoiled (an
extension, a letter, digits missing or added, a cut at the legacy varchar(20)), and random digits. For each text
both engines give the same output, and an output that is not NULL
(a) is `+` and digits that the library parses and calls a possible number, and
(b) is the number the library reads in the text: with no default region when the text is written internationally
    (a leading +, or 00 read as the international prefix), as a US number otherwise (the legacy app's market).
NULL never disagrees: P1 keeps a number as written rather than guess (docs/cleaning-rules.md). Where P1 reads a
number otherwise than the library on purpose, the numbers are written down below and the difference itself is
asserted, so a change on either side shows. The library is the test's oracle only: neither engine uses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import pandas as pd
import phonenumbers
import psycopg
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType, ValidationResult

from loader.transform.pandas_engine import parse
from loader.transform.pandas_engine.pg_text import TextRules
from tests.support.helpers import batch_property
from tests.support.pandas_engine_sql import evaluate, macro_sql

PROPERTY = batch_property(100)

# The region a text is read in when written without + or 00 (the legacy app's market), and a region whose
# international prefix is 00, as P1 reads a leading 00.
HOME_REGION = "US"
ZERO_ZERO_REGION = "DE"
TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
)


def e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def national_digits(number: PhoneNumber) -> str:
    return phonenumbers.national_significant_number(number)


@cache
def example_numbers() -> tuple[PhoneNumber, ...]:
    """The library's example number of each type in each region it knows, and of its non-geographic codes."""
    found = [
        phonenumbers.example_number_for_type(region, kind)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in TYPES
    ]
    found += [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    return tuple(number for number in found if number is not None)


FORMS: dict[str, Callable[[PhoneNumber], str]] = {
    "E.164": e164,
    "international": lambda number: phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
    "national": lambda number: phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
    "RFC 3966": lambda number: phonenumbers.format_number(number, PhoneNumberFormat.RFC3966),
    "00 and E.164": lambda number: "00" + e164(number)[1:],
    "00 and international": lambda number: (
        "00" + phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)[1:]
    ),
    # People put their country code before the number as they dial it at home, trunk prefix and all.
    "country code and national": lambda number: (
        f"+{number.country_code} " + phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    ),
    "country code and (0)": lambda number: f"+{number.country_code} (0){national_digits(number)}",
}
EXAMPLES = st.deferred(lambda: st.sampled_from(example_numbers()))
WRITTEN = st.builds(lambda number, form: FORMS[form](number), EXAMPLES, st.sampled_from(sorted(FORMS)))
_DIGIT = st.sampled_from("0123456789")


@st.composite
def grouped(draw: st.DrawFn, digits: str) -> str:
    """The digits in groups of one to four, joined by what P1 lets through, some groups in parentheses."""
    groups = []
    while digits:
        size = draw(st.integers(1, 4))
        group = digits[:size]
        digits = digits[size:]
        groups.append(f"({group})" if draw(st.integers(0, 5)) == 0 else group)
    separators = st.sampled_from(["", " ", " ", "-", ".", " - ", "  ", ". "])
    return "".join(group if i == 0 else draw(separators) + group for i, group in enumerate(groups))


@st.composite
def regrouped(draw: st.DrawFn) -> str:
    """An example number's digits grouped anew, after an international prefix or as a national number."""
    number = draw(EXAMPLES)
    prefix, digits = draw(
        st.sampled_from(
            [
                ("+", e164(number)[1:]),
                ("+ ", e164(number)[1:]),
                ("00", e164(number)[1:]),
                ("00 ", e164(number)[1:]),
                ("", national_digits(number)),
                ("1 ", national_digits(number)),
                ("+1 ", national_digits(number)),
            ]
        )
    )
    return prefix + draw(grouped(digits))


@st.composite
def spoiled(draw: st.DrawFn) -> str:
    """A written number with an extension or a letter, digits cut or added, or cut at the legacy 20 characters."""
    text = draw(st.one_of(WRITTEN, regrouped()))
    digit_at = [i for i, character in enumerate(text) if character.isdigit()]
    how = draw(st.sampled_from(["extension", "letter", "shorter", "longer", "digit dropped", "cut at 20"]))
    if how == "extension":
        return text + draw(st.sampled_from([" x12", " ext. 4", "x1234", " #7", " ext 12345"]))
    if how == "letter":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.sampled_from("OolIaE")) + text[at:]
    if how == "shorter":
        return text[: digit_at[-draw(st.integers(1, min(4, len(digit_at))))]]
    if how == "longer":
        return text + draw(st.text(_DIGIT, min_size=1, max_size=3))
    if how == "digit dropped":
        at = draw(st.sampled_from(digit_at))
        return text[:at] + text[at + 1 :]
    return text[:20]


RANDOM_DIGITS = st.tuples(
    st.sampled_from(["+", "00", "", "1", "+1", "011 ", "+0"]), st.text(_DIGIT, min_size=6, max_size=16)
).flatmap(lambda parts: grouped(parts[1]).map(lambda text: parts[0] + text))
# Ten digits as North Americans write them, any digit in any place (area codes that start with 0 or 1 included).
NORTH_AMERICAN = st.builds(
    lambda prefix, area, exchange, line, form: prefix + form.format(area, exchange, line),
    st.sampled_from(["", "", "1 ", "1-", "+1 ", "001 "]),
    st.text(_DIGIT, min_size=3, max_size=3),
    st.text(_DIGIT, min_size=3, max_size=3),
    st.text(_DIGIT, min_size=4, max_size=4),
    st.sampled_from(["({}) {}-{}", "{}-{}-{}", "{}.{}.{}", "{}{}{}", "({}){}-{}"]),
)
PHONE_TEXTS = st.one_of(WRITTEN, WRITTEN, regrouped(), spoiled(), RANDOM_DIGITS, NORTH_AMERICAN)

# P1's examples (docs/cleaning-rules.md) and the cases each part of the rule is for, with what P1 gives: the
# library reads every one of them, and reads the non-NULL ones the same.
HAND_WRITTEN: dict[str, str | None] = {
    "(555) 555-1234": "+15555551234",
    "555.201.1234": "+15552011234",
    "1-555-201-1234": "+15552011234",
    "+1-555-123-4567": "+15551234567",
    "001-555-201-1234": "+15552011234",
    "0044 20 7946 0958": "+442079460958",
    "+44 20 7946 0958": "+442079460958",
    "+39 06 6982 1234": "+390669821234",  # Italy's numbers start with 0: there is no trunk prefix to drop
    "+225 01 23 45 6789": "+2250123456789",
    "+7 495 123-45-67": "+74951234567",
    "+62 812 3456 7890": "+6281234567890",
    # Kept as written though the library reads a number in them: P1 does not guess what the writer meant.
    "555-555-1234 x12": None,  # an extension
    "+44 (0)20 7946 0958": None,  # the trunk prefix written after the country code, which the library drops
    "+49 030 1234 5678": None,
    "+375 8 029 491-19-11": None,  # Belarus's trunk prefix is 8
    "+375 801 123 4567": None,  # so a Belarusian number that starts with 8 is not told from one written so
    "+7 8 495 123-45-67": None,  # a national number of a length Russia does not use
    "+44 20 7946 09581": None,
    "123-456-7890": None,  # no area code starts with 1: the trunk prefix, or a cut number
    "1-023-456-7890": None,
    "011 44 20 7946 0958": None,  # the North American international prefix, which P1 does not read
    "+1 310-1234": None,  # a length dialled only locally: no area code
    "+47 02000": None,  # fewer than 8 digits in all, P1's floor
    "+0044 20 7946 0958": None,
    "+1 555 201 123": None,  # a cut number
}
# Where P1 reads digits the library takes for a carrier or call-type code that people dial at home and drops
# (its `national_prefix_for_parsing`): nobody writes those after a country code, so P1 reads the digits as
# written, and differs from the library. The text, P1's number, the library's.
DIFFERENT_ON_PURPOSE = [
    ("+86 12813 535 1994", "+86128135351994", "+865351994"),
    ("+55 90 9194 49773", "+5590919449773", "+55919449773"),
    ("+61 1831 570 681", "+611831570681", "+61570681"),
    ("+352 1511 88374", "+352151188374", "+3528374"),
    ("+54 264 15 972179", "+5426415972179", "+549264972179"),
]


def library_reading(text: str) -> PhoneNumber | None:
    """The number the library reads in the text, international or as a US number as P1 sees it; None if none."""
    written = text.strip(" ")
    region = HOME_REGION
    if written.startswith("+"):
        region = None
    elif re.sub("[^0-9]", "", written).startswith("00"):
        region = ZERO_ZERO_REGION
    try:
        return phonenumbers.parse(written, region)
    except phonenumbers.NumberParseException:
        return None


def is_possible(e164_text: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(e164_text, None))
    except phonenumbers.NumberParseException:
        return False


def library_drops_a_dialling_code(written: str, number: PhoneNumber) -> bool:
    """True when the library read the number without digits P1 keeps, taking them for a carrier or call-type code.

    That is: the library's pattern for what to strip from a national number matches its first digits, and they
    are not the country's trunk prefix (a trunk prefix written after the country code must make P1 give NULL).
    """
    code = str(number.country_code)
    if not written.startswith("+" + code):
        return False
    national = written[1 + len(code) :]
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        number.country_code, phonenumbers.region_code_for_country_code(number.country_code)
    )
    if metadata is None or not metadata.national_prefix_for_parsing:
        return False
    stripped = re.match(metadata.national_prefix_for_parsing, national)
    trunk = metadata.national_prefix
    return stripped is not None and stripped.end() > 0 and not (trunk and national.startswith(trunk))


def both_engines(
    conn: psycopg.Connection[Any], rules: TextRules, texts: Sequence[str]
) -> list[tuple[str | None, str | None]]:
    """Per text: the macro's output on the server, and the pandas engine's (after clean_text, as the model)."""
    from_sql = evaluate(conn, macro_sql("normalize_phone", macro_sql("clean_text", "value")), list(texts))
    from_pandas = parse.normalize_phone(parse.clean_text(pd.Series(list(texts), dtype="str"), rules))
    return [(sql, None if pd.isna(pandas) else str(pandas)) for sql, pandas in zip(from_sql, from_pandas, strict=True)]


def disagreements(texts: Sequence[str], outputs: Sequence[tuple[str | None, str | None]]) -> list[str]:
    found = []
    for text, (sql, pandas) in zip(texts, outputs, strict=True):
        if sql != pandas:
            found.append(f"  {text!r}: sql {sql!r}, pandas {pandas!r}")
        elif sql is not None and not (re.fullmatch(r"\+[0-9]+", sql) and is_possible(sql)):
            found.append(f"  {text!r}: {sql!r} is no possible number")
        elif sql is not None:
            number = library_reading(text)
            read = None if number is None else e164(number)
            if read != sql and not (number is not None and library_drops_a_dialling_code(sql, number)):
                found.append(f"  {text!r}: P1 {sql!r}, the library reads {read!r}")
    return found


def test_hand_written_phones(conn: psycopg.Connection[Any], rules: TextRules) -> None:
    texts = list(HAND_WRITTEN)
    outputs = both_engines(conn, rules, texts)
    found = disagreements(texts, outputs)
    assert not found, "P1 and libphonenumber disagree:\n" + "\n".join(found)
    assert {text: sql for text, (sql, _) in zip(texts, outputs, strict=True)} == HAND_WRITTEN
    # In all but these three the library reads a possible number: P1's NULLs above are kept on purpose.
    assert [
        text
        for text in texts
        if (number := library_reading(text)) is None or not phonenumbers.is_possible_number(number)
    ] == ["+44 20 7946 09581", "+0044 20 7946 0958", "+1 555 201 123"]


def test_the_documented_differences_are_the_only_ones(conn: psycopg.Connection[Any], rules: TextRules) -> None:
    texts = [text for text, _, _ in DIFFERENT_ON_PURPOSE]
    for (text, ours, theirs), outputs in zip(DIFFERENT_ON_PURPOSE, both_engines(conn, rules, texts), strict=True):
        number = library_reading(text)
        assert number is not None, text
        assert (outputs, e164(number)) == ((ours, ours), theirs), text
        assert is_possible(ours) and library_drops_a_dialling_code(ours, number), text


def test_every_example_number_written_internationally_is_normalized(
    conn: psycopg.Connection[Any], rules: TextRules
) -> None:
    """All the library's example numbers, in E.164, international and 00 form, and North American ones written
    nationally, give the library's E.164 but for those P1 keeps as written on purpose."""
    texts: list[str] = []
    expected: list[str | None] = []
    for number in example_numbers():
        forms = ["E.164", "international", "00 and E.164"] + (["national"] if number.country_code == 1 else [])
        kept = (
            len(e164(number)) - 1 < 8  # P1's floor: fewer than 8 digits in all
            or phonenumbers.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE_LOCAL_ONLY
            or e164(number).startswith("+3758")  # Belarus: a number that starts with its trunk prefix
        )
        texts += [FORMS[form](number) for form in forms]
        expected += [None if kept else e164(number)] * len(forms)
    outputs = both_engines(conn, rules, texts)
    wrong = [
        f"  {text!r}: sql {sql!r}, pandas {pandas!r}, expected {want!r}"
        for text, (sql, pandas), want in zip(texts, outputs, expected, strict=True)
        if not sql == pandas == want
    ]
    assert not wrong, "P1 does not give the library's example numbers:\n" + "\n".join(wrong)
    # Most are normalized: the numbers kept on purpose are few.
    assert expected.count(None) < len(expected) / 50


@PROPERTY
@given(st.lists(PHONE_TEXTS, min_size=10, max_size=30))
def test_generated_phones_agree_with_libphonenumber(
    conn: psycopg.Connection[Any], rules: TextRules, texts: list[str]
) -> None:
    found = disagreements(texts, both_engines(conn, rules, texts))
    assert not found, "P1 and libphonenumber disagree:\n" + "\n".join(found)
