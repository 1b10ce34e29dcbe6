"""The seed country_names: written by dbt_project/scripts/country_names.py from pycountry, still holding every row the
script writes, each code a real ISO 3166-1 alpha-2 one, and no folded spelling naming two countries (rule A1)."""

from __future__ import annotations

from types import ModuleType

import pandas as pd
import pycountry
import pytest

from loader.transform.pandas_engine import parse
from loader.transform.pandas_engine.pg_text import rules_for
from tests.support.helpers import dbt_script


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return dbt_script("country_names")


def test_the_committed_seed_holds_every_row_the_script_writes(script: ModuleType) -> None:
    """People may add rows; a generated row lost from the seed (or a pycountry upgrade not run) fails."""
    committed = set(script.read_seed())
    lost = [row for row in script.generated_rows() if row not in committed]
    assert not lost, f"rows the script writes are missing from {script.SEED.name}: run it again ({lost[:10]})"


def test_every_code_in_the_seed_is_a_real_alpha_2(script: ModuleType) -> None:
    codes = {country.alpha_2 for country in pycountry.countries}
    unknown = sorted({code for _, code in script.read_seed()} - codes)
    assert not unknown, f"not ISO 3166-1 alpha-2 codes: {unknown}"


def test_the_seed_as_committed_has_no_collision_and_no_excluded_spelling(script: ModuleType) -> None:
    rows = script.read_seed()
    assert set(script.seed_rows(rows)) == set(rows)
    assert len(rows) > 1000  # every country, by name, official name and codes, and the aliases


def test_the_scripts_fold_is_the_pandas_engines(script: ModuleType) -> None:
    """The script checks collisions with its own copy of rule S1: it must fold every spelling as the engines do
    (tests/loader/transform/pandas_engine/test_parse.py holds the pandas engine to the mapping_key macro)."""
    spellings = [spelling for spelling, _ in script.read_seed()]
    expected = parse.mapping_key(pd.Series(spellings, dtype="str"), rules_for("c", "C.UTF-8"))
    assert [script.mapping_key(spelling) for spelling in spellings] == list(expected)


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Deutschland", "DE"),
        ("U.K.", "GB"),
        ("côte d'ivoire", "CI"),
        ("CZE", "CZ"),
        ("U.S.A.", "US"),
        ("united states of america", "US"),
        ("Estados Unidos", "US"),
        ("ESPANA", "ES"),
        ("Türkiye", "TR"),
        ("turkey", "TR"),
        ("Россия", "RU"),
        ("日本", "JP"),
        ("Viet Nam", "VN"),
        ("Republic of Korea", "KR"),
        ("Holy See (Vatican City State)", "VA"),
        ("Atlantis", None),
        ("N/A", None),  # a null marker (rule C1), not Namibia's NA
        ("Korea", None),  # North or South
        ("Amerika", None),  # the seeder's unknown spellings stay unknown
        ("The States", None),
    ],
)
def test_spellings_find_their_code(script: ModuleType, written: str, code: str | None) -> None:
    by_key = {script.mapping_key(spelling): value for spelling, value in script.read_seed()}
    assert by_key.get(script.mapping_key(written)) == code


def test_a_spelling_naming_two_countries_fails_loudly(script: ModuleType) -> None:
    generated = script.generated_rows()
    both = r"'deutschland' \(AT\) and 'Deutschland' \(DE\) fold to one key 'deutschland'"
    with pytest.raises(script.Collision, match=both):
        script.seed_rows([*generated, ("deutschland", "AT")])
    with pytest.raises(script.Collision, match="not an ISO 3166-1 alpha-2 code"):
        script.seed_rows([*generated, ("Kosovo", "XK")])
    with pytest.raises(script.Collision, match="excluded"):
        script.seed_rows([*generated, ("N.A.", "NA")])


def test_rows_added_by_hand_are_kept_when_the_script_runs_again(script: ModuleType) -> None:
    generated = script.generated_rows()
    rows = script.seed_rows([("Alemanha", "DE"), *generated])
    assert ("Alemanha", "DE") in rows
    assert set(rows) - set(generated) == {("Alemanha", "DE")}
