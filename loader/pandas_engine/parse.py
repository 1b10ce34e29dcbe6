"""One vectorized function per parsing macro of dbt_project/macros/, giving what the macro gives, NULL for NULL.

Text columns are pandas `str` Series (Arrow-backed, NaN for SQL NULL). The regular expressions run in Arrow's
RE2 through the `.str` methods, so each is written in the part of the syntax RE2, Python's re and PostgreSQL
read alike: `[0-9]` for `\\d` (PostgreSQL's `\\d` is ASCII here), the locale's `\\s` spelled out as a class
(pg_text), whole-value matches through `.str.fullmatch`. Rule ids refer to docs/cleaning-rules.md; where the
macro and the page part ways, the macro is followed (the differential test compares with it) and the function
says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loader.pandas_engine.pg_text import TextRules

NULL_MARKERS = ("", "n/a", "na", "null", "none", "-")
TIMESTAMP_DTYPE = "datetime64[us]"

_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?"
_SLASH_CLOCK = (
    r"(?P<first>[0-9]{1,2})/(?P<second>[0-9]{1,2})/(?P<year>[0-9]{4}) "
    r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2}) ?(?P<meridiem>[AaPp])[Mm]"
)
_SLASH_DATE = r"(?P<first>[0-9]{1,2})/(?P<second>[0-9]{1,2})/(?P<year>[0-9]{4})"
_EPOCH = r"[0-9]{9,10}"

_PLAIN_AMOUNT = r"-?[0-9]{1,7}(\.[0-9]{1,2})?"
_COMMA_GROUPS = r"-?([0-9]{1,3},[0-9]{3}\.[0-9]{1,2}|[0-9],[0-9]{3},[0-9]{3}(\.[0-9]{1,2})?)"
_DOT_GROUPS = r"-?([0-9]{1,3}\.[0-9]{3},[0-9]{1,2}|[0-9]\.[0-9]{3}\.[0-9]{3}(,[0-9]{1,2})?)"
# Rule M4: a single separator followed by exactly three digits reads two ways (1,234 or 1.234).
_AMBIGUOUS = r"-?[0-9]{1,3}[.,][0-9]{3}"
_DECIMAL_COMMA = r"-?[0-9]{1,7},[0-9]{1,2}"
_EURO = "[eE][uU][rR]|€"

# Rule E2 (the is_valid_email macro, expression for expression): characters beyond ASCII but spaces, controls,
# invisible format characters and private use; a domain label of 1-63 characters opened by no combining mark.
_EMAIL_INTL = (
    r"\u00a1-\u00ac\u00ae-\u05ff\u0606-\u061b\u061d-\u06dc\u06de-\u070e\u0710-\u088f\u0892-\u08e1\u08e3-\u167f"
    r"\u1681-\u180d\u180f-\u1fff\u2010-\u2027\u2030-\u205e\u2070-\u2fff\u3001-\ud7ff\uf900-\ufefe\uff00-\uffef"
    r"\U00010000-\U000110bc\U000110be-\U000110cc\U000110ce-\U0001342f\U00013440-\U0001bc9f"
    r"\U0001bca4-\U0001d172\U0001d17b-\U000dffff\U000e0080-\U000effff"
)
_EMAIL_ATEXT = rf"[a-z0-9!#$%&'*+/=?^_`{{|}}~{_EMAIL_INTL}-]"
_EMAIL_LABEL_CHAR = rf"[a-z0-9{_EMAIL_INTL}]"
_EMAIL_LABEL = rf"(?![\u0300-\u036f]){_EMAIL_LABEL_CHAR}([a-z0-9{_EMAIL_INTL}-]{{0,61}}{_EMAIL_LABEL_CHAR})?"
_VALID_EMAIL = (
    rf"(?![\u0300-\u036f]){_EMAIL_ATEXT}+(\.{_EMAIL_ATEXT}+)*@{_EMAIL_LABEL}(\.{_EMAIL_LABEL})*"
    rf"\.(?![\u0300-\u036f])([a-z0-9{_EMAIL_INTL}][a-z0-9{_EMAIL_INTL}-]{{0,61}})?[a-z{_EMAIL_INTL}]"
)
_EMAIL_DOMAIN_TOO_LONG = r"@[^@]{254}"
# RFC 5890: a label whose third and fourth characters are hyphens is reserved, but for Punycode's xn--.
_EMAIL_RESERVED_LABEL = r"@(?:[^@]*\.)?(?:[^x.][^.]|x[^n.])--"
_EMAIL_SPECIAL_USE = r"\.(?:arpa|invalid|local|localhost|onion|test)$"
_PHONE_CHARACTERS = r"\+?[0-9 ().-]+"
# Rule A1: a US state and ZIP code, or a military post office (APO/FPO/DPO), state and ZIP code.
STATE_ZIP = r"((APO|FPO|DPO) )?[A-Z]{2} [0-9]{5}(-[0-9]{4})?"


def _matches(values: pd.Series, pattern: str) -> npt.NDArray[np.bool_]:
    """Whole-value regular expression match; NULL never matches (as `NULL ~ …` is never true)."""
    return values.str.fullmatch(pattern).to_numpy(dtype=bool)


def _contains(values: pd.Series, pattern: str) -> npt.NDArray[np.bool_]:
    return values.str.contains(pattern, regex=True).to_numpy(dtype=bool)


def _null_text(index: pd.Index) -> pd.Series:
    return pd.Series(np.nan, index=index, dtype="str")


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    return pa.array(values)


def _series(values: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    return values.to_pandas().astype("str").set_axis(index)


def partition(values: pd.Series, separator: str, *, last: bool = False) -> tuple[pd.Series, pd.Series, pd.Series]:
    """str.partition (or rpartition, with last=True): before, separator or '', after; NULL stays NULL.

    Through Arrow's split kernel: pandas's own partition runs in Python, value by value.
    """
    arrow = _arrow(values)
    found = pc.match_substring(arrow, separator)
    parts = pc.split_pattern(arrow, separator, max_splits=1, reverse=last)
    # One part when the separator is absent, two when present: the first, and the rest joined back.
    first = pc.list_element(parts, 0)
    joiner = pa.scalar(separator, type=arrow.type)
    rest = pc.binary_join(pc.list_slice(parts, 1), joiner)
    empty = pa.scalar("", type=arrow.type)
    separators = pc.if_else(found, joiner, empty)
    if last:
        before, after = pc.if_else(found, first, empty), pc.if_else(found, rest, first)
    else:
        before, after = first, rest
    index = values.index
    return _series(before, index), _series(separators, index), _series(after, index)


def split_part(values: pd.Series, separator: str, field: int) -> pd.Series:
    """PostgreSQL's split_part() for fields 1, 2, -1 and -2: '' where there is no such field, NULL for NULL."""
    if field == 1:
        return partition(values, separator)[0]
    if field == 2:
        return partition(partition(values, separator)[2], separator)[0]
    if field == -1:
        return partition(values, separator, last=True)[2]
    if field == -2:
        before, found, _ = partition(values, separator, last=True)
        # No separator at all: there is no field -2.
        return partition(before, separator, last=True)[2].where(found != "", "").where(values.notna())
    raise ValueError(f"split_part field {field} is not implemented")


