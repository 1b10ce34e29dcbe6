"""Write dbt_project/seeds/country_names.csv: the ways a legacy address names its country, to ISO 3166-1 alpha-2.

Every country pycountry knows gives its alpha-2 and alpha-3 codes, its name, official name and common name; the
aliases below add the usual short forms and the native and neighbouring-language names of the larger countries.
Lookups fold both sides (rule S1, the mapping_key macro), so one spelling per word is enough: `U.S.A.`, `usa` and
`USA` are one key, as are `España` and `Espana`, and the script keeps the first of such repeats only.

A spelling whose folded key would name two countries stops the script, naming both. So does an alias of a code
pycountry does not know. Spellings with a comma (`Korea, Republic of`) are left out: rule A1 splits an address on
commas, so no country part can hold one; the alias list has their readable forms (`Republic of Korea`).

The seed stays a committed file people edit: rows in it that this script does not write (added by hand) are
kept, sorted in with the rest, and checked for collisions like them. To drop a generated spelling, list it in
EXCLUDED. Run `python dbt_project/scripts/country_names.py` after upgrading pycountry or editing these lists;
tests/loader/transform/test_country_names.py checks that every row written here is still in the seed.
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import pycountry

SEED = Path(__file__).resolve().parent.parent / "seeds" / "country_names.csv"
HEADER = ("country_spelling", "country_code")

# Alpha-2 code -> spellings pycountry does not have. Short forms, former names still written, the names in the
# country's own languages, and in Spanish, French, German and Italian for the larger countries.
ALIASES: dict[str, tuple[str, ...]] = {
    "AE": ("UAE", "الإمارات"),
    "AT": ("Österreich", "Autriche"),
    "BA": ("Bosnia", "Bosna i Hercegovina"),
    "BE": ("België", "Belgique", "Belgien", "Bélgica"),
    "BG": ("България",),
    "BN": ("Brunei",),
    "BO": ("Plurinational State of Bolivia",),
    "BQ": ("Caribbean Netherlands", "Bonaire"),
    "BR": ("Brasil", "Brésil", "Brasilien"),
    "BS": ("The Bahamas",),
    "BY": ("Беларусь",),
    "CC": ("Cocos Islands", "Keeling Islands"),
    "CD": ("Democratic Republic of the Congo", "DR Congo", "DRC", "Congo-Kinshasa"),
    "CG": ("Congo-Brazzaville",),
    "CH": ("Schweiz", "Suisse", "Svizzera", "Suiza"),
    "CI": ("Ivory Coast", "Elfenbeinküste", "Costa de Marfil"),
    "CN": ("中国", "中國", "PRC", "Chine"),
    "CV": ("Cape Verde",),
    "CZ": ("Česko", "Česká republika", "Tschechien", "República Checa"),
    "DE": ("Deutschland", "Allemagne", "Alemania", "Germania"),
    "DK": ("Danmark", "Dänemark", "Dinamarca"),
    "DZ": ("Algérie", "الجزائر"),
    "EE": ("Eesti",),
    "EG": ("مصر", "Egipto", "Égypte", "Ägypten"),
    "ES": ("España", "Espagne", "Spanien", "Spagna"),
    "FI": ("Suomi", "Finlandia", "Finnland", "Finlande"),
    "FK": ("Falkland Islands",),
    "FM": ("Micronesia",),
    "FR": ("Frankreich", "Francia"),
    "GB": (
        "UK",
        "Great Britain",
        "Britain",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "Reino Unido",
        "Royaume-Uni",
        "Vereinigtes Königreich",
        "Regno Unito",
        "Inglaterra",
        "Angleterre",
    ),
    "GM": ("The Gambia",),
    "GR": ("Ελλάδα", "Hellas", "Grecia", "Grèce", "Griechenland"),
    "HK": ("香港",),
    "HR": ("Hrvatska",),
    "HU": ("Magyarország", "Hungría", "Hongrie", "Ungarn"),
    "IE": ("Éire", "Irlanda", "Irlande", "Irland"),
    "IL": ("ישראל",),
    "IN": ("भारत", "Bharat"),
    "IS": ("Ísland",),
    "IT": ("Italia", "Italien", "Italie"),
    "JP": ("日本", "Nippon", "Nihon", "Japón"),
    "KP": ("DPRK",),
    "KR": ("Republic of Korea", "대한민국", "한국", "Corea del Sur", "Südkorea", "Corée du Sud"),
    "LT": ("Lietuva",),
    "LU": ("Lëtzebuerg", "Luxemburg", "Luxemburgo"),
    "LV": ("Latvija",),
    "MA": ("Maroc", "Marruecos", "Marokko", "المغرب"),
    "MD": ("Republic of Moldova",),
    "MF": ("Saint Martin",),
    "MK": ("Macedonia", "Северна Македонија"),
    "MM": ("Burma",),
    "MO": ("Macau", "澳門"),
    "MX": ("Mexique", "Mexiko", "Messico"),
    "NL": ("Holland", "Nederland", "The Netherlands", "Países Bajos", "Pays-Bas", "Niederlande", "Holanda", "Olanda"),
    "NO": ("Norge", "Noruega", "Norvège", "Norwegen"),
    "NZ": ("Aotearoa",),
    "PH": ("Pilipinas",),
    "PL": ("Polska", "Polonia", "Pologne", "Polen"),
    "PS": ("Palestine", "State of Palestine"),
    "RO": ("Rumania", "Roumanie", "Rumänien"),
    "RS": ("Srbija", "Србија"),
    "RU": ("Russia", "Россия", "Rusia", "Russie", "Russland"),
    "SA": ("KSA", "السعودية"),
    "SE": ("Sverige", "Suecia", "Suède", "Schweden", "Svezia"),
    "SH": ("Saint Helena",),
    "SI": ("Slovenija",),
    "SK": ("Slovensko",),
    "SX": ("Sint Maarten",),
    "SZ": ("Swaziland",),
    "TH": ("ประเทศไทย", "Tailandia", "Thaïlande"),
    "TL": ("East Timor",),
    "TN": ("Tunisie",),
    "TR": ("Turkey", "Türkei", "Turquía", "Turquie", "Turchia"),
    "TW": ("台灣", "臺灣", "台湾"),
    "TZ": ("United Republic of Tanzania",),
    "UA": ("Україна", "Ucrania"),
    "US": (
        "America",
        "United States of America",
        "Estados Unidos",
        "EEUU",
        "États-Unis",
        "Vereinigte Staaten",
        "Stati Uniti",
    ),
    "VA": ("Vatican", "Vatican City", "Holy See"),
    "VE": ("Bolivarian Republic of Venezuela",),
    "VG": ("British Virgin Islands",),
    "VI": ("U.S. Virgin Islands",),
    "ZA": ("RSA", "Suid-Afrika", "Sudáfrica"),
}

# Spellings (by folded key) never written, however pycountry or a person spells them: what they would say is not
# a country, or not one only.
EXCLUDED: dict[str, str] = {
    # Namibia's alpha-2 code folds as the null markers N/A and NA do (rule C1): such a country part is none.
    "NA": "a null marker (N/A), not Namibia",
    # Names more than one country is known by; as the address wrote them they say too little.
    "Korea": "North or South Korea",
    "Virgin Islands": "the British or the US Virgin Islands",
}

# Rule S1, as the mapping_key macro computes it (tests/loader/transform/test_country_names.py checks it agrees with
# the pandas engine's): lower case, accents folded by NFKD, every space, punctuation mark and separator dropped.
_KEY_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "ß": "ss", "æ": "ae", "œ": "oe"})
_KEY_DROPPED = re.compile(
    "[\u0001-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u00bf\u00d7\u00f7\u02b9-\u036f"
    "\u2000-\u206f\u3000-\u303f\ufe30-\ufe4f\uff01-\uff0f]"
)


def mapping_key(spelling: str) -> str:
    """The key a spelling is looked up by (rule S1)."""
    return _KEY_DROPPED.sub("", unicodedata.normalize("NFKD", spelling).lower().translate(_KEY_LETTERS))


class Collision(Exception):
    """Two spellings that fold to one key name different countries."""


def _pycountry_spellings() -> Iterable[tuple[str, str]]:
    for country in sorted(pycountry.countries, key=lambda country: country.alpha_2):
        for attribute in ("name", "common_name", "official_name", "alpha_2", "alpha_3"):
            spelling = getattr(country, attribute, None)
            if spelling and "," not in spelling:
                yield spelling, country.alpha_2


def _alias_spellings(codes: set[str]) -> Iterable[tuple[str, str]]:
    unknown = sorted(set(ALIASES) - codes)
    if unknown:
        raise Collision(f"aliases of codes that are not ISO 3166-1 alpha-2: {', '.join(unknown)}")
    for code, spellings in sorted(ALIASES.items()):
        for spelling in spellings:
            yield spelling, code


def _merged(rows: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Folded key -> (spelling, code), the first spelling of each key; a key with two codes raises Collision."""
    excluded = {mapping_key(spelling) for spelling in EXCLUDED}
    by_key: dict[str, tuple[str, str]] = {}
    for spelling, code in rows:
        key = mapping_key(spelling)
        if not key or key in excluded:
            continue
        first = by_key.setdefault(key, (spelling, code))
        if first[1] != code:
            raise Collision(
                f"{spelling!r} ({code}) and {first[0]!r} ({first[1]}) fold to one key {key!r}: "
                "list one of them in EXCLUDED, or remove it"
            )
    return by_key


