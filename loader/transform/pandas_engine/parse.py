"""One vectorized function per parsing macro of dbt_project/macros/, giving what the macro gives, NULL for NULL.

Text columns are pandas `str` Series (Arrow-backed, NaN for SQL NULL). The regular expressions run in Arrow's
RE2 through the `.str` methods, so each is written in the part of the syntax RE2, Python's re and PostgreSQL
read alike: `[0-9]` for `\\d` (PostgreSQL's `\\d` is ASCII here), the locale's `\\s` spelled out as a class
(pg_text), whole-value matches through `.str.fullmatch`. Rule ids refer to docs/cleaning-rules.md; where the
macro and the page part ways, the macro is followed (the differential test compares with it) and the function
says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loader.transform.pandas_engine.pg_text import TextRules

NULL_MARKERS = ("", "n/a", "na", "null", "none", "-")
TIMESTAMP_DTYPE: Final = "datetime64[us]"

_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?"
_SLASH_CLOCK = (
    r"(?P<first>[0-9]{1,2})/(?P<second>[0-9]{1,2})/(?P<year>[0-9]{4}) "
    r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2}) ?(?P<meridiem>[AaPp])[Mm]"
)
_SLASH_DATE = r"(?P<first>[0-9]{1,2})/(?P<second>[0-9]{1,2})/(?P<year>[0-9]{4})"
_EPOCH = r"[0-9]{9,10}"
# Rules T3-T5, the parse_timestamp macro's patterns with groups named (the macro matches the date and the time
# apart, the same language): the time that may follow a date, ...
_TIME = (
    r"(?:(?:[Tt]|,? +)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,6}))?)?(?: ?(?P<meridiem>[AaPp])[.]?[Mm][.]?)?"
    r"(?:[Zz]| ?(?:[Uu][Tt][Cc]|[Gg][Mm][Tt])"
    r"| ?(?P<sign>[+-])(?P<offset_hours>[0-9]{2})(?::?(?P<offset_minutes>[0-9]{2}))?)?)?$"
)
# ... a year-first date, one separator throughout (2021-3-4, 2021/03/04, 2021.03.04) ...
_YEAR_FIRST = (
    r"^(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})|/(?P<month_slash>[0-9]{1,2})/"
    r"(?P<day_slash>[0-9]{1,2})|[.](?P<month_dot>[0-9]{1,2})[.](?P<day_dot>[0-9]{1,2}))" + _TIME
)
# ... a dotted date with the year last, always day-first (04.03.2021) ...
_DAY_FIRST_DOTTED = r"^(?P<day>[0-9]{1,2})[.](?P<month>[0-9]{1,2})[.](?P<year>[0-9]{4})" + _TIME
# ... and English or Spanish month names (March 4, 2021; 4 March 2021; 4 de marzo de 2021; 4-Mar-2021), matched
# ASCII-lower-cased, with a weekday before them if any. A month or weekday is told by its first three or two letters.
_MONTH = (
    "(?:jan(?:uary)?|feb(?:ruary|rero)?|mar(?:ch|zo)?|apr(?:il)?|abr(?:il)?|may(?:o)?|jun(?:e|io)?|jul(?:y|io)?"
    "|aug(?:ust)?|ago(?:sto)?|sep(?:t|tember|tiembre)?|set(?:iembre)?|oct(?:ober|ubre)?|nov(?:ember|iembre)?"
    "|dec(?:ember)?|dic(?:iembre)?|ene(?:ro)?)[.]?"
)
_WEEKDAY = (
    "(?:mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?"
    "|lun(?:es)?|mar(?:tes)?|mi[eéÉ](?:rcoles)?|jue(?:ves)?|vie(?:rnes)?|s[aáÁ]b(?:ado)?|dom(?:ingo)?)"
)
_ORDINAL = "(?:st|nd|rd|th)?"
_NAMED = (
    rf"^(?:(?P<weekday>{_WEEKDAY})[.]?,? +)?"
    rf"(?:(?P<month>{_MONTH}) +(?P<day>[0-9]{{1,2}}){_ORDINAL},? +"
    rf"|(?P<day_before>[0-9]{{1,2}}){_ORDINAL} +(?:de +)?(?P<month_after>{_MONTH}),? +(?:del? +)?"
    rf"|(?P<day_dashed>[0-9]{{1,2}})(?:-(?P<month_dashed>{_MONTH})-|/(?P<month_slashed>{_MONTH})/))"
    r"(?P<year>[0-9]{4})" + _TIME
)
_MONTH_PREFIXES = {
    **dict.fromkeys(("jan", "ene"), 1), "feb": 2, "mar": 3, **dict.fromkeys(("apr", "abr"), 4), "may": 5,
    "jun": 6, "jul": 7, **dict.fromkeys(("aug", "ago"), 8), **dict.fromkeys(("sep", "set"), 9), "oct": 10,
    "nov": 11, **dict.fromkeys(("dec", "dic"), 12),
}  # fmt: skip
# ISO days of the week; `sá`/`sÁ` are sábado, whose capital accent an ASCII lower-casing leaves.
_WEEKDAY_PREFIXES = {
    **dict.fromkeys(("mo", "lu"), 1), **dict.fromkeys(("tu", "ma"), 2), **dict.fromkeys(("we", "mi"), 3),
    **dict.fromkeys(("th", "ju"), 4), **dict.fromkeys(("fr", "vi"), 5), **dict.fromkeys(("sa", "sá", "sÁ"), 6),
    **dict.fromkeys(("su", "do"), 7),
}  # fmt: skip

_PLAIN_AMOUNT = r"-?[0-9]{1,7}(\.[0-9]{1,2})?"
_COMMA_GROUPS = r"-?([0-9]{1,3},[0-9]{3}\.[0-9]{1,2}|[0-9],[0-9]{3},[0-9]{3}(\.[0-9]{1,2})?)"
_DOT_GROUPS = r"-?([0-9]{1,3}\.[0-9]{3},[0-9]{1,2}|[0-9]\.[0-9]{3}\.[0-9]{3}(,[0-9]{1,2})?)"
# Rule M4: a single separator followed by exactly three digits reads two ways (1,234 or 1.234).
_AMBIGUOUS = r"-?[0-9]{1,3}[.,][0-9]{3}"
_DECIMAL_COMMA = r"-?[0-9]{1,7},[0-9]{1,2}"

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
# Rule S1 (the mapping_key macro): the code point ranges a mapping key drops, and the letters NFKD leaves whole.
_KEY_DROPPED = (
    (0x01, 0x2F),
    (0x3A, 0x40),
    (0x5B, 0x60),
    (0x7B, 0xBF),
    (0xD7, 0xD7),
    (0xF7, 0xF7),
    (0x2B9, 0x36F),
    (0x2000, 0x206F),
    (0x3000, 0x303F),
    (0xFE30, 0xFE4F),
    (0xFF01, 0xFF0F),
)
# Written with the characters themselves, escaped, so RE2 (Arrow) and Python's re read the class alike.
_KEY_DROPPED_CLASS = "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _KEY_DROPPED) + "]"
_KEY_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "ß": "ss", "æ": "ae", "œ": "oe"})


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
    converted: pd.Series = values.to_pandas()
    return converted.astype("str").set_axis(index)


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
    """spelling_key (O2): the key a product name is looked up by (squished, lower case)."""
    return rules.lower(squish(values, rules))


def mapping_key(values: pd.Series, rules: TextRules) -> pd.Series:
    """mapping_key (S1): lower case, accents folded (NFKD), spaces, punctuation and separators dropped."""
    # NFKD first: it can bring capitals back (double-struck H is H), and it splits Ó into O and a mark, which a C
    # locale's lower() does read.
    folded = rules.lower(values.str.normalize("NFKD")).str.translate(_KEY_LETTERS)
    return folded.str.replace(_KEY_DROPPED_CLASS, "", regex=True)


def user_key(values: pd.Series, rules: TextRules) -> pd.Series:
    """user_key (O1): the key a user is looked up by, from a username or a reference: lower case, no whitespace."""
    return rules.lower(values.str.replace(rules.space_class + "+", "", regex=True))


def _days_in_month(year: npt.NDArray[np.int64], month: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    # numpy types an array == a number as Any, hence the annotation.
    days: npt.NDArray[np.int64] = lengths[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    return days


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
    microsecond: npt.NDArray[np.int64] | None = None
    # T5: the written offset from UTC in minutes, which the moment is moved back by.
    offset_minutes: npt.NDArray[np.int64] | None = None
    # T4: the ISO day of the week written beside the date, 0 where none was; one that disagrees makes it NULL.
    weekday: npt.NDArray[np.int64] | None = None


def _integers(values: pd.Series) -> npt.NDArray[np.int64]:
    return np.asarray(values.astype("int64"), dtype=np.int64)


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
    moments = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="raise").astype(TIMESTAMP_DTYPE).to_numpy()
    rows = parts.rows[valid]
    if parts.weekday is not None:
        weekday = parts.weekday[valid]
        # numpy's day 0 (1970-01-01) was a Thursday, ISO day 4.
        days = moments.astype("datetime64[D]").astype(np.int64)
        agrees = (weekday == 0) | ((days + 3) % 7 + 1 == weekday)
        rows, moments = rows[agrees], moments[agrees]
        valid[valid] = agrees
    if parts.microsecond is not None:
        moments = moments + parts.microsecond[valid].astype("timedelta64[us]")
    if parts.offset_minutes is not None:
        moments = moments - parts.offset_minutes[valid].astype("timedelta64[m]")
    out.iloc[rows] = moments


def _groups(values: pd.Series, pattern: str) -> dict[str, npt.NDArray[np.int64]]:
    """The named digit groups of a pattern every value matches, as integers (Arrow's extract kernel)."""
    found = pc.extract_regex(_arrow(values), pattern)
    names = [found.type.field(i).name for i in range(found.type.num_fields)]
    return {
        name: pc.cast(pc.struct_field(found, name), pa.int64()).to_numpy(zero_copy_only=False)
        for name in names
        if name != "meridiem"
    }


def _captures(values: pa.Array | pa.ChunkedArray, pattern: str) -> tuple[npt.NDArray[np.bool_], dict[str, pa.Array]]:
    """Which values a pattern matches, and its named groups as text ('' where a group took no part)."""
    found = pc.extract_regex(values, pattern)
    matched = pc.is_valid(found).to_numpy(zero_copy_only=False)
    found = found.filter(matched)
    return matched, {found.type.field(i).name: pc.struct_field(found, i) for i in range(found.type.num_fields)}


def _number(text: pa.Array) -> npt.NDArray[np.int64]:
    """Digits as an integer, 0 for ''."""
    number: npt.NDArray[np.int64] = pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64()).to_numpy(
        zero_copy_only=False
    )
    return number