def clean_text(values: pd.Series, rules: TextRules) -> pd.Series:
    """clean_text (C1): spaces trimmed; blank and the null markers NULL.

    Like PostgreSQL's btrim(), only spaces are trimmed: a tab or a newline around `N/A` keeps it a value.
    """
    trimmed = values.str.strip(" ")
    return trimmed.mask(rules.lower(trimmed).isin(NULL_MARKERS).to_numpy(dtype=bool))


def squish(values: pd.Series, rules: TextRules) -> pd.Series:
    """squish (A1, N1): every run of whitespace one space, trimmed."""
    return values.str.replace(rules.space_class + "+", " ", regex=True).str.strip(" ")


def spelling_key(values: pd.Series, rules: TextRules) -> pd.Series:
    """spelling_key: the key a spelling is looked up by in a mapping seed (squished, lower case)."""
    return rules.lower(squish(values, rules))


def user_key(values: pd.Series, rules: TextRules) -> pd.Series:
    """user_key (O1): the key a user is looked up by, from a username or a reference: lower case, no whitespace."""
    return rules.lower(values.str.replace(rules.space_class + "+", "", regex=True))


def _days_in_month(year: npt.NDArray[np.int64], month: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return lengths[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)


@dataclass(frozen=True)
class _Parts:
    """Date and time parts read from some rows of a column, as integers."""

    rows: npt.NDArray[np.intp]
    year: npt.NDArray[np.int64]
    month: npt.NDArray[np.int64]
    day: npt.NDArray[np.int64]
    hour: npt.NDArray[np.int64]
    minute: npt.NDArray[np.int64]
    second: npt.NDArray[np.int64]


def _integers(values: pd.Series) -> npt.NDArray[np.int64]:
    return values.astype("int64").to_numpy()


def _digits(values: npt.NDArray[np.int64], width: int) -> pd.Series:
    return pd.Series(values).astype("str").str.zfill(width)


def _make_timestamp_checked(parts: _Parts, out: pd.Series) -> None:
    """make_timestamp_checked: write the moments the parts form into `out`; impossible ones stay NULL."""
    valid = (
        (parts.year >= 1900)
        & (parts.year <= 2100)
        & (parts.month >= 1)
        & (parts.month <= 12)
        & (parts.hour >= 0)
        & (parts.hour <= 23)
        & (parts.minute >= 0)
        & (parts.minute <= 59)
        & (parts.second >= 0)
        & (parts.second <= 59)
    )
    valid &= (parts.day >= 1) & (parts.day <= _days_in_month(parts.year, parts.month))
    if not valid.any():
        return
    # Every part checked, so the text is a real moment in exactly this format.
    text = (
        _digits(parts.year[valid], 4)
        + "-"
        + _digits(parts.month[valid], 2)
        + "-"
        + _digits(parts.day[valid], 2)
        + " "
        + _digits(parts.hour[valid], 2)
        + ":"
        + _digits(parts.minute[valid], 2)
        + ":"
        + _digits(parts.second[valid], 2)
    )
    moments = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="raise").astype(TIMESTAMP_DTYPE)
    out.iloc[parts.rows[valid]] = moments.to_numpy()