def generated_rows() -> list[tuple[str, str]]:
    """(spelling, alpha-2 code) rows this script writes: pycountry's spellings, then the aliases, sorted."""
    codes = {country.alpha_2 for country in pycountry.countries}
    merged = _merged([*_pycountry_spellings(), *_alias_spellings(codes)])
    return _sorted(merged.values())


def _sorted(rows: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """By code, then folded spelling: every spelling of one country stands together, `États-Unis` among the e's."""
    return sorted(rows, key=lambda row: (row[1], mapping_key(row[0]), row[0]))


def read_seed(path: Path = SEED) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as seed:
        reader = csv.reader(seed)
        header = tuple(next(reader))
        if header != HEADER:
            raise Collision(f"{path} has the columns {', '.join(header)}, not {', '.join(HEADER)}")
        return [(spelling, code) for spelling, code in reader]


def seed_rows(existing: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The generated rows and the rows people added to the seed, sorted; a collision among them raises, as does an
    added row of an excluded spelling or of a code that is not ISO 3166-1 alpha-2."""
    generated = generated_rows()
    added = set(existing) - set(generated)
    codes = {country.alpha_2 for country in pycountry.countries}
    excluded = {mapping_key(spelling): spelling for spelling in EXCLUDED}
    for spelling, code in sorted(added):
        if code not in codes:
            raise Collision(f"the seed maps {spelling!r} to {code!r}, which is not an ISO 3166-1 alpha-2 code")
        if mapping_key(spelling) in excluded:
            raise Collision(f"the seed maps {spelling!r}, excluded: {EXCLUDED[excluded[mapping_key(spelling)]]}")
    _merged([*generated, *added])
    return _sorted({*generated, *added})


def main() -> None:
    try:
        rows = seed_rows(read_seed() if SEED.exists() else [])
    except Collision as exc:
        raise SystemExit(f"error: {exc}") from None
    with SEED.open("w", newline="", encoding="utf-8") as seed:
        writer = csv.writer(seed, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    sys.stdout.write(f"wrote {len(rows)} spellings to {SEED}\n")


if __name__ == "__main__":
    main()