def _prefix_number(text: pa.Array, prefixes: dict[str, int], length: int) -> npt.NDArray[np.int64]:
    """The number a name's first letters stand for in `prefixes`, 0 for '' (the name took no part)."""
    found = pc.index_in(pc.utf8_slice_codeunits(text, 0, length), value_set=pa.array(list(prefixes)))
    numbers = np.array([0, *prefixes.values()], dtype=np.int64)
    # index_in gives int32 positions into the value set, null where the name is not there.
    positions: npt.NDArray[np.int32] = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
    return numbers[positions + 1]


def _read_new_forms(values: pd.Series, positions: npt.NDArray[np.intp], out: pd.Series) -> None:
    """T3-T5 (year-first, day-first dotted and month-name dates, a time, a zone) into `out` at `positions`."""
    text = _arrow(values)
    lowered = pc.ascii_lower(text)  # A-Z only, as the macro's translate(): a locale's lower() is not wanted here
    for pattern, subject in ((_YEAR_FIRST, text), (_DAY_FIRST_DOTTED, text), (_NAMED, lowered)):
        matched, groups = _captures(subject, pattern)
        if not matched.any():
            continue
        # The month and day sit in whichever alternative matched; the others are ''.
        joined = pa.scalar("", groups["year"].type)
        month = pc.binary_join_element_wise(*(groups[n] for n in groups if n.startswith("month")), joined)
        day = pc.binary_join_element_wise(*(groups[n] for n in groups if n.startswith("day")), joined)
        named = pattern is _NAMED
        hour = _number(groups["hour"])
        meridiem = groups["meridiem"].to_numpy(zero_copy_only=False)
        twelve_hour = meridiem != ""
        afternoon = (meridiem == "p") | (meridiem == "P")
        sign = np.where(groups["sign"].to_numpy(zero_copy_only=False) == "-", -1, 1)
        offset_hours, offset_minutes = _number(groups["offset_hours"]), _number(groups["offset_minutes"])
        # A 12-hour clock runs 1-12 (13:05 PM contradicts itself); an offset is at most 14:59.
        readable = (~twelve_hour | ((hour >= 1) & (hour <= 12))) & (offset_hours <= 14) & (offset_minutes <= 59)
        rows = positions[matched][readable]
        fraction = pc.utf8_rpad(groups["fraction"], 6, "0")
        _make_timestamp_checked(
            _Parts(
                rows,
                _number(groups["year"])[readable],
                (_prefix_number(month, _MONTH_PREFIXES, 3) if named else _number(month))[readable],
                _number(day)[readable],
                np.where(twelve_hour, hour % 12 + np.where(afternoon, 12, 0), hour)[readable],
                _number(groups["minute"])[readable],
                _number(groups["second"])[readable],
                microsecond=_number(fraction)[readable],
                offset_minutes=(sign * (offset_hours * 60 + offset_minutes))[readable],
                weekday=_prefix_number(groups["weekday"], _WEEKDAY_PREFIXES, 2)[readable] if named else None,
            ),
            out,
        )


