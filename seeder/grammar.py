"""The wild profile's grammar: each true value written through a random combination of the forms the rules read.

The other profiles pick one of a fixed list of spellings per pattern. Here a date, an amount, a status, a
category or a country is composed from independent choices (the form family, the separators, the order of its
parts, case, accents, spacing, the currency's code, symbol or word and where it stands, the language of a month
name), each drawn at the weights below, which docs/dirt-catalogue.md prints. Every writer returns the legacy
text, what docs/cleaning-rules.md reads back from it, and a label naming the choices taken (the answer key's
`grammar` column), so a test can see every choice appear and a failed score can be traced to one.

Choices come from `picks` (one seeded integer per row) through a hash with a salt per choice, so they are
independent of each other and of the other columns, and a test can render a hand-written value the same way.
Everything written fits the legacy column (varchar(20) for dates and money): a combination too long for it is
written with a shorter choice, and the label says which.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pycountry

from seeder.text import DAY, NULL, civil

SEEDS = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"
DATE_WIDTH = 20  # registration_date_str, created_at_str, order_date_str
MONEY_WIDTH = 20  # price_str, unit_price_str_redundant, total_order_amount_str
STATUS_WIDTH = 20  # status_text
CATEGORY_WIDTH = 50  # category_name_redundant

Weights = tuple[tuple[str, float], ...]

# ---- independent choices from one integer per row ------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def mix(picks: np.ndarray, salt: str) -> np.ndarray:
    """SplitMix64 of (pick, salt): a uniform uint64 per row, independent for every salt."""
    z = np.asarray(picks).astype(np.uint64) * _GOLDEN + np.uint64(_salt(salt))
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@cache
def _salt(name: str) -> int:
    # A fixed hash of the name (Python's hash() of a str changes between runs).
    value = 1469598103934665603
    for byte in name.encode():
        value = ((value ^ byte) * 1099511628211) % 2**64
    return value


def uniform(picks: np.ndarray, salt: str) -> np.ndarray:
    return (mix(picks, salt) >> np.uint64(11)).astype(np.float64) / float(2**53)


def choose(picks: np.ndarray, salt: str, weights: Weights) -> list[str]:
    """One choice per row, drawn at the weights."""
    names = [name for name, _ in weights]
    cumulative = np.cumsum([w for _, w in weights], dtype=np.float64)
    index = np.searchsorted(cumulative / cumulative[-1], uniform(picks, salt), side="right")
    return [names[i] for i in np.minimum(index, len(names) - 1).tolist()]


def index(picks: np.ndarray, salt: str, count: int) -> list[int]:
    indices: list[int] = (mix(picks, salt) % np.uint64(max(count, 1))).astype(np.int64).tolist()
    return indices


# ---- rule S1: the key a status, category or country is looked up by -----------------------------------------

_KEY_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "ß": "ss", "æ": "ae", "œ": "oe"})
_KEY_DROPPED = re.compile(
    "[\u0001-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u00bf\u00d7\u00f7\u02b9-\u036f"
    "\u2000-\u206f\u3000-\u303f\ufe30-\ufe4f\uff01-\uff0f]"
)


def mapping_key(text: str) -> str:
    """Lower case, accents folded (NFKD), every space, punctuation mark and separator dropped (rule C / S1)."""
    return _KEY_DROPPED.sub("", unicodedata.normalize("NFKD", text).lower().translate(_KEY_LETTERS))


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def squish_spaces(text: str) -> str:
    """Inner runs of spaces made one, trimmed: what A1 keeps of an address part."""
    return re.sub(" +", " ", text).strip(" ")


# ---- the mapping seeds the rules read (status and category) ----------------------------------------------------


@cache
def seed_spellings(name: str) -> dict[str, tuple[str, ...]]:
    """dbt_project/seeds/<name>.csv as canonical value -> its spellings, in file order."""
    with (SEEDS / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    out: dict[str, list[str]] = {}
    for spelling, value in rows:
        if mapping_key(spelling):
            out.setdefault(value, []).append(spelling)
    return {value: tuple(spellings) for value, spellings in out.items()}


@cache
def seed_keys(name: str) -> frozenset[str]:
    return frozenset(mapping_key(s) for spellings in seed_spellings(name).values() for s in spellings)


# ---- dates (rule A) --------------------------------------------------------------------------------------------

DATE_FAMILIES: Weights = (
    ("iso", 0.22),
    ("year_first", 0.12),
    ("dotted", 0.10),
    ("month_name", 0.34),
    ("slash", 0.14),
    ("epoch", 0.08),
)
ISO_TIMES: Weights = (
    ("date", 0.3),
    ("space_minute", 0.2),
    ("space_second", 0.15),
    ("t_minute", 0.1),
    ("t_second", 0.1),
    ("t_second_z", 0.1),
    ("t_minute_z", 0.05),
)
CLOCKS: Weights = (("none", 0.4), ("24h_minute", 0.25), ("24h_second", 0.15), ("12h", 0.2))
DOTTED_CLOCKS: Weights = (("none", 0.6), ("24h_minute", 0.25), ("24h_second", 0.15))
YEAR_FIRST_SEPARATORS: Weights = (("slash", 0.4), ("dot", 0.35), ("dash", 0.25))
PADDING: Weights = (("padded", 0.6), ("unpadded", 0.4))
LANGUAGES: Weights = (("en", 0.7), ("es", 0.3))
MONTH_STYLES: Weights = (("full", 0.45), ("abbr", 0.35), ("abbr_dot", 0.2))
LETTER_CASES: Weights = (("title", 0.5), ("lower", 0.25), ("upper", 0.25))
EN_ORDERS: Weights = (
    ("mdy_comma", 0.3),
    ("mdy", 0.1),
    ("mdy_ordinal", 0.15),
    ("dmy", 0.2),
    ("dmy_ordinal", 0.1),
    ("dash", 0.15),
)
ES_ORDERS: Weights = (("dmy_de", 0.4), ("dmy", 0.2), ("mdy_comma", 0.2), ("mdy", 0.05), ("dash", 0.15))
DATE_SPACING: Weights = (("single", 0.85), ("double", 0.15))
# Month-first and day-first slash dates, each only where T2 reads it as written (a number above 12 decides,
# else a slash date with an AM/PM clock is month-first and one alone is day-first).
SLASH_FORMS: Weights = (("dmy", 0.45), ("mdy_12h", 0.35), ("mdy_day_over_12", 0.1), ("dmy_12h_day_over_12", 0.1))
MERIDIEM_CASES: Weights = (("upper", 0.8), ("lower", 0.2))
OUTER_SPACES: Weights = (("none", 0.9), ("padded", 0.1))
TWO_DIGIT_YEAR_FORMS: Weights = (
    ("slash_dmy", 0.25),
    ("slash_mdy_12h", 0.2),
    ("dotted", 0.15),
    ("month_dmy", 0.15),
    ("month_mdy", 0.15),
    ("dash_month", 0.1),
)
IMPOSSIBLE_FORMS: Weights = (
    ("iso", 0.2),
    ("year_first", 0.1),
    ("dotted", 0.15),
    ("month_name", 0.25),
    ("slash_dmy", 0.15),
    ("slash_mdy_12h", 0.1),
    ("month_13", 0.05),
)
# Days no calendar has; 29 February only in a year that is not a leap year.
IMPOSSIBLE_DAYS = ((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (2, 29))

EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
ES_MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip
EN_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ES_ABBR = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")


@dataclass(frozen=True)
class Written:
    """Legacy texts, what the rules read back (int64 seconds or cents, NULL where nothing), and the choices."""

    texts: list[str]
    expected: np.ndarray
    labels: list[str]


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _cased(word: str, case: str) -> str:
    return {"lower": word.lower(), "upper": word.upper()}.get(case, word[:1].upper() + word[1:].lower())


def _month_word(month: int, language: str, style: str, case: str) -> str:
    if style == "full":
        word = (EN_MONTHS if language == "en" else ES_MONTHS)[month - 1]
    else:
        word = (EN_ABBR if language == "en" else ES_ABBR)[month - 1]
    word = _cased(word, case)
    # "May" is its own abbreviation: a dot after it is still the abbreviation's.
    return word + "." if style == "abbr_dot" else word


def _clock(h: int, mi: int, s: int, clock: str, meridiem_case: str, hour_pad: str) -> tuple[str, int]:
    """The time text and the precision it keeps (seconds)."""
    match clock:
        case "24h_minute":
            return f"{h:02d}:{mi:02d}", 60
        case "24h_second":
            return f"{h:02d}:{mi:02d}:{s:02d}", 1
        case "12h":
            half = "PM" if h >= 12 else "AM"
            hour = h % 12 or 12
            text = f"{hour:02d}" if hour_pad == "padded" else str(hour)
            return f"{text}:{mi:02d} {half if meridiem_case == 'upper' else half.lower()}", 60
    return "", DAY


@dataclass
class _DateChoices:
    family: str
    iso_time: str
    clock: str
    dotted_clock: str
    separator: str
    padding: str
    hour_padding: str
    language: str
    month_style: str
    case: str
    en_order: str
    es_order: str
    spacing: str
    slash: str
    meridiem: str
    outer: str


def _date_choices(picks: np.ndarray, salt: str) -> list[_DateChoices]:
    columns = [
        choose(picks, f"{salt}.family", DATE_FAMILIES),
        choose(picks, f"{salt}.iso_time", ISO_TIMES),
        choose(picks, f"{salt}.clock", CLOCKS),
        choose(picks, f"{salt}.dotted_clock", DOTTED_CLOCKS),
        choose(picks, f"{salt}.separator", YEAR_FIRST_SEPARATORS),
        choose(picks, f"{salt}.padding", PADDING),
        choose(picks, f"{salt}.hour_padding", PADDING),
        choose(picks, f"{salt}.language", LANGUAGES),
        choose(picks, f"{salt}.month_style", MONTH_STYLES),
        choose(picks, f"{salt}.case", LETTER_CASES),
        choose(picks, f"{salt}.en_order", EN_ORDERS),
        choose(picks, f"{salt}.es_order", ES_ORDERS),
        choose(picks, f"{salt}.spacing", DATE_SPACING),
        choose(picks, f"{salt}.slash", SLASH_FORMS),
        choose(picks, f"{salt}.meridiem", MERIDIEM_CASES),
        choose(picks, f"{salt}.outer", OUTER_SPACES),
    ]
    return [_DateChoices(*row) for row in zip(*columns, strict=True)]


def _month_name_date(
    y: int, mo: int, d: int, c: _DateChoices, order: str, style: str, time: str, year: str | None = None
) -> str:
    """A date with its month written as a word, in one of the orders the rules read."""
    year_text = year if year is not None else f"{y:04d}"
    gap = "  " if c.spacing == "double" else " "
    if order == "dash":
        # 04-MAR-2021: the abbreviation, no dot, the day in two digits.
        text = f"{d:02d}-{_month_word(mo, c.language, 'abbr', c.case)}-{year_text}"
    else:
        month = _month_word(mo, c.language, style, c.case)
        match order:
            case "mdy_comma":
                text = f"{month}{gap}{d},{gap}{year_text}"
            case "mdy":
                text = f"{month}{gap}{d}{gap}{year_text}"
            case "mdy_ordinal":
                text = f"{month}{gap}{_ordinal(d)},{gap}{year_text}"
            case "dmy_ordinal":
                text = f"{_ordinal(d)}{gap}{month}{gap}{year_text}"
            case "dmy_de":
                text = f"{d}{gap}de{gap}{month}{gap}de{gap}{year_text}"
            case _:
                text = f"{d}{gap}{month}{gap}{year_text}"
    return f"{text} {time}" if time else text


def _render_readable(parts: tuple[int, ...], secs: int, c: _DateChoices) -> tuple[str, int, str]:
    """One date in the family chosen; (text, precision kept in seconds, label)."""
    y, mo, d, h, mi, s = parts
    pad = c.padding == "padded"
    day_text, month_text = (f"{d:02d}", f"{mo:02d}") if pad else (str(d), str(mo))
    match c.family:
        case "epoch":
            return str(secs), 1, "epoch"
        case "iso":
            date = f"{y:04d}-{mo:02d}-{d:02d}"
            text, precision = {
                "date": (date, DAY),
                "space_minute": (f"{date} {h:02d}:{mi:02d}", 60),
                "space_second": (f"{date} {h:02d}:{mi:02d}:{s:02d}", 1),
                "t_minute": (f"{date}T{h:02d}:{mi:02d}", 60),
                "t_second": (f"{date}T{h:02d}:{mi:02d}:{s:02d}", 1),
                "t_second_z": (f"{date}T{h:02d}:{mi:02d}:{s:02d}Z", 1),
                "t_minute_z": (f"{date}T{h:02d}:{mi:02d}Z", 60),
            }[c.iso_time]
            return text, precision, f"iso/{c.iso_time}"
        case "year_first":
            separator = {"slash": "/", "dot": ".", "dash": "-"}[c.separator]
            # With dashes and padding this is ISO itself: the dash form is written unpadded.
            padding = "unpadded" if c.separator == "dash" else c.padding
            day_text, month_text = (f"{d:02d}", f"{mo:02d}") if padding == "padded" else (str(d), str(mo))
            time, precision = _clock(h, mi, s, c.clock, c.meridiem, c.hour_padding)
            text = f"{y:04d}{separator}{month_text}{separator}{day_text}" + (f" {time}" if time else "")
            return text, precision, f"year_first/{c.separator}/{padding}/{c.clock}"
        case "dotted":
            time, precision = _clock(h, mi, s, c.dotted_clock, c.meridiem, c.hour_padding)
            text = f"{day_text}.{month_text}.{y:04d}" + (f" {time}" if time else "")
            return text, precision, f"dotted/{c.padding}/{c.dotted_clock}"
        case "slash":
            form = c.slash
            if form in ("mdy_day_over_12", "dmy_12h_day_over_12") and d <= 12:
                form = "dmy" if form == "mdy_day_over_12" else "mdy_12h"
            time, precision = _clock(h, mi, s, "12h", c.meridiem, c.hour_padding)
            match form:
                case "dmy":
                    return f"{day_text}/{month_text}/{y:04d}", DAY, f"slash/dmy/{c.padding}"
                case "mdy_day_over_12":
                    return f"{month_text}/{day_text}/{y:04d}", DAY, f"slash/mdy_day_over_12/{c.padding}"
                case "mdy_12h":
                    text = f"{month_text}/{day_text}/{y:04d} {time}"
                    return text, precision, f"slash/mdy_12h/{c.padding}/{c.meridiem}"
                case _:
                    text = f"{day_text}/{month_text}/{y:04d} {time}"
                    return text, precision, f"slash/dmy_12h/{c.padding}/{c.meridiem}"
    # Month names: the language, the word's style and case, the order, the time; shorter choices until it fits.
    order = c.en_order if c.language == "en" else c.es_order
    style, clock = c.month_style, c.clock
    for _ in range(4):
        time, precision = _clock(h, mi, s, clock, c.meridiem, c.hour_padding)
        text = _month_name_date(y, mo, d, c, order, style, time)
        if len(text) + (2 if c.outer == "padded" else 0) <= DATE_WIDTH:
            break
        if clock != "none":
            clock = "none"
        elif style == "full":
            style = "abbr"
        else:
            order = "dmy"
    label_style = "abbr" if order == "dash" else style
    spacing = "single" if order == "dash" else c.spacing
    return text, precision, f"month_name/{c.language}/{order}/{label_style}/{c.case}/{spacing}/{clock}"


def write_dates(secs: np.ndarray, picks: np.ndarray, salt: str = "date") -> Written:
    """Readable dates (rule A) in every family the rules read; expected: the time at the precision kept."""
    texts, labels = [], []
    expected = np.empty(len(secs), dtype=np.int64)
    for i, (parts, sec, c) in enumerate(
        zip(zip(*civil(secs), strict=True), secs.tolist(), _date_choices(picks, salt), strict=True)
    ):
        text, precision, label = _render_readable(parts, sec, c)
        expected[i] = sec - sec % precision
        if c.outer == "padded" and len(text) + 2 <= DATE_WIDTH:
            text, label = f" {text} ", f"{label}/padded"
        texts.append(text)
        labels.append(label)
    return Written(texts, expected, labels)


def ambiguous_slash_fits(secs: np.ndarray) -> np.ndarray:
    """Dates whose month-first slash form T2 reads the other way round: day 12 or less, day and month differ."""
    _, month, day, *_ = civil(secs)
    day_array, month_array = np.array(day), np.array(month)
    fits: np.ndarray = (day_array <= 12) & (day_array != month_array)
    return fits


def _fit(text: str) -> str:
    """Double spaces made single where a text would not fit the legacy column (nothing the rules read changes)."""
    return text if len(text) <= DATE_WIDTH else " ".join(text.split())


def write_ambiguous_slash(secs: np.ndarray, picks: np.ndarray, salt: str = "date") -> Written:
    """`03/04/2021` for 4 March: a slash date alone is day-first (T2), so the rules read 3 April at 00:00."""
    texts, labels = [], []
    expected = np.empty(len(secs), dtype=np.int64)
    padding = choose(picks, f"{salt}.padding", PADDING)
    for i, ((y, mo, d, *_), pad) in enumerate(zip(zip(*civil(secs), strict=True), padding, strict=True)):
        texts.append(f"{mo:02d}/{d:02d}/{y:04d}" if pad == "padded" else f"{mo}/{d}/{y:04d}")
        expected[i] = int(np.datetime64(f"{y:04d}-{d:02d}-{mo:02d}", "D").astype(np.int64)) * DAY
        labels.append(f"ambiguous_slash/{pad}")
    return Written(texts, expected, labels)


def write_two_digit_years(secs: np.ndarray, picks: np.ndarray, salt: str = "date") -> Written:
    """Dates with a two-digit year, which the rules refuse (which century cannot be told)."""
    texts, labels = [], []
    forms = choose(picks, f"{salt}.two_digit", TWO_DIGIT_YEAR_FORMS)
    for parts, form, c in zip(zip(*civil(secs), strict=True), forms, _date_choices(picks, salt), strict=True):
        y, mo, d, h, mi, s = parts
        yy = f"{y % 100:02d}"
        match form:
            case "slash_dmy":
                text = f"{d:02d}/{mo:02d}/{yy}"
            case "slash_mdy_12h":
                text = f"{mo:02d}/{d:02d}/{yy} {_clock(h, mi, s, '12h', c.meridiem, c.hour_padding)[0]}"
            case "dotted":
                text = f"{d:02d}.{mo:02d}.{yy}"
            case "month_dmy":
                text = _month_name_date(y, mo, d, c, "dmy", "abbr", "", year=yy)
            case "month_mdy":
                text = _month_name_date(y, mo, d, c, "mdy_comma", "abbr", "", year=yy)
            case _:
                text = _month_name_date(y, mo, d, c, "dash", "abbr", "", year=yy)
        texts.append(_fit(text))
        labels.append(f"two_digit_year/{form}")
    return Written(texts, np.full(len(secs), NULL, dtype=np.int64), labels)


def write_impossible_dates(secs: np.ndarray, picks: np.ndarray, salt: str = "date") -> Written:
    """Dates no calendar has (30 February, 31 April, a 13th month) in the families the rules read."""
    texts, labels = [], []
    forms = choose(picks, f"{salt}.impossible", IMPOSSIBLE_FORMS)
    days = index(picks, f"{salt}.impossible_day", len(IMPOSSIBLE_DAYS))
    for parts, form, which, c in zip(
        zip(*civil(secs), strict=True), forms, days, _date_choices(picks, salt), strict=True
    ):
        y, _mo, _d, h, mi, s = parts
        mo, d = IMPOSSIBLE_DAYS[which]
        if (mo, d) == (2, 29) and (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
            y += 1  # 29 February is impossible only outside leap years
        time, _ = _clock(h, mi, s, "24h_minute", c.meridiem, c.hour_padding)
        match form:
            case "iso":
                text = f"{y:04d}-{mo:02d}-{d:02d} {time}"
            case "year_first":
                text = f"{y:04d}/{mo}/{d}"
            case "dotted":
                text = f"{d:02d}.{mo:02d}.{y:04d}"
            case "month_name":
                order = c.en_order if c.language == "en" else c.es_order
                text = _month_name_date(y, mo, d, c, order, "abbr", "")
            case "slash_dmy":
                text = f"{d:02d}/{mo:02d}/{y:04d}"  # the day, above 12, decides: day-first (T2)
            case "slash_mdy_12h":
                text = f"{mo:02d}/{d:02d}/{y:04d} {_clock(h, mi, s, '12h', c.meridiem, 'padded')[0]}"
            case _:
                text = f"{y:04d}-13-{d % 28 + 1:02d}"
        texts.append(_fit(text))
        labels.append(f"impossible/{form}")
    return Written(texts, np.full(len(secs), NULL, dtype=np.int64), labels)


# ---- money (rule B) ------------------------------------------------------------------------------------------

# Symbols and words each reading as one currency (B); `$` and `dollar(s)` read as LEGACY_CURRENCY, USD here.
CURRENCY_SYMBOLS: dict[str, tuple[str, ...]] = {
    "EUR": ("€",),
    "GBP": ("£",),
    "USD": ("$", "us$"),
    "INR": ("₹",),
    "KRW": ("₩",),
    "RUB": ("₽",),
    "TRY": ("₺",),
    "ILS": ("₪",),
    "PLN": ("zł",),
}
CURRENCY_WORDS: dict[str, tuple[str, ...]] = {"EUR": ("euro", "euros"), "USD": ("dollar", "dollars")}
# Symbols several currencies share and LEGACY_CURRENCY (USD) is not among: unreadable (B).
SHARED_SYMBOLS: dict[str, tuple[str, ...]] = {"¥": ("JPY", "CNY"), "kr": ("SEK", "NOK", "DKK", "ISK")}
SHARED_SYMBOL_CURRENCIES = tuple(code for codes in SHARED_SYMBOLS.values() for code in codes)
# ISO 4217 currencies without minor units: amounts in them are written whole.
ZERO_DECIMALS = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
# pycountry's codes that are no money a shop charges: funds, metals, test and "no currency" codes.
NOT_MONEY = frozenset(
    "BOV CHE CHW CLF COU MXV USN UYI UYW XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split()  # noqa: SIM905
)
# The currencies of the wild catalogue's prices: the legacy app's own first, then Europe's, then the world's.
PRICE_CURRENCIES: Weights = (
    ("USD", 0.35),
    ("EUR", 0.2),
    ("GBP", 0.08),
    ("CHF", 0.04),
    ("JPY", 0.04),
    ("symbol", 0.12),  # one of INR KRW RUB TRY ILS PLN
    ("any", 0.17),  # any other ISO 4217 currency
)
# The share of the totals the wild grammar writes bare (read in the order's currency, B), else marked.
BARE_TOTALS = 0.5
MONEY_MARKS: Weights = (("code", 0.5), ("symbol", 0.35), ("word", 0.15))
MONEY_AMOUNTS: Weights = (
    ("dot", 0.45),
    ("comma", 0.2),
    ("us_grouped", 0.1),
    ("eu_grouped", 0.1),
    ("short_dot", 0.1),
    ("short_comma", 0.05),
)
MONEY_CASES: Weights = (("upper", 0.6), ("lower", 0.25), ("title", 0.15))
SPACED: Weights = (("space", 0.5), ("no_space", 0.5))
# Where each kind of mark usually stands: before the amount, else after it.
MARK_BEFORE = {"code": 0.4, "symbol": 0.8, "word": 0.15}


@cache
def money_currencies() -> tuple[str, ...]:
    """Every ISO 4217 currency a price may be in (pycountry's list less funds, metals and test codes)."""
    return tuple(sorted(c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in NOT_MONEY))


def draw_currencies(picks: np.ndarray, salt: str, shared_symbol: np.ndarray) -> list[str]:
    """A currency per price at PRICE_CURRENCIES; one a shared symbol names where the price is written so."""
    kinds = choose(picks, f"{salt}.currency", PRICE_CURRENCIES)
    any_index = index(picks, f"{salt}.any_currency", len(money_currencies()))
    symbol_index = index(picks, f"{salt}.symbol_currency", 6)
    shared_index = index(picks, f"{salt}.shared_currency", len(SHARED_SYMBOL_CURRENCIES))
    symbol_currencies = ("INR", "KRW", "RUB", "TRY", "ILS", "PLN")
    out = []
    for kind, anyone, symbol, shared, is_shared in zip(
        kinds, any_index, symbol_index, shared_index, shared_symbol.tolist(), strict=True
    ):
        if is_shared:
            out.append(SHARED_SYMBOL_CURRENCIES[shared])
        elif kind == "symbol":
            out.append(symbol_currencies[symbol])
        elif kind == "any":
            out.append(money_currencies()[anyone])
        else:
            out.append(kind)
    return out


def whole_only(currency: str) -> bool:
    return currency in ZERO_DECIMALS


def _grouped(whole: int, separator: str) -> str:
    return f"{whole:,}".replace(",", separator)


def amount_text(cents: int, style: str, currency: str) -> tuple[str, str]:
    """The amount in one convention of M1 (never M4's single separator before three digits); and the style used."""
    whole, part = divmod(cents, 100)
    if whole_only(currency) or (style.startswith("short") and part == 0):
        # Whole amounts stay ungrouped: `1,500` would be M4's ambiguous amount.
        return str(whole), "whole"
    match style:
        case "comma":
            return f"{whole},{part:02d}", style
        case "us_grouped" if whole >= 1000:
            return f"{_grouped(whole, ',')}.{part:02d}", style
        case "eu_grouped" if whole >= 1000:
            return f"{_grouped(whole, '.')},{part:02d}", style
        case "us_grouped":
            return f"{whole}.{part:02d}", "dot"
        case "eu_grouped":
            return f"{whole},{part:02d}", "comma"
        case "short_dot" | "short_comma":
            mark = "." if style == "short_dot" else ","
            return (f"{whole}{mark}{part // 10}" if part % 10 == 0 else f"{whole}{mark}{part:02d}"), style
    return f"{whole}.{part:02d}", "dot"


def _case_mark(mark: str, case: str) -> str:
    if not any(c.isalpha() for c in mark):
        return mark
    return {"upper": mark.upper(), "lower": mark.lower()}.get(case, mark[:1].upper() + mark[1:].lower())


def write_money(
    cents: Sequence[int], currencies: Sequence[str], picks: np.ndarray, bare: np.ndarray, salt: str
) -> Written:
    """Amounts with their currency as a code, symbol or word, before or after, spaced or not, in any case; or bare.

    expected: the amounts in cents (the currency each text reads as is the one given, or none where bare).
    """
    marks = choose(picks, f"{salt}.mark", MONEY_MARKS)
    styles = choose(picks, f"{salt}.amount", MONEY_AMOUNTS)
    cases = choose(picks, f"{salt}.case", MONEY_CASES)
    spaced = choose(picks, f"{salt}.space", SPACED)
    before = uniform(picks, f"{salt}.before").tolist()
    which = index(picks, f"{salt}.which", 2)
    texts, labels = [], []
    for i, (amount_cents, currency) in enumerate(zip(cents, currencies, strict=True)):
        amount, style = amount_text(int(amount_cents), styles[i], currency)
        if bare[i]:
            texts.append(amount)
            labels.append(f"bare/{style}")
            continue
        available = {
            "code": (currency,),
            "symbol": CURRENCY_SYMBOLS.get(currency),
            "word": CURRENCY_WORDS.get(currency),
        }
        mark = marks[i] if available.get(marks[i]) else "code"
        options = available[mark] or (currency,)
        written = _case_mark(options[which[i] % len(options)], cases[i])
        position = "before" if before[i] < MARK_BEFORE[mark] else "after"
        gap = " " if spaced[i] == "space" else ""
        text = f"{written}{gap}{amount}" if position == "before" else f"{amount}{gap}{written}"
        if len(text) > MONEY_WIDTH:
            text, position, gap = f"{amount} {currency}", "after", " "
        case = cases[i] if any(c.isalpha() for c in written) else "none"
        texts.append(text)
        labels.append(f"{mark}/{position}/{'space' if gap else 'no_space'}/{case}/{style}")
    return Written(texts, np.asarray(cents, dtype=np.int64), labels)


def write_shared_symbol(cents: Sequence[int], currencies: Sequence[str], picks: np.ndarray, salt: str) -> Written:
    """`¥1500`, `100 kr`: a symbol several currencies share, none of them USD, so the rules refuse it (B)."""
    styles = choose(picks, f"{salt}.amount", MONEY_AMOUNTS)
    spaced = choose(picks, f"{salt}.space", SPACED)
    texts, labels = [], []
    for amount_cents, currency, style, space in zip(cents, currencies, styles, spaced, strict=True):
        symbol = next(s for s, codes in SHARED_SYMBOLS.items() if currency in codes)
        amount, used = amount_text(int(amount_cents), style, currency)
        gap = " " if space == "space" else ""
        texts.append(f"{symbol}{gap}{amount}" if symbol == "¥" else f"{amount}{gap}{symbol}")
        labels.append(f"shared_symbol/{symbol}/{space}/{used}")
    return Written(texts, np.full(len(texts), NULL, dtype=np.int64), labels)


# ---- status and category words (rule C) ------------------------------------------------------------------------

KEY_CASES: Weights = (("as_written", 0.3), ("lower", 0.2), ("upper", 0.2), ("title", 0.2), ("alternating", 0.1))
KEY_SEPARATORS: Weights = (
    ("space", 0.5),
    ("dash", 0.15),
    ("underscore", 0.15),
    ("dot", 0.05),
    ("none", 0.05),
    ("double_space", 0.1),
)
KEY_ACCENTS: Weights = (("kept", 0.6), ("dropped", 0.4))
KEY_PUNCTUATION: Weights = (("none", 0.75), ("dot", 0.1), ("bang", 0.05), ("question", 0.05), ("dots", 0.05))
KEY_OUTER: Weights = (("none", 0.8), ("padded", 0.2))
_SEPARATOR = {"space": " ", "dash": "-", "underscore": "_", "dot": ".", "none": "", "double_space": "  "}
_PUNCTUATION = {"none": "", "dot": ".", "bang": "!", "question": "?", "dots": "..."}


def _key_case(text: str, case: str) -> str:
    match case:
        case "lower":
            return text.lower()
        case "upper":
            return text.upper()
        case "title":
            return " ".join(word[:1].upper() + word[1:].lower() for word in text.split(" "))
        case "alternating":
            return "".join(c.upper() if k % 2 == 0 else c.lower() for k, c in enumerate(text))
    return text


def write_words(spellings: Sequence[str], picks: np.ndarray, salt: str, width: int) -> tuple[list[str], list[str]]:
    """Each spelling with its case, word separators, accents, trailing punctuation and outer spaces changed:
    what rule C folds away, so every text has its spelling's key. Texts and labels."""
    cases = choose(picks, f"{salt}.case", KEY_CASES)
    separators = choose(picks, f"{salt}.separator", KEY_SEPARATORS)
    accents = choose(picks, f"{salt}.accents", KEY_ACCENTS)
    punctuation = choose(picks, f"{salt}.punctuation", KEY_PUNCTUATION)
    outer = choose(picks, f"{salt}.outer", KEY_OUTER)
    texts, labels = [], []
    for i, spelling in enumerate(spellings):
        words = squish_spaces(spelling)
        separator = separators[i] if " " in words else "single_word"
        accent = accents[i] if not words.isascii() else "ascii"
        text = strip_accents(words) if accent == "dropped" else words
        text = _key_case(text, cases[i])
        if separator != "single_word":
            text = text.replace(" ", _SEPARATOR[separator])
        text += _PUNCTUATION[punctuation[i]]
        if outer[i] == "padded":
            text = f"  {text} "
        if len(text) > width or mapping_key(text) != mapping_key(spelling):
            text, label = spelling, "as_written"
        else:
            label = f"{cases[i]}/{separator}/{accent}/{punctuation[i]}/{outer[i]}"
        texts.append(text)
        labels.append(label)
    return texts, labels


def pick_spellings(options: Sequence[Sequence[str]], picks: np.ndarray, salt: str) -> list[str]:
    which = index(picks, f"{salt}.spelling", 1 << 30)
    return [choices[k % len(choices)] for choices, k in zip(options, which, strict=True)]


# Words the status and category seeds must not know: written through the same grammar, they stay unknown.
UNKNOWN_STATUS_WORDS = ("on hold", "lost", "backordered", "awaiting stock", "in limbo", "en espera")
UNKNOWN_CATEGORY_WORDS = ("Gadgets", "Misc", "Toys & Games", "Garden", "Sale", "Jardín", "Juguetes")


def unknown_words(words: Sequence[str], seed: str) -> tuple[str, ...]:
    """The words whose key the seed does not know (a seed that learns one drops it from the generator)."""
    return tuple(w for w in words if mapping_key(w) and mapping_key(w) not in seed_keys(seed))


# ---- countries (rule D) ------------------------------------------------------------------------------------------

# Aliases the country seed holds beside pycountry's names and codes (the list).
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "GB": ("UK", "Great Britain"),
    "US": ("U.S.A.", "America", "Estados Unidos"),
    "DE": ("Deutschland",),
    "ES": ("España",),
    "NL": ("Holland",),
    "RU": ("Russia",),
    "KR": ("South Korea",),
    "CZ": ("Czechia",),
    "CI": ("Ivory Coast",),
}
# Spellings never written: Namibia's code folds as the null marker `NA` does (C1).
COUNTRY_NEVER_WRITTEN = frozenset({"NA"})
UNKNOWN_COUNTRIES = ("Atlantis", "Wakanda", "Narnia", "Freedonia", "Genovia", "Westeros", "Latveria", "Elbonia")
COUNTRY_FORMS: Weights = (
    ("name", 0.35),
    ("official_name", 0.15),
    ("common_name", 0.1),
    ("alpha_2", 0.15),
    ("alpha_3", 0.1),
    ("alias", 0.15),
)
# The legacy app's market first: its addresses name the US this often, any ISO country otherwise.
US_SHARE = 0.35
COUNTRY_CASES: Weights = (("as_written", 0.5), ("upper", 0.2), ("lower", 0.2), ("title", 0.1))
COUNTRY_ACCENTS: Weights = (("kept", 0.5), ("dropped", 0.5))
CODE_DOTS: Weights = (("plain", 0.7), ("dotted", 0.3))
COUNTRY_SPACING: Weights = (("single", 0.8), ("doubled", 0.1), ("padded", 0.1))


