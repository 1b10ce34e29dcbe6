"""Rules T1-T5 against an oracle: every unambiguous date form both engines read gives the moment it was written.

A true moment is drawn (Python's datetime is the oracle), written out through a random choice of each of the
grammar's options (docs/cleaning-rules.md, T3-T5: form, separators, month and weekday names, their language,
case and dots, ordinals, commas, 12- or 24-hour clock, seconds, fraction, zone or offset), and the parse_timestamp
macro (rendered and evaluated on the test server) and the pandas function must both give it back, converted to
UTC where a zone was written. Each example is a list of values, read by one query and one pandas call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loader.transform.pandas_engine import parse
from tests.support.helpers import batch_property
from tests.support.pandas_engine_sql import evaluate, macro_sql

PROPERTY = batch_property(30)

MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]  # fmt: skip
MONTHS_ES = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
             "noviembre", "diciembre"]  # fmt: skip
# Every abbreviation each month has, in either language.
MONTH_ABBREVIATIONS = [["jan", "ene"], ["feb"], ["mar"], ["apr", "abr"], ["may"], ["jun"], ["jul"], ["aug", "ago"],
                       ["sep", "sept", "set"], ["oct"], ["nov"], ["dec", "dic"]]  # fmt: skip
# Monday first, as isoweekday() counts.
WEEKDAYS = [
    ["Monday", "Mon", "lunes", "lun"],
    ["Tuesday", "Tue", "Tues", "martes", "mar"],
    ["Wednesday", "Wed", "miércoles", "miercoles", "mié", "mie"],
    ["Thursday", "Thu", "Thur", "Thurs", "jueves", "jue"],
    ["Friday", "Fri", "viernes", "vie"],
    ["Saturday", "Sat", "sábado", "sabado", "sáb", "sab"],
    ["Sunday", "Sun", "domingo", "dom"],
]
# Offsets as written, and their minutes east of UTC.
OFFSETS = [("Z", 0), ("z", 0), (" UTC", 0), ("GMT", 0), ("+00:00", 0), ("+01:00", 60), ("+0100", 60), ("+01", 60),
           (" +0530", 330), ("-05:00", -300), ("-0800", -480), (" -03", -180), ("+14:00", 840), ("-12:00", -720),
           ("+05:45", 345)]  # fmt: skip


def _ordinal(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _cased(draw: st.DrawFn, text: str) -> str:
    return draw(st.sampled_from([text, text.lower(), text.upper(), text.title()]))


def _number(draw: st.DrawFn, value: int) -> str:
    """One or two digits: 4 or 04."""
    return draw(st.sampled_from([str(value), f"{value:02d}"]))


@st.composite
def written_moments(draw: st.DrawFn) -> tuple[str, datetime]:
    """A moment written in one of the T3-T5 forms, and the moment the rules must read (UTC if a zone was written)."""
    moment = draw(st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)))
    form = draw(st.sampled_from(["year-first", "day-first dotted", "month first", "day first", "day-month-year"]))
    timed = draw(st.booleans())
    digits = draw(st.integers(0, 6)) if timed else 0
    moment = moment.replace(microsecond=moment.microsecond // 10 ** (6 - digits) * 10 ** (6 - digits))
    if not timed:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif digits == 0 and draw(st.booleans()):
        moment = moment.replace(second=0)
    year, month, day = f"{moment.year:04d}", _number(draw, moment.month), _number(draw, moment.day)

    if form == "year-first":
        separator = draw(st.sampled_from("-/."))
        date = f"{year}{separator}{month}{separator}{day}"
    elif form == "day-first dotted":
        date = f"{day}.{month}.{year}"
    else:
        if draw(st.booleans()):
            month_name = draw(st.sampled_from([MONTHS_EN[moment.month - 1], MONTHS_ES[moment.month - 1]]))
        else:
            month_name = draw(st.sampled_from(MONTH_ABBREVIATIONS[moment.month - 1])) + draw(st.sampled_from(["", "."]))
        month_name = _cased(draw, month_name)
        ordinal = draw(st.sampled_from(["", _ordinal(moment.day)]))
        comma = draw(st.sampled_from(["", ","]))
        if form == "month first":
            date = f"{month_name} {day}{ordinal}{comma} {year}"
        elif form == "day first":
            de, del_ = draw(st.sampled_from([("", ""), ("de ", "de "), ("de ", "del "), ("", "de ")]))
            date = f"{day}{ordinal} {de}{month_name}{comma} {del_}{year}"
        else:
            separator = draw(st.sampled_from("-/"))
            date = f"{day}{separator}{month_name}{separator}{year}"
        if draw(st.booleans()):
            weekday = _cased(draw, draw(st.sampled_from(WEEKDAYS[moment.isoweekday() - 1])))
            date = weekday + draw(st.sampled_from(["", "."])) + draw(st.sampled_from(["", ","])) + " " + date

    if not timed:
        return date, moment
    twelve_hour = draw(st.booleans())
    hour = (moment.hour % 12 or 12) if twelve_hour else moment.hour
    clock = f"{_number(draw, hour)}:{moment.minute:02d}"
    if moment.second or digits or draw(st.booleans()):
        clock += f":{moment.second:02d}"
        if digits:
            clock += draw(st.sampled_from(".,")) + f"{moment.microsecond:06d}"[:digits]
    if twelve_hour:
        meridiem = "AM" if moment.hour < 12 else "PM"
        meridiem = draw(st.sampled_from([meridiem, meridiem.lower(), f"{meridiem[0]}.{meridiem[1]}.".lower()]))
        clock += draw(st.sampled_from(["", " "])) + meridiem
    zone, minutes = draw(st.sampled_from([("", 0), *OFFSETS]))
    separators = ["T", " ", ", "] if form == "year-first" else [" ", ", "]
    written = date + draw(st.sampled_from(separators)) + clock + zone
    return written, moment - timedelta(minutes=minutes)


def _read(conn: psycopg.Connection[Any], values: Sequence[str]) -> tuple[list[Any], list[Any]]:
    """What the macro and the pandas function read from each value (clean_text would leave these as they are)."""
    from_sql = evaluate(conn, macro_sql("parse_timestamp", "value"), list(values))
    read = parse.parse_timestamp(pd.Series(list(values), dtype="str"))
    return from_sql, [None if pd.isna(moment) else moment.to_pydatetime() for moment in read]


def _wrong(values: Sequence[str], expected: Sequence[datetime | None], sql: list[Any], pandas: list[Any]) -> list[str]:
    return [
        f"  {value!r}: expected {want}, sql {got_sql}, pandas {got_pandas}"
        for value, want, got_sql, got_pandas in zip(values, expected, sql, pandas, strict=True)
        if not want == got_sql == got_pandas
    ]


@PROPERTY
@given(st.lists(written_moments(), min_size=10, max_size=30))
def test_every_written_form_reads_as_the_moment_written(
    conn: psycopg.Connection[Any], cases: list[tuple[str, datetime]]
) -> None:
    values = [value for value, _ in cases]
    wrong = _wrong(values, [moment for _, moment in cases], *_read(conn, values))
    assert not wrong, "values read wrong:\n" + "\n".join(wrong)


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A written moment with one character dropped, doubled or replaced: mostly unreadable, sometimes not."""
    value, _ = draw(written_moments())
    at = draw(st.integers(0, len(value) - 1))
    edit = draw(st.sampled_from(["drop", "double", "replace"]))
    if edit == "drop":
        return value[:at] + value[at + 1 :]
    if edit == "double":
        return value[:at] + value[at] + value[at:]
    return value[:at] + draw(st.sampled_from(" ,.-/:+T0139aApPmMdDeEsSxZ\u00e9\u0130\u017f\t")) + value[at + 1 :]