def _groups(values: pd.Series, pattern: str) -> dict[str, npt.NDArray[np.int64]]:
    """The named digit groups of a pattern every value matches, as integers (Arrow's extract kernel)."""
    found = pc.extract_regex(_arrow(values), pattern)
    names = [found.type.field(i).name for i in range(found.type.num_fields)]
    return {
        name: pc.cast(pc.struct_field(found, name), pa.int64()).to_numpy(zero_copy_only=False)
        for name in names
        if name != "meridiem"
    }


def _afternoon(values: pd.Series) -> npt.NDArray[np.bool_]:
    """The macro's `upper(right(value, 2)) = 'PM'`."""
    return values.str.slice(-2).str.upper().eq("PM").to_numpy(dtype=bool)


def parse_timestamp(values: pd.Series) -> pd.Series:
    """parse_timestamp (T1, T2): every legacy timestamp form to a timestamp without time zone; NULL if none fits.

    Expects values passed through clean_text(). As the macro does, a 12-hour clock takes its hour modulo 12, so
    `13:15 PM` reads 13:15 and `25:00 PM` reads 13:00 (an impossible time the page says is unreadable).
    """
    out = pd.Series(pd.NaT, index=values.index, dtype=TIMESTAMP_DTYPE)
    iso = _matches(values, _ISO)
    slash_clock = ~iso & _matches(values, _SLASH_CLOCK)
    slash_date = ~iso & ~slash_clock & _matches(values, _SLASH_DATE)
    epoch = ~iso & ~slash_clock & ~slash_date & _matches(values, _EPOCH)

    if iso.any():
        text = values[iso]
        # The macro reads fixed positions (substr): a missing time part is 0.
        _make_timestamp_checked(
            _Parts(
                np.flatnonzero(iso),
                _integers(text.str.slice(0, 4)),
                _integers(text.str.slice(5, 7)),
                _integers(text.str.slice(8, 10)),
                _integers(text.str.slice(11, 13).replace("", "0")),
                _integers(text.str.slice(14, 16).replace("", "0")),
                _integers(text.str.slice(17, 19).replace("", "0")),
            ),
            out,
        )
    if slash_clock.any():
        parts = _groups(values[slash_clock], _SLASH_CLOCK)
        first, second, year = parts["first"], parts["second"], parts["year"]
        hour = parts["hour"] % 12 + np.where(_afternoon(values[slash_clock]), 12, 0)
        # T2: a first number above 12 is the day; otherwise a slash date with a clock is month-first.
        day_first = first > 12
        month, day = np.where(day_first, second, first), np.where(day_first, first, second)
        _make_timestamp_checked(
            _Parts(np.flatnonzero(slash_clock), year, month, day, hour, parts["minute"], np.zeros_like(year)), out
        )
    if slash_date.any():
        parts = _groups(values[slash_date], _SLASH_DATE)
        first, second, year = parts["first"], parts["second"], parts["year"]
        # T2: a second number above 12 is the day; otherwise a slash date alone is day-first.
        month_first = second > 12
        month, day = np.where(month_first, first, second), np.where(month_first, second, first)
        zeros = np.zeros_like(year)
        _make_timestamp_checked(_Parts(np.flatnonzero(slash_date), year, month, day, zeros, zeros, zeros), out)
    if epoch.any():
        seconds = _integers(values[epoch])
        # Epoch seconds are UTC, stored without a zone; microseconds, so year 2286 (10 digits) still fits.
        out.iloc[np.flatnonzero(epoch)] = (seconds * 1_000_000).astype(TIMESTAMP_DTYPE)
    return out


