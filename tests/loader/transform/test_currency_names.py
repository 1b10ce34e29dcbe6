"""The seed currency_names: written by dbt_project/scripts/currency_names.py, still holding every row the script
writes, each code a real ISO 4217 one that a price can be written in (rule M2)."""

from __future__ import annotations

import csv
from types import ModuleType

import pycountry
import pytest

from tests.support.helpers import dbt_script


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return dbt_script("currency_names")


def _seed(script: ModuleType) -> set[tuple[str, str]]:
    with script.SEED.open(encoding="utf-8", newline="") as seed:
        return {(row["currency_spelling"], row["currency"]) for row in csv.DictReader(seed)}


def test_the_committed_seed_holds_every_row_the_script_writes(script: ModuleType) -> None:
    """People may add rows; a generated row lost from the seed (or a list change not run) fails."""
    lost = sorted(set(script.rows()) - _seed(script))
    assert not lost, f"rows the script writes are missing from {script.SEED.name}: run it again ({lost[:10]})"


def test_every_currency_in_the_seed_is_iso_4217_and_money(script: ModuleType) -> None:
    codes = {currency.alpha_3 for currency in pycountry.currencies}
    seeded = {currency for _, currency in _seed(script)}
    assert {"USD", "EUR", "GBP", "JPY", "CHF"} <= seeded
    assert not seeded - codes, f"not ISO 4217 codes: {sorted(seeded - codes)}"
    assert not seeded & script.NOT_MONEY, f"codes no price is written in: {sorted(seeded & script.NOT_MONEY)}"


def test_a_shared_symbol_names_each_of_its_currencies_and_a_code_names_itself(script: ModuleType) -> None:
    seed = _seed(script)
    assert {("$", "USD"), ("$", "CAD"), ("¥", "JPY"), ("¥", "CNY"), ("€", "EUR"), ("GBP", "GBP")} <= seed
    assert all(spelling == currency for spelling, currency in seed if len(spelling) == 3 and spelling.isupper())
