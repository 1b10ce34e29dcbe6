"""Pools of Faker values, drawn once per run from a seeded Faker; every row picks from them with numpy.

Faker is slow per call (tens of microseconds), so it never runs per row: a few thousand calls fill these pools,
and the generators index into them with seeded random integers. The hand-written lists are the values no
Faker provider gives: the spellings the legacy app and its users wrote, the strings meant to look like SQL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from faker import Faker

POOL_SIZE = 2000
# People abroad and non-ASCII names come from these locales. Turkish is left out on purpose: its dotted and
# dotless i do not survive upper- and lower-casing, so no rule could give such a name back.
INTL_LOCALES = ("de_DE", "es_ES", "fr_FR", "pl_PL")

CATEGORIES = ("Electronics", "Books", "Home Goods", "Apparel", "Sports")
# How the legacy app itself wrote each category (the list).
LEGACY_CATEGORY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Electronics": ("Electronics", "electronics"),
    "Books": ("Books", "libros"),
    "Home Goods": ("Home Goods",),
    "Apparel": ("Apparel", " ropa "),
    "Sports": ("Sports",),
}
# Spellings chosen from dbt_project/seeds/category_synonyms.csv (a test checks they are all there).
CATEGORY_SPANISH: dict[str, tuple[str, ...]] = {
    "Electronics": ("electrónica", "electronica"),
    "Books": ("libros", "libro"),
    "Home Goods": ("hogar",),
    "Apparel": ("ropa",),
    "Sports": ("deportes",),
}
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "Electronics": ("electronic",),
    "Books": ("book",),
    "Home Goods": ("home",),
    "Apparel": ("clothing",),
    "Sports": ("sport",),
}
CATEGORY_TYPOS: dict[str, tuple[str, ...]] = {
    "Electronics": ("electroncs",),
    "Books": ("boks",),
    "Home Goods": ("homegoods", "home good"),
    "Apparel": ("aparel",),
    "Sports": ("sprots",),
}
# Deliberately absent from the seed: these must end as category_unknown.
UNKNOWN_CATEGORIES = ("Gadgets", "Misc", "Toys & Games", "Garden", "Sale!")

STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled", "returned")
LEGACY_STATUS_SPELLINGS: dict[str, tuple[str, ...]] = {
    "pending": ("pending", "Pending"),
    "processing": ("PROCESSING",),
    "shipped": ("shipped", "Shipped"),
    "delivered": ("delivered", "DELIVERED"),
    "cancelled": ("cancelled",),
    "returned": ("Returned?",),
}
# From dbt_project/seeds/status_synonyms.csv.
STATUS_SPANISH: dict[str, tuple[str, ...]] = {
    "pending": ("pendiente",),
    "processing": ("procesando", "en proceso"),
    "shipped": ("enviado",),
    "delivered": ("entregado",),
    "cancelled": ("cancelado",),
    "returned": ("devuelto", "reembolsado"),
}
STATUS_SYNONYMS: dict[str, tuple[str, ...]] = {"cancelled": ("canceled",), "returned": ("refunded",)}
UNKNOWN_STATUSES = ("on hold", "lost", "backordered", "???", "awaiting stock")

# US spellings the country_names seed knows, in the cases people write them; not the legacy app's own "USA".
COUNTRY_SPELLINGS = (
    "US",
    "U.S.",
    "U.S.A.",
    "United States",
    "united states of america",
    "Estados Unidos",
    "America",
    "usa",
)
# Deliberately absent from the seed: kept as written with country_unknown.
UNKNOWN_COUNTRIES = ("Amerika", "Untied States", "The States", "Murica")
LEGACY_COUNTRY = "USA"
# What the country_names seed maps every US spelling above to (ISO 3166-1 alpha-2).
LEGACY_COUNTRY_CODE = "US"

# Strings that must arrive as plain text, never run as SQL.
SQL_LIKE_LAST_NAMES = ("'); drop table users; --", "Tables'); DROP TABLE students;--", "O'Neil' OR '1'='1")
SQL_LIKE_PRODUCT_SUFFIX = "'); drop table products; --"
QUOTE_FIRST_NAMES = ("D'Angelo", "D'Arcy", 'Robert "Bob"', "N'Golo", "Ma'ayan")
QUOTE_LAST_NAMES = ("O'Brien", "D'Amico", "O'Connor", "L'Estrange", "Dell'Acqua")
NON_ASCII_WORDS = (
    "Crème",
    "Café",
    "Jalapeño",
    "Piñata",
    "Smørrebrød",
    "Façade",
    "Über",
    "Zürich",
    "Ångström",
    "Naïve",
    "Señorita",
    "Kölsch",
    "Łódź",
    "Résumé",
)
UNKNOWN_USER_TEMPLATES = ("walk-in customer #{n}", "guest #{n}", "someone.{n}@example.org", "'); drop table users; --")
UNKNOWN_PRODUCT_TEMPLATES = ("discontinued item #{n}", "gift card #{n}", "sample #{n}'); drop table orders; --")
UNREADABLE_MONEY = ("TBD", "9.9999", "12345678901.00", "call us")
INTL_PHONES = (
    # country code, national number's digit groups: +44 20 7946 0958, +49 30 12345678, +33 1 23 45 67 89
    ("44", (2, 4, 4)),
    ("49", (2, 8)),
    ("33", (1, 2, 2, 2, 2)),
    ("52", (2, 4, 4)),
)
MILITARY_CITIES = ("APO", "FPO", "DPO")
MILITARY_STATES = ("AA", "AE", "AP")
# The 50 states and DC: territories and the military "states" AA/AE/AP belong to other forms.
US_STATES = tuple(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO "  # noqa: SIM905
    "MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)


def simple_case(text: str) -> bool:
    """True when upper- and lower-casing keep the text's length and letters (no ß, no dotted İ)."""
    upper = text.upper()
    return len(upper) == len(text) and upper.lower() == text.lower() and text.lower().upper() == upper