def _afternoon(values: pd.Series) -> npt.NDArray[np.bool_]:
    """The macro's `upper(right(value, 2)) = 'PM'`."""
    return values.str.slice(-2).str.upper().eq("PM").to_numpy(dtype=bool)


def parse_timestamp(values: pd.Series) -> pd.Series:
    """parse_timestamp (T1-T5): every unambiguous date form to a timestamp without time zone; NULL if none fits.

    Expects values passed through clean_text(). As the macro does, a legacy slash date's 12-hour clock takes its
    hour modulo 12, so `03/04/2021 13:15 PM` reads 13:15 and `25:00 PM` reads 13:00 (an impossible time the page
    says is unreadable); the T3-T5 forms refuse a 12-hour clock outside 1-12. A zone or an offset is converted to
    UTC (T5).
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
    # The new forms only on what is left, so the common forms pay nothing for them.
    rest = np.flatnonzero(~iso & ~slash_clock & ~slash_date & ~epoch & values.notna().to_numpy())
    if rest.size:
        _read_new_forms(values.iloc[rest], rest, out)
    return out


@dataclass(frozen=True)
class MoneyParts:
    """A money text split (M1, M2): the signed amount (money_digits) and the currency written (money_currency_key),
    each NULL where the text is not one amount with at most a currency at either end (money_amount_text)."""

    digits: pd.Series
    currency_key: pd.Series


def money_parts(values: pd.Series, rules: TextRules) -> MoneyParts:
    """money_amount_text, money_digits and money_currency_key: sign, currency before, amount, currency after.

    One extract with named groups here (RE2 is quick at it); the macros find the same parts with a match test and
    a substring, which PostgreSQL runs far faster than capturing groups.
    """
    space = rules.space_class
    other = "[^\\-0-9.," + rules.space_class[1:-1] + "]"
    pattern = (
        f"^(?P<sign>-?){space}*(?P<before>{other}(?:[^0-9]*{other})?)?{space}*"
        f"(?P<amount>-?[0-9](?:[0-9., ]*[0-9])?){space}*(?P<after>{other}[^0-9]*)?$"
    )
    matched = _matches(values, pattern)
    digits = _null_text(values.index)
    written = _null_text(values.index)
    if matched.any():
        found = pc.extract_regex(_arrow(values[matched]), pattern)
        index = values.index[matched]

        def part(name: str) -> pd.Series:
            return _series(pc.struct_field(found, name), index).fillna("")

        amount = part("amount")
        # Spaces go only where they group thousands (12 500,00); any other one stays, and nothing reads it.
        grouped = _matches(amount, "-?[0-9]{1,3}( [0-9]{3})+([.,][0-9]{1,2})?")
        digits[matched] = part("sign") + amount.mask(grouped, amount.str.replace(" ", "", regex=False))
        written[matched] = part("before") + part("after")
    return MoneyParts(digits, currency_key(written, rules))


def currency_key(values: pd.Series, rules: TextRules) -> pd.Series:
    """currency_key (M2): lower case without spaces, dots, commas and hyphens; NULL when nothing is left."""
    key = rules.lower(values).str.replace("[" + rules.space_class[1:-1] + ".,\\-]", "", regex=True)
    return key.mask(_bools_of(key == ""))


def _bools_of(values: pd.Series) -> npt.NDArray[np.bool_]:
    return values.to_numpy(dtype=bool, na_value=False)


def parse_money_amount(values: pd.Series, digits: pd.Series, rules: TextRules) -> pd.Series:
    """parse_money_amount (M1, M3): the amount in cents (Int64), negative kept; NULL when unreadable.

    Expects values passed through clean_text(). At most seven integer digits, so every amount, and quantity
    (at most 1000) times it, fits numeric(12, 2).
    """
    lowered = rules.lower(values)
    free = lowered.isin(("free", "gratis")).to_numpy(dtype=bool)
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


def money_readings(digits: pd.Series) -> MoneyReadings:
    ambiguous = _matches(digits, _AMBIGUOUS)
    thousands = pd.Series(pd.NA, index=digits.index, dtype="Int64")
    decimal = pd.Series(pd.NA, index=digits.index, dtype="Int64")
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
    text: pd.Series, cents: pd.Series, readings: MoneyReadings, currency_status: pd.Series, *, negative: bool
) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """money_status: (status, condition) in the macro's order; a row takes the first that holds, else `ok`."""
    missing = text.isna().to_numpy(dtype=bool)
    checks = [("missing", missing), ("invalid", _bools_of(currency_status == "unknown"))]
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