def money_digits(values: pd.Series, rules: TextRules) -> pd.Series:
    """money_digits: lower case, without `$`, `€`, spaces, then without `usd`, `eur`, `us` (in that order)."""
    digits = rules.lower(values)
    for removed in ("$", "€", " ", "usd", "eur", "us"):
        digits = digits.str.replace(removed, "", regex=False)
    return digits


def parse_money_amount(values: pd.Series, rules: TextRules) -> pd.Series:
    """parse_money_amount (M1, M3): the amount in cents (Int64), negative kept; NULL when unreadable.

    Expects values passed through clean_text(). At most seven integer digits, so every amount, and quantity
    (at most 1000) times it, fits numeric(12, 2).
    """
    lowered = rules.lower(values)
    free = lowered.isin(("free", "gratis")).to_numpy(dtype=bool)
    digits = money_digits(values, rules)
    plain = _matches(digits, _PLAIN_AMOUNT)
    comma_groups = ~plain & _matches(digits, _COMMA_GROUPS)
    dot_groups = ~plain & ~comma_groups & _matches(digits, _DOT_GROUPS)
    decimal_comma = ~plain & ~comma_groups & ~dot_groups & _matches(digits, _DECIMAL_COMMA)

    # Every readable form rewritten as `-?digits(.digits)?`.
    canonical = _null_text(values.index)
    canonical = canonical.mask(plain, digits)
    canonical = canonical.mask(comma_groups, digits.str.replace(",", "", regex=False))
    canonical = canonical.mask(dot_groups, digits.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    canonical = canonical.mask(decimal_comma, digits.str.replace(",", ".", regex=False))
    canonical = canonical.mask(free, "0")

    cents = pd.Series(pd.NA, index=values.index, dtype="Int64")
    readable = canonical.notna().to_numpy()
    if readable.any():
        text = canonical[readable]
        negative = text.str.startswith("-").to_numpy(dtype=bool)
        whole, _, fraction = partition(text.str.lstrip("-"), ".")
        amount = _integers(whole) * 100 + _integers(fraction.str.pad(2, side="right", fillchar="0"))
        amount = np.where(negative, -amount, amount)
        cents[readable] = amount
    return cents


@dataclass(frozen=True)
class MoneyReadings:
    """money_reading (M4): an ambiguous amount's two readings in thousandths (Int64), NULL for any other value.

    Thousandths, so the decimal reading of `5.001` is held exactly (5001), as the macro's unrounded numeric is:
    it equals no amount in cents (cents x 10), so it never agrees with evidence.
    """

    thousands: pd.Series
    decimal: pd.Series


def money_readings(values: pd.Series, rules: TextRules) -> MoneyReadings:
    digits = money_digits(values, rules)
    ambiguous = _matches(digits, _AMBIGUOUS)
    thousands = pd.Series(pd.NA, index=values.index, dtype="Int64")
    decimal = pd.Series(pd.NA, index=values.index, dtype="Int64")
    if ambiguous.any():
        text = digits[ambiguous]
        negative = text.str.startswith("-").to_numpy(dtype=bool)
        unsigned = text.str.lstrip("-")
        whole = _integers(unsigned.str.slice(0, -4))
        group = _integers(unsigned.str.slice(-3))
        sign = np.where(negative, -1, 1)
        thousands[ambiguous] = sign * (whole * 1000 + group) * 1000
        decimal[ambiguous] = sign * (whole * 1000 + group)
    return MoneyReadings(thousands, decimal)


def money_status(
    text: pd.Series, cents: pd.Series, readings: MoneyReadings, *, negative: bool
) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """money_status: (status, condition) in the macro's order; a row takes the first that holds, else `ok`."""
    missing = text.isna().to_numpy(dtype=bool)
    checks = [("missing", missing)]
    if negative:
        checks.append(("negative", cents.fillna(readings.thousands).lt(0).to_numpy(dtype=bool, na_value=False)))
    checks.append(("ambiguous", readings.thousands.notna().to_numpy(dtype=bool)))
    checks.append(("invalid", cents.isna().to_numpy(dtype=bool)))
    return checks


def agreeing_reading(
    readings: MoneyReadings, currency: pd.Series, evidence_cents: pd.Series, evidence_currency: pd.Series
) -> pd.Series:
    """money_agreeing_reading (M4): the reading equal to the evidence (amount and currency), in cents; else NULL."""
    same_currency = (currency == evidence_currency).to_numpy(dtype=bool, na_value=False)
    evidence_mills = evidence_cents.astype("Int64") * 10
    agreed = pd.Series(pd.NA, index=currency.index, dtype="Int64")
    for reading in (readings.decimal, readings.thousands):  # the thousands reading wins, as the macro's case does
        equal = same_currency & (reading == evidence_mills).to_numpy(dtype=bool, na_value=False)
        agreed[equal] = (reading[equal] // 10).astype("Int64")
    return agreed


def parse_money_currency(values: pd.Series) -> pd.Series:
    """parse_money_currency (M2): EUR for `EUR`/`€` in any case, else USD, even for NULL (the macro's `else`)."""
    return pd.Series(np.where(_contains(values, _EURO), "EUR", "USD"), index=values.index, dtype="str")


def normalize_email(values: pd.Series, rules: TextRules) -> pd.Series:
    """normalize_email (E1): spaces trimmed, lower case."""
    return rules.lower(values.str.strip(" "))


def is_valid_email(normalized: pd.Series) -> npt.NDArray[np.bool_]:
    """is_valid_email (E2): an RFC 5322 dot-atom address with RFC 6531's international characters; false for
    NULL."""
    known = normalized.fillna("")
    return (
        _matches(normalized, _VALID_EMAIL)
        & (known.str.encode("utf-8").str.len() <= 254).to_numpy(dtype=bool)
        & ~_contains(known, _EMAIL_DOMAIN_TOO_LONG)
        & ~_contains(known, _EMAIL_RESERVED_LABEL)
        & ~_contains(known, _EMAIL_SPECIAL_USE)
    )


def normalize_phone(values: pd.Series) -> pd.Series:
    """normalize_phone (P1): E.164 where it needs no guess, NULL otherwise. Expects clean_text() values."""
    qualifies = _matches(values, _PHONE_CHARACTERS)
    digits = values.str.replace(r"[+ ().-]", "", regex=True)
    count = digits.str.len().to_numpy(dtype=float, na_value=np.nan)
    plus = values.str.startswith("+").to_numpy(dtype=bool)
    international = digits.str.startswith("00").to_numpy(dtype=bool)
    leading_one = digits.str.startswith("1").to_numpy(dtype=bool)
    # The macro's `case`, first match wins; every branch needs the characters to qualify.
    rule_plus = qualifies & plus & (count >= 8) & (count <= 15)
    rule_00 = qualifies & ~rule_plus & international & (count >= 10) & (count <= 17)
    rule_ten = qualifies & ~rule_plus & ~rule_00 & (count == 10)
    rule_one = qualifies & ~rule_plus & ~rule_00 & ~rule_ten & (count == 11) & leading_one
    result = _null_text(values.index)
    result = result.mask(rule_plus | rule_one, "+" + digits)
    result = result.mask(rule_00, "+" + digits.str.slice(2))
    return result.mask(rule_ten, "+1" + digits)


def tidy_name(values: pd.Series, rules: TextRules) -> pd.Series:
    """tidy_name (N1): `LAST, First` turned round; all capitals in title case. Expects squished values.

    As the macro does, only the first two comma-separated parts are kept (`Doe, Jane, Jr.` is `Jane Doe`), and an
    empty part leaves a space at an end (`Doe,` is ` Doe`).
    """
    first_names = split_part(values, ",", 2).str.strip(" ")
    last_names = split_part(values, ",", 1).str.strip(" ")
    has_comma = values.str.contains(",", regex=False).to_numpy(dtype=bool)
    turned = values.mask(has_comma, first_names + " " + last_names)
    all_capitals = (values == rules.upper(values)).to_numpy(dtype=bool) & (values != rules.lower(values)).to_numpy(
        dtype=bool
    )
    if not all_capitals.any():
        return turned
    return turned.mask(all_capitals, rules.initcap(turned[all_capitals]))


@dataclass(frozen=True)
class AddressParts:
    """Rule A1's split of one address column (stg_legacy__users)."""

    text: pd.Series
    street: pd.Series
    city: pd.Series
    state: pd.Series
    postal_code: pd.Series
    country_text: pd.Series
    country_key: pd.Series
    status: pd.Series


def split_address(raw: pd.Series, rules: TextRules) -> AddressParts:
    """Rule A1: split a legacy address on commas, read from the right (as stg_legacy__users does)."""
    # Single spaces, and every comma written as ", ", so the parts split on one separator.
    spaced = clean_text(raw, rules).str.replace(rules.space_class + "+", " ", regex=True)
    text = spaced.str.replace(" ?, ?", ", ", regex=True).str.strip(", ")
    last = split_part(text, ", ", -1)
    second_last = split_part(text, ", ", -2)
    before_last = partition(text, ", ", last=True)
    has_separator = before_last[1].eq(", ").to_numpy(dtype=bool)
    state_last = _matches(last, STATE_ZIP)
    state_second = ~state_last & has_separator & _matches(second_last, STATE_ZIP)
    state_zip = _null_text(raw.index).mask(state_last, last).mask(state_second, second_last)

    # What stands before the state part ("street, city", or a military address's street); NULL when nothing.
    before_second = partition(before_last[0], ", ", last=True)
    head = _null_text(raw.index).mask(state_last & has_separator, before_last[0])
    head = head.mask(state_second & before_second[1].eq(", ").to_numpy(dtype=bool), before_second[0])

    military = _contains(state_zip, "^(?:APO|FPO|DPO) ")
    head_parts = partition(head, ", ", last=True)
    street = head.where(military, head_parts[0].where(head_parts[1].eq(", ").to_numpy(dtype=bool)))
    city = split_part(head, ", ", -1).mask(military, split_part(state_zip, " ", 1))
    state = split_part(state_zip, " ", 1).mask(military, split_part(state_zip, " ", 2))
    # `ST 12345` or `APO ST 12345`: the ZIP code is the last word either way.
    postal_code = split_part(state_zip, " ", -1)
    country_text = _null_text(raw.index).mask(state_second, last)
    status = pd.Series(
        np.select([text.isna().to_numpy(), state_zip.isna().to_numpy()], ["missing", "not_split"], "ok"),
        index=raw.index,
        dtype="str",
    )
    return AddressParts(text, street, city, state, postal_code, country_text, spelling_key(country_text, rules), status)