def ascii_letters(text: str) -> str:
    """The ASCII letters of a name, lower case: what an email address is made of."""
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z]", "", folded.encode("ascii", "ignore").decode().lower())


def _unique(values: list[str]) -> tuple[str, ...]:
    """Values in first-seen order without repeats: pools stay deterministic (no set iteration order)."""
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class Pools:
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    intl_first_names: tuple[str, ...]
    intl_last_names: tuple[str, ...]
    user_names: tuple[str, ...]
    domains: tuple[str, ...]
    streets: tuple[str, ...]
    secondary: tuple[str, ...]
    cities: tuple[str, ...]
    zips: tuple[str, ...]
    military_streets: tuple[str, ...]
    sentences: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


def build_pools(seed: int) -> Pools:
    """Every Faker value the run uses, in a fixed order, from Faker instances seeded with `seed`."""
    faker = Faker("en_US")
    faker.seed_instance(seed)
    n = POOL_SIZE

    def names(values: list[str]) -> tuple[str, ...]:
        # No commas (N1 would turn the name round) and casing that round-trips (N1's title case).
        return _unique([v for v in values if "," not in v and simple_case(v) and ascii_letters(v)])

    intl_first: list[str] = []
    intl_last: list[str] = []
    for locale in INTL_LOCALES:
        local = Faker(locale)
        local.seed_instance(seed)
        intl_first += [local.first_name() for _ in range(n // 4)]
        intl_last += [local.last_name() for _ in range(n // 4)]
    # Usernames end in the user's id, so their Faker part must have no digits: `ann1` + `23` would equal
    # `ann12` + `3`, and two users would share a name.
    user_names = _unique([re.sub(r"[^a-z._]", "", faker.user_name()) for _ in range(n)])
    military = []
    for i in range(n // 4):
        military.append(faker.military_apo() if i % 2 else faker.military_dpo())
        military.append(f"{faker.military_ship()} {faker.last_name()}")
    return Pools(
        first_names=names([faker.first_name() for _ in range(n)]),
        last_names=names([faker.last_name() for _ in range(n)]),
        intl_first_names=names([v for v in intl_first if not v.isascii()]),
        intl_last_names=names([v for v in intl_last if not v.isascii()]),
        user_names=tuple(v for v in user_names if v.strip("._")),
        domains=_unique([faker.free_email_domain() for _ in range(200)]),
        # street_address() already adds "Apt. 12" or "Suite 3" to some, without a comma, as Faker writes them.
        streets=_unique([faker.street_address() for _ in range(n)]),
        secondary=_unique([faker.secondary_address() for _ in range(n // 4)]),
        cities=_unique([faker.city() for _ in range(n)]),
        zips=_unique([faker.zipcode() for _ in range(n)]),
        military_streets=_unique(military),
        sentences=_unique([faker.sentence(nb_words=10) for _ in range(n)]),
        adjectives=_unique(sorted({faker.word(part_of_speech="adjective").title() for _ in range(600)})),
        nouns=_unique(sorted({faker.word(part_of_speech="noun").title() for _ in range(1200)})),
    )