def money_currency(key: pd.Series, currencies: Mapping[str, str | None]) -> pd.Series:
    """money_currency (M2): the currency a money text's currency_key names; NULL when bare or unreadable.

    `currencies` is the currency_names seed as currency_lookup() decides it: a key -> the one currency it names,
    or the legacy currency for a spelling several share that include it, else None.
    """
    return key.map(currencies).astype("str")


def money_currency_status(key: pd.Series, currency: pd.Series) -> pd.Series:
    """money_currency_status (M2): `bare`, `unknown` or `named`."""
    bare = key.isna().to_numpy(dtype=bool)
    unknown = ~bare & currency.isna().to_numpy(dtype=bool)
    return pd.Series(np.select([bare, unknown], ["bare", "unknown"], "named"), index=key.index, dtype="str")


def normalize_email(values: pd.Series, rules: TextRules) -> pd.Series:
    """normalize_email (E1): spaces trimmed, lower case."""
    return rules.lower(values.str.strip(" "))


def is_valid_email(normalized: pd.Series) -> npt.NDArray[np.bool_]:
    """is_valid_email (E2): an RFC 5322 dot-atom address with RFC 6531's international characters; false for
    NULL."""
    known = normalized.fillna("")
    return (
        _matches(normalized, _VALID_EMAIL)
        # pandas-stubs types .str.len() for text only, though it counts the bytes of bytes values too.
        & (known.str.encode("utf-8").str.len() <= 254).to_numpy(dtype=bool)  # type: ignore[misc]
        & ~_contains(known, _EMAIL_DOMAIN_TOO_LONG)
        & ~_contains(known, _EMAIL_RESERVED_LABEL)
        & ~_contains(known, _EMAIL_SPECIAL_USE)
    )