@PROPERTY
@given(st.lists(near_misses(), min_size=10, max_size=30))
def test_near_misses_read_alike_in_both_engines(conn: psycopg.Connection[Any], values: list[str]) -> None:
    from_sql, from_pandas = _read(conn, values)
    wrong = [f"  {v!r}: sql {s}, pandas {p}" for v, s, p in zip(values, from_sql, from_pandas, strict=True) if s != p]
    assert not wrong, "the engines disagree:\n" + "\n".join(wrong)


REFUSED = [
    # Two-digit years: which century is a guess.
    "03/04/21",
    "4 Mar 21",
    "March 4, 21",
    "04.03.21",
    "21-03-04",
    # Impossible dates and times.
    "2021-02-31",
    "2021/2/29",
    "31.04.2021",
    "31 de abril de 2021",
    "Feb 30, 2021",
    "2021-13-01",
    "2021-03-04T24:00",
    "2021-03-04 13:60",
    "2021-03-04 13:05:60",
    "2021-03-04T13:05:09.1234567Z",
    # A 12-hour clock runs 1-12; an offset reaches 14 hours at most.
    "March 4, 2021 13:05 PM",
    "2021-03-04 0:05 AM",
    "2021-03-04T13:05+15:00",
    "2021-03-04T13:05+01:60",
    # Not a month, not a weekday, or a weekday the date does not fall on (4 March 2021 was a Thursday).
    "Marchh 4, 2021",
    "Mars 4, 2021",
    "4 Marz 2021",
    "Wed, 4 Mar 2021",
    "miércoles 4 de marzo de 2021",
    "Thursday, 5 March 2021",
    "Thursday March 4, 2021, 1:05 PM mañana",
    # Separators that change mid-date, or a form needing a guess (a dashed or slashed date with the year last and
    # no AM/PM: day or month first?).
    "2021-03/04",
    "2021.03-04",
    "4-Mar/2021",
    "03-04-2021",
    "03/04/2021 13:05",
    # A zone without a time, a time without a date, the basic ISO form, years out of range, mixed garbage.
    "2021-03-04Z",
    "13:05",
    "20210304T130509Z",
    "1899-12-31T23:00:00",
    "March 4, 2101",
    "4 March 2021 and then some",
    "March 4th 2021 at noon",
    "el 4 de marzo de 2021",
    "2021-03-04 13:05 CET",
    "Thu Mar  4 13:05:09 2021",
]


