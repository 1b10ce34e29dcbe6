"""How values are written as legacy text, and what the cleaning rules read back from them.

Timestamps travel as int64 seconds since 1970 read as UTC with no zone (the legacy app's naive times), money as
int64 cents and a currency. Each writer returns the text and the value docs/cleaning-rules.md gives back for
it, at the precision the text keeps: a date without a time is that day at 00:00 (T1), a minute without seconds
is that minute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DAY = 86_400
NULL = np.iinfo(np.int64).min  # "no value" in the int64 columns of expected timestamps and amounts


def seconds(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Seconds since 1970 of a naive time, read as UTC."""
    days = int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D").astype(np.int64))
    return days * DAY + hour * 3600 + minute * 60 + second


def civil(secs: np.ndarray) -> tuple[list[int], list[int], list[int], list[int], list[int], list[int]]:
    """Year, month, day, hour, minute, second of each timestamp, computed for the whole array at once."""
    days = np.floor_divide(secs, DAY)
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months).astype(np.int64) + 1
    clock = secs - days * DAY
    return (
        year.tolist(),
        month.tolist(),
        day.tolist(),
        (clock // 3600).tolist(),
        (clock % 3600 // 60).tolist(),
        (clock % 60).tolist(),
    )


def _ampm(hour: int) -> tuple[int, str]:
    return (hour % 12 or 12), ("PM" if hour >= 12 else "AM")


def _us_ampm(y: int, mo: int, d: int, h: int, mi: int, s: int) -> str:
    h12, half = _ampm(h)
    return f"{mo:02d}/{d:02d}/{y:04d} {h12:02d}:{mi:02d} {half}"


DateWriter = Callable[[int, int, int, int, int, int], str]
# name -> (writer, precision in seconds the text keeps)
DATE_FORMS: dict[str, tuple[DateWriter, int]] = {
    "iso_minute": (lambda y, mo, d, h, mi, s: f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}", 60),
    "iso_seconds": (lambda y, mo, d, h, mi, s: f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}", 1),
    "iso_t": (lambda y, mo, d, h, mi, s: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}", 1),
    "iso_date": (lambda y, mo, d, h, mi, s: f"{y:04d}-{mo:02d}-{d:02d}", DAY),
    # Slash dates alone are read day-first (T2), so this is the form that keeps the day for any date.
    "dmy": (lambda y, mo, d, h, mi, s: f"{d:02d}/{mo:02d}/{y:04d}", DAY),
    # Month-first without a time is only unambiguous when the day is above 12 (T2): callers shift the day.
    "mdy": (lambda y, mo, d, h, mi, s: f"{mo:02d}/{d:02d}/{y:04d}", DAY),
    "us_ampm": (_us_ampm, 60),
}


def write_dates(secs: np.ndarray, form: str) -> tuple[list[str], np.ndarray]:
    """The legacy text of each timestamp in one form, and the timestamp the rules read back from it."""
    if form == "epoch":
        return [str(s) for s in secs.tolist()], secs.copy()
    writer, precision = DATE_FORMS[form]
    texts = [writer(*parts) for parts in zip(*civil(secs), strict=True)]
    return texts, secs - np.mod(secs, precision)


def impossible_dates(secs: np.ndarray, picks: np.ndarray) -> list[str]:
    """Dates no calendar has, in the forms T1/T2 read: 30 February, 31 April, a 13th month, month-first 02/30."""
    out = []
    for y, _mo, d, h, mi, _s, pick in zip(*civil(secs), picks.tolist(), strict=True):
        match pick % 4:
            case 0:
                out.append(f"{y:04d}-02-30 {h:02d}:{mi:02d}")
            case 1:
                out.append(f"31/04/{y:04d}")
            case 2:
                out.append(f"{y:04d}-13-{d:02d}")
            case _:
                h12, half = _ampm(h)
                out.append(f"02/30/{y:04d} {h12:02d}:{mi:02d} {half}")
    return out


def timestamp_texts(secs: np.ndarray) -> list[str | None]:
    """Expected timestamps as PostgreSQL reads them; NULL where there is none."""
    missing = secs == NULL
    safe = np.where(missing, 0, secs)
    texts: list[str | None] = [
        f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}" for y, mo, d, h, mi, s in zip(*civil(safe), strict=True)
    ]
    for i in np.flatnonzero(missing).tolist():
        texts[i] = None
    return texts


# ---- money ---------------------------------------------------------------------------------------------------


def amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _short(cents: int) -> str:
    whole, part = divmod(cents, 100)
    if part == 0:
        return str(whole)
    return f"{whole}.{part // 10}" if part % 10 == 0 else f"{whole}.{part:02d}"


def _grouped(cents: int, separator: str) -> str:
    return f"{cents // 100:,}".replace(",", separator)


MoneyWriter = Callable[[int, str], str]
MONEY_FORMS: dict[str, MoneyWriter] = {
    "plain": lambda c, cur: amount(c),
    "usd_suffix": lambda c, cur: f"{amount(c)} USD",
    "eur_suffix": lambda c, cur: f"{amount(c)} EUR",
    "short_decimals": lambda c, cur: f"{_short(c)} {cur}",
    "dollar": lambda c, cur: f"${amount(c)}",
    "euro_comma": lambda c, cur: f"€{c // 100},{c % 100:02d}",
    "thousands_us": lambda c, cur: f"{_grouped(c, ',')}.{c % 100:02d}",
    "thousands_eu": lambda c, cur: f"{_grouped(c, '.')},{c % 100:02d} EUR",
    "integer": lambda c, cur: str(c // 100),
    "free": lambda c, cur: "free",
    # Any other currency, as the legacy app wrote EUR: the amount and the code after it.
    "code_suffix": lambda c, cur: f"{amount(c)} {cur}",
}


def money_fits(form: str, cents: int, currency: str) -> bool:
    """Whether a money form can write this amount and currency so that M1/M2 read back exactly it."""
    match form:
        case "plain" | "usd_suffix" | "dollar":
            return currency == "USD"
        case "eur_suffix" | "euro_comma":
            return currency == "EUR"
        case "short_decimals":
            return True
        case "thousands_us":
            return currency == "USD" and cents >= 100_000
        case "thousands_eu":
            return currency == "EUR" and cents >= 100_000
        case "integer":
            return currency == "USD" and cents % 100 == 0
        case "free":
            return currency == "USD" and cents == 0
        case "code_suffix":
            return True
    raise ValueError(f"unknown money form {form}")


def default_money_form(currency: str) -> str:
    """The legacy app's own way to write an amount: bare for its own currency, its code after it for the others."""
    return {"USD": "plain", "EUR": "eur_suffix"}.get(currency, "code_suffix")


def write_money(forms: Sequence[str], cents: Sequence[int], currencies: Sequence[str]) -> list[str]:
    return [MONEY_FORMS[f](c, cur) for f, c, cur in zip(forms, cents, currencies, strict=True)]


def array_literal(values: Sequence[str]) -> str:
    """A text[] in PostgreSQL's literal form; reason codes need no quoting."""
    return "{" + ",".join(values) + "}"


# ---- names ---------------------------------------------------------------------------------------------------


def initcap(text: str) -> str:
    """PostgreSQL's initcap(): a letter after a letter or digit is lower case, any other is upper case."""
    out = []
    previous_alnum = False
    for char in text:
        out.append(char.lower() if previous_alnum else char.upper())
        previous_alnum = char.isalnum()
    return "".join(out)


def tidy_name(text: str) -> str:
    """Rule N1 as docs/cleaning-rules.md states it: single spaces, `LAST, First` turned round, capitals titled."""
    spaced = " ".join(part for part in text.split(" ") if part)
    turned = spaced
    if "," in spaced:
        parts = spaced.split(",")
        turned = f"{parts[1].strip()} {parts[0].strip()}"
    if spaced == spaced.upper() and spaced != spaced.lower():
        return initcap(turned)
    return turned