def normalize_phone(values: pd.Series) -> pd.Series:
    """normalize_phone (P1): E.164 where it needs no guess, NULL otherwise. Expects clean_text() values."""
    # The macro's tables: country calling codes by the lengths of their national numbers (libphonenumber's
    # metadata, phonenumbers 9.0, lengths dialled only locally left out), and the digits a national number may
    # start with where that is not 1-9 (no trunk prefix 0; Belarus's trunk prefix is 8). Read here into sets of
    # `code:length` and `code:first digit` rather than the macro's one pattern: Arrow's RE2 takes longer to compile
    # that than the sets take to build.
    national_lengths = {
        "4-5": "290",
        "4-7": "690",
        "4-11": "352",
        "4-13": "43 598",
        "4-15": "49",
        "4-7 10": "98",
        "4 7": "683",
        "5": "500 682",
        "5-6": "247",
        "5-7": "688",
        "5-8": "386",
        "5-10": "27 64",
        "5-11": "31",
        "5-12": "358 971",
        "5-10 12": "61",
        "5-9 11": "852",
        "5-7 10": "685",
        "5-6 8-14": "82",
        "5 7": "676 677 678",
        "5 8": "47 686",
        "6": "298 299 672 687",
        "6-7": "597",
        "6-9": "252 355",
        "6-10": "48 95 880",
        "6-11": "375 595",
        "6-12": "39 381",
        "6-10 12": "46",
        "6-9 12": "359",
        "6-8 10": "53",
        "6-7 9": "421",
        "6 8-9": "376 689",
        "6 8-13": "63",
        "6 9": "40 508 681",
        "7": "238 239 246 248 269 291 297 592 673 674 680 691 692",
        "7-8": "241 599 670 675 853 961 965 975",
        "7-9": "231 385 967 968",
        "7-10": "84 243 254 353",
        "7-11": "886",
        "7-12": "86 882 972",
        "7-17": "62",
        "7-9 11": "974",
        "7-8 10": "230 267 372",
        "7-8 10-11": "507",
        "7-8 11": "503",
        "7 9": "220 245 265 354 423",
        "7 9-10": "44 263",
        "7 10": "960",
        "7 10 12-13": "90",
        "7 11": "501 679",
        "8": (
            "45 216 222 223 226 227 228 232 235 236 253 257 266 350 356 357 370 371 373 374 389 505 509 800 808 973 993"
        ),
        "8-9": "32 36 51 213 224 233 237 250 258 264 268 377 382 387 591 962 963",
        "8-10": "20 60 855 856 964 970 976",
        "8-11": "55 593",
        "8-12": "92 383 883",
        "8-13": "91",
        "8-17": "81",
        "8-10 13": "66",
        "8 10": "378 506 850",
        "8 10-11": "57 65 977",
        "8 11": "502 504",
        "9": "33 34 93 94 211 212 218 221 240 242 244 249 251 255 256 260 261 262 351 590 594 596 979 992 994 995 998",
        "9-10": "380 881 966 996",
        "9-11": "56",
        "9-12": "420",
        "9 12": "41 870",
        "10": "52 58 225 229",
        "10-11": "54",
        "10-12": "30",
        "10-14": "234",
        "10 14": "7",
        "11": "888",
        "12": "878",
    }
    first_digits = {
        "39": "0123456789", "47": "0123456789", "225": "0123456789", "227": "0123456789", "229": "0123456789",
        "241": "0123456789", "242": "0123456789", "267": "0123456789", "268": "0123456789", "378": "0123456789",
        "501": "0123456789", "676": "0123456789", "679": "0123456789", "687": "0123456789", "853": "0123456789",
        "375": "12345679",
    }  # fmt: skip
    code_lengths: set[str] = set()
    code_starts: set[str] = set()
    for lengths, codes in national_lengths.items():
        for code in codes.split():
            code_starts.update(f"{code}:{digit}" for digit in first_digits.get(code, "123456789"))
            for run in lengths.split():
                low, _, high = run.partition("-")
                code_lengths.update(f"{code}:{length}" for length in range(int(low), int(high or low) + 1))
    lengths_known = pa.array(sorted(code_lengths))
    starts_known = pa.array(sorted(code_starts))
    north_american = "[2-9][0-9]{9}"

    qualifies = _matches(values, _PHONE_CHARACTERS)
    digits = values.str.replace(r"[+ ().-]", "", regex=True)
    plus = values.str.startswith("+").to_numpy(dtype=bool)
    starts_00 = ~plus & digits.str.startswith("00").to_numpy(dtype=bool)
    # The macro's `case`, first match wins: a + or 00 number is international or nothing.
    international = digits.where(plus, digits.str.slice(2).where(starts_00))
    count = international.str.len().to_numpy(dtype=float, na_value=np.nan)
    known = _matches(international, "1" + north_american)
    for size in (1, 2, 3):  # a country code has one to three digits, and none is the start of another
        code_prefix = international.str.slice(0, size) + ":"
        national = international.str.slice(size)
        length = pc.is_in(
            _arrow(code_prefix + national.str.len().astype("Int64").astype("str")), value_set=lengths_known
        )
        start = pc.is_in(_arrow(code_prefix + national.str.slice(0, 1)), value_set=starts_known)
        known = known | pc.and_(length, start).to_numpy(zero_copy_only=False)
    rule_international = qualifies & (plus | starts_00) & (count >= 8) & (count <= 15) & known
    rule_north_american = qualifies & ~plus & ~starts_00 & _matches(digits, "1?" + north_american)
    result = _null_text(values.index)
    result = result.mask(rule_international, "+" + international)
    return result.mask(rule_north_american, "+1" + digits.str.slice(-10))


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
    return AddressParts(text, street, city, state, postal_code, country_text, mapping_key(country_text, rules), status)