def test_refused_forms_are_null_in_both_engines(conn: psycopg.Connection[Any]) -> None:
    wrong = _wrong(REFUSED, [None] * len(REFUSED), *_read(conn, REFUSED))
    assert not wrong, "values that should be unreadable:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # T2, as before: a number above 12 decides; otherwise slash + AM/PM is month-first, slash alone day-first.
        ("03/04/2021", datetime(2021, 4, 3)),
        ("03/04/2021 01:15 PM", datetime(2021, 3, 4, 13, 15)),
        ("13/04/2021", datetime(2021, 4, 13)),
        ("04/13/2021", datetime(2021, 4, 13)),
        ("12/31/2021 12:15 AM", datetime(2021, 12, 31, 0, 15)),
        ("2/3/2021 9:05 am", datetime(2021, 2, 3, 9, 5)),
        ("13/13/2021", None),
        # T1, as before.
        ("2021-03-04T13:05:09", datetime(2021, 3, 4, 13, 5, 9)),
        ("1614870000", datetime(2021, 3, 4, 15, 0)),
        # The examples of T3-T5 in docs/cleaning-rules.md.
        ("2021/3/4 1:05 PM", datetime(2021, 3, 4, 13, 5)),
        ("2021.03.04T13:05", datetime(2021, 3, 4, 13, 5)),
        ("4.3.2021 13:05", datetime(2021, 3, 4, 13, 5)),
        ("Thu, 4 Mar 2021 13:05:09 +0100", datetime(2021, 3, 4, 12, 5, 9)),
        ("jueves, 4 de marzo de 2021", datetime(2021, 3, 4)),
        ("March 4th, 2021, 1:05 pm", datetime(2021, 3, 4, 13, 5)),
        ("04-MAR-2021", datetime(2021, 3, 4)),
        ("2021-03-04T13:05:09.123456Z", datetime(2021, 3, 4, 13, 5, 9, 123456)),
        ("2021-03-04T13:05:09.5-05:00", datetime(2021, 3, 4, 18, 5, 9, 500000)),
    ],
)
def test_documented_examples_read_alike_in_both_engines(
    conn: psycopg.Connection[Any], value: str, expected: datetime | None
) -> None:
    from_sql, from_pandas = _read(conn, [value])
    assert from_sql == from_pandas == [expected]