@cache
def country_spellings() -> dict[str, dict[str, str]]:
    """Alpha-2 code -> form -> spelling, for every ISO 3166-1 country; forms with a comma left out (A1 splits
    addresses on commas)."""
    out: dict[str, dict[str, str]] = {}
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        forms = {}
        for form in ("name", "official_name", "common_name", "alpha_2", "alpha_3"):
            spelling = getattr(country, form, None)
            if spelling and "," not in spelling and spelling not in COUNTRY_NEVER_WRITTEN:
                forms[form] = spelling
        for k, alias in enumerate(COUNTRY_ALIASES.get(country.alpha_2, ())):
            forms["alias" if k == 0 else f"alias_{k}"] = alias
        out[country.alpha_2] = forms
    return out


def _country_case(text: str, case: str) -> str:
    match case:
        case "upper":
            return text.upper()
        case "lower":
            return text.lower()
        case "title":
            return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
    return text


@dataclass(frozen=True)
class Countries:
    texts: list[str]  # the country part as written
    expected: list[str]  # what A1 keeps of it: squished
    codes: list[str | None]  # ISO 3166-1 alpha-2; None for an unknown country
    labels: list[str]


def write_countries(picks: np.ndarray, salt: str = "country", unknown: np.ndarray | None = None) -> Countries:
    """A country per row in one of its forms, case, accents, dots and spacing; unknown ones where asked."""
    unknown_rows = np.zeros(len(picks), dtype=bool) if unknown is None else unknown
    codes = sorted(country_spellings())
    us = uniform(picks, f"{salt}.us") < US_SHARE
    which = index(picks, f"{salt}.which", len(codes))
    forms = choose(picks, f"{salt}.form", COUNTRY_FORMS)
    alias_index = index(picks, f"{salt}.alias", 3)
    cases = choose(picks, f"{salt}.case", COUNTRY_CASES)
    accents = choose(picks, f"{salt}.accents", COUNTRY_ACCENTS)
    dots = choose(picks, f"{salt}.dots", CODE_DOTS)
    spacing = choose(picks, f"{salt}.spacing", COUNTRY_SPACING)
    unknown_index = index(picks, f"{salt}.unknown", len(UNKNOWN_COUNTRIES))
    out = Countries([], [], [], [])
    for i in range(len(picks)):
        code: str | None
        if unknown_rows[i]:
            code, form, spelling = None, "unknown", UNKNOWN_COUNTRIES[unknown_index[i]]
        else:
            code = "US" if us[i] else codes[which[i]]
            available = country_spellings()[code]
            form = forms[i]
            if form == "alias":
                aliases = [k for k in available if k.startswith("alias")]
                form = aliases[alias_index[i] % len(aliases)] if aliases else "name"
            if form not in available:
                form = "name" if "name" in available else "alpha_3"
            spelling = available[form]
        accent = accents[i] if not spelling.isascii() else "ascii"
        text = strip_accents(spelling) if accent == "dropped" else spelling
        dotted = "plain"
        if form in ("alpha_2", "alpha_3") and dots[i] == "dotted":
            text, dotted = "".join(f"{c}." for c in text), "dotted"
        text = _country_case(text, cases[i])
        spaced = spacing[i] if spacing[i] == "padded" or " " in text else "single"
        match spaced:
            case "doubled":
                text = text.replace(" ", "  ")
            case "padded":
                text = f"  {text} "
        out.texts.append(text)
        out.expected.append(squish_spaces(text))
        out.codes.append(code)
        out.labels.append(f"{form.split('_')[0] if form.startswith('alias') else form}/{cases[i]}/{accent}/"
                          f"{dotted}/{spaced}")  # fmt: skip
    return out
