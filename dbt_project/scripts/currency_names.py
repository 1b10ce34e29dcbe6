"""Write dbt_project/seeds/currency_names.csv: every way a legacy money value names its currency (rule M2).

Every ISO 4217 code pycountry knows names its own currency, but those no price is written in (NOT_MONEY); the
symbols and words below are the usual ones. A spelling shared by several currencies (`$`, `kr`, `¥`) has one row
per currency: rule M2 reads it only as the setting LEGACY_CURRENCY, when that is one of them, and refuses it
otherwise. The seed stays a committed file people may add rows to; run
`python dbt_project/scripts/currency_names.py` after changing this list, and
tests/loader/transform/test_currency_names.py checks that every row written here is still in the seed.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pycountry

SEED = Path(__file__).resolve().parent.parent / "seeds" / "currency_names.csv"
# Codes ISO 4217 lists that no price is written in: precious metals, testing and "no currency", bond-market units,
# the IMF's SDR and the funds that shadow a currency. `12 XAU` is not read as money.
NOT_MONEY = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XTS", "XXX", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"}
    | {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"}
)
DOLLARS = ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN")
# Symbols and words -> the currencies they name; more than one where the spelling is shared.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "€": ("EUR",),
    "euro": ("EUR",),
    "euros": ("EUR",),
    "£": ("GBP",),
    "sterling": ("GBP",),
    "pound sterling": ("GBP",),
    "$": DOLLARS,
    "dollar": DOLLARS,
    "dollars": DOLLARS,
    "us$": ("USD",),
    "us dollar": ("USD",),
    "us dollars": ("USD",),
    "c$": ("CAD",),
    "ca$": ("CAD",),
    "a$": ("AUD",),
    "au$": ("AUD",),
    "nz$": ("NZD",),
    "hk$": ("HKD",),
    "s$": ("SGD",),
    "nt$": ("TWD",),
    "mx$": ("MXN",),
    "r$": ("BRL",),
    "¥": ("JPY", "CNY"),
    "yen": ("JPY",),
    "円": ("JPY",),
    "yuan": ("CNY",),
    "rmb": ("CNY",),
    "元": ("CNY",),
    "₹": ("INR",),
    "₩": ("KRW",),
    "₽": ("RUB",),
    "₺": ("TRY",),
    "₪": ("ILS",),
    "₫": ("VND",),
    "₱": ("PHP",),
    "฿": ("THB",),
    "₴": ("UAH",),
    "₦": ("NGN",),
    "zł": ("PLN",),
    "kč": ("CZK",),
    "kr": ("SEK", "NOK", "DKK", "ISK"),
}


def rows() -> list[tuple[str, str]]:
    """(spelling, currency) pairs, sorted: the ISO codes, then the symbols and words."""
    codes = {currency.alpha_3 for currency in pycountry.currencies} - NOT_MONEY
    named = {(spelling, code) for spelling, currencies in SPELLINGS.items() for code in currencies}
    unknown = sorted({code for _, code in named} - codes)
    if unknown:
        raise SystemExit(f"not ISO 4217 codes: {', '.join(unknown)}")
    return sorted((code, code) for code in codes) + sorted(named)


def main() -> None:
    with SEED.open("w", newline="", encoding="utf-8") as seed:
        writer = csv.writer(seed, lineterminator="\n")
        writer.writerow(("currency_spelling", "currency"))
        writer.writerows(rows())
    sys.stdout.write(f"wrote {SEED}\n")


if __name__ == "__main__":
    main()
