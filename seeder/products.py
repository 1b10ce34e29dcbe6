"""old_products: canonical products, written through the dirt patterns, with the answer key of each row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seeder import catalogue, grammar
from seeder.catalogue import Profile
from seeder.pools import (
    CATEGORIES,
    CATEGORY_SPANISH,
    CATEGORY_SYNONYMS,
    CATEGORY_TYPOS,
    LEGACY_CATEGORY_SPELLINGS,
    NON_ASCII_WORDS,
    SQL_LIKE_PRODUCT_SUFFIX,
    UNKNOWN_CATEGORIES,
    UNREADABLE_MONEY,
    Pools,
)
from seeder.text import (
    DAY,
    MONEY_FORMS,
    NULL,
    amount,
    array_literal,
    civil,
    default_money_form,
    impossible_dates,
    money_fits,
    timestamp_texts,
    write_dates,
)
from seeder.users import END, START, grammar_text

TABLE: catalogue.LegacyTable = "old_products"
FORM_COLUMNS = catalogue.columns(TABLE)
# Forms whose text M1/M2 read back as the true amount; the others lose the price.
READABLE_PRICES = (
    "price_plain",
    "price_usd_suffix",
    "price_eur_suffix",
    "price_short_decimals",
    "price_dollar",
    "price_euro_comma",
    "price_thousands_us",
    "price_thousands_eu",
    "price_integer",
    "price_free",
    "price_wild",
    "price_wild_bare",
)
LOST_PRICES = ("price_na", "price_empty", "price_negative", "price_unreadable", "price_wild_shared_symbol")
# Readable prices that name no currency: LEGACY_CURRENCY (USD), with a warning (B).
BARE_PRICES = ("price_plain", "price_thousands_us", "price_integer", "price_free", "price_wild_bare")
UNREADABLE_CREATED = ("created_impossible", "created_wild_two_digit_year", "created_wild_impossible")
WILD_DATE_WRITERS = {
    "created_wild": grammar.write_dates,
    "created_wild_ambiguous_slash": grammar.write_ambiguous_slash,
    "created_wild_two_digit_year": grammar.write_two_digit_years,
    "created_wild_impossible": grammar.write_impossible_dates,
}
CREATED_DATE_FORMS = {
    "created_dmy": "dmy",
    "created_iso_date": "iso_date",
    "created_iso_minute": "iso_minute",
    "created_epoch": "epoch",
    "created_mdy_day_over_12": "mdy",
}
ANSWER_COLUMNS = (
    "legacy_id",
    "outcome",
    "reason_code",
    "merged_into_legacy_id",  # always NULL: no rule merges products; kept so every answer table reads alike
    "name",
    "description",
    "category",
    "price",
    "currency",
    "created_at",
    "warnings",
    *FORM_COLUMNS,
    "grammar",
)


@dataclass(frozen=True)
class CanonicalProduct:
    id: int
    name: str
    description: str
    category: str
    price_cents: int
    currency: str
    created_at: int
    text_form: str = "product_text_plain"


@dataclass(frozen=True)
class RenderedProducts:
    legacy_rows: list[tuple[object, ...]]
    answer_rows: list[tuple[object, ...]]
    migrated: np.ndarray  # bool: not rejected, so orders can name it
    price_cents: np.ndarray  # what the rules read from the price, NULL where nothing
    currency: list[str | None]
    forms: dict[str, list[str]]
    # The currency the price text names (B): its code where it names one the rules read, "" where it names none
    # (a bare or missing price), None where that cannot be told (an unreadable price with a currency in it).
    named_currency: list[str | None]


def forms_of(column: str, ids: Sequence[str]) -> np.ndarray:
    return catalogue.encode(TABLE, column, ids)


def _ids(column: str, codes: np.ndarray) -> list[str]:
    return catalogue.decode(TABLE, column, codes)


def price_form_fits(form: str, cents: int, currency: str) -> bool:
    match form:
        case "price_wild":
            return True
        case "price_wild_bare":
            return currency == "USD"
        case "price_wild_shared_symbol":
            return currency in grammar.SHARED_SYMBOL_CURRENCIES
    return form in LOST_PRICES or money_fits(form.removeprefix("price_"), cents, currency)


def fallback_price_form(currency: str) -> str:
    """The legacy app's own way to write a price; any currency but USD and EUR only the wild grammar writes."""
    form = default_money_form(currency)
    return "price_wild" if form == "code_suffix" else f"price_{form}"


def named_currency(form: str, currency: str | None) -> str | None:
    """What currency a price text of this form names, as ProductIndex.named_currency says."""
    if form in BARE_PRICES or form in ("price_na", "price_empty", "price_unreadable"):
        return ""
    if form == "price_negative":
        return "" if currency == "USD" else None  # `-12.50` is bare; `-12.50 EUR` names a currency it loses
    if form == "price_wild_shared_symbol":
        return None
    return currency


def _price(product: CanonicalProduct, form: str, pick: int) -> tuple[str, int, str | None, str | None]:
    """Legacy text, expected cents (NULL for none), expected currency, and the warning it earns."""
    cents, currency = product.price_cents, product.currency
    match form:
        case "price_na":
            return "N/A", NULL, None, None
        case "price_empty":
            return "", NULL, None, None
        case "price_negative":
            suffix = "" if currency == "USD" else f" {currency}"
            return f"-{amount(max(cents, 1))}{suffix}", NULL, None, "price_negative"
        case "price_unreadable":
            return UNREADABLE_MONEY[pick % len(UNREADABLE_MONEY)], NULL, None, "price_invalid"
    return MONEY_FORMS[form.removeprefix("price_")](cents, currency), cents, currency, None


def _category(category: str, form: str, pick: int) -> tuple[str | None, str | None, str | None]:
    """Legacy text, expected category, and the warning it earns."""
    spellings = {
        "category_legacy": LEGACY_CATEGORY_SPELLINGS[category],
        "category_spanish": CATEGORY_SPANISH[category],
        "category_synonym": CATEGORY_SYNONYMS[category],
        "category_typo": CATEGORY_TYPOS[category],
    }
    match form:
        case "category_upper":
            return category.upper(), category, None
        case "category_lower":
            return category.lower(), category, None
        case "category_spacing":
            return "  " + category.replace(" ", "   ") + " ", category, None
        case "category_unknown":
            return UNKNOWN_CATEGORIES[pick % len(UNKNOWN_CATEGORIES)], None, "category_unknown"
        case "category_null":
            return None, None, None
    options = spellings[form]
    text = options[pick % len(options)]
    # People capitalize synonyms as often as not; the mapping ignores case (R2).
    return (text.capitalize() if form != "category_legacy" and pick % 4 == 1 else text), category, None


def effective_forms(products: Sequence[CanonicalProduct], forms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The forms as written: one that cannot write a value falls back to its column's default."""
    out = {column: codes.copy() for column, codes in forms.items()}
    price = catalogue.codes(TABLE, "price_form")
    created = catalogue.codes(TABLE, "created_form")
    price_ids = _ids("price_form", out["price_form"])
    days = civil(np.array([p.created_at for p in products], dtype=np.int64))[2]
    for i, product in enumerate(products):
        if not price_form_fits(price_ids[i], product.price_cents, product.currency):
            out["price_form"][i] = price[fallback_price_form(product.currency)]
        if out["created_form"][i] == created["created_mdy_day_over_12"] and days[i] <= 12:
            out["created_form"][i] = created["created_dmy"]
    secs = np.array([p.created_at for p in products], dtype=np.int64)
    misread = (out["created_form"] == created["created_wild_ambiguous_slash"]) & ~grammar.ambiguous_slash_fits(secs)
    out["created_form"][misread] = created["created_wild"]
    out["text_form"] = forms_of("text_form", [p.text_form for p in products])
    return out


def render_products(
    products: Sequence[CanonicalProduct], forms: dict[str, np.ndarray], picks: np.ndarray
) -> RenderedProducts:
    """Legacy rows and answer-key rows for a batch of products (forms and picks as in render_users)."""
    n = len(products)
    forms = effective_forms(products, forms)
    named = {column: _ids(column, codes) for column, codes in forms.items()}
    pick_list = picks.tolist()
    created_secs = np.array([p.created_at for p in products], dtype=np.int64)
    created_text = np.empty(n, dtype=object)
    created = np.full(n, NULL, dtype=np.int64)
    labels: dict[str, np.ndarray] = {column: np.full(n, None, dtype=object) for column in WILD_COLUMNS}
    for code, pattern in enumerate(catalogue.column_patterns(TABLE, "created_form")):
        idx = np.flatnonzero(forms["created_form"] == code)
        if not idx.size:
            continue
        if pattern.id in WILD_DATE_WRITERS:
            written = WILD_DATE_WRITERS[pattern.id](created_secs[idx], picks[idx], "created")
            created_text[idx], created[idx], labels["created_form"][idx] = (
                written.texts,
                written.expected,
                written.labels,
            )
        elif pattern.id in CREATED_DATE_FORMS:
            created_text[idx], created[idx] = write_dates(created_secs[idx], CREATED_DATE_FORMS[pattern.id])
        elif pattern.id == "created_impossible":
            created_text[idx] = impossible_dates(created_secs[idx], picks[idx])
        else:
            created_text[idx] = "N/A"
    created_texts = timestamp_texts(created)
    wild_prices = _wild_prices(products, named["price_form"], picks, labels["price_form"])
    wild_categories = _wild_categories(products, named["category_form"], picks, labels["category_form"])

    legacy_rows: list[tuple[object, ...]] = []
    answer_rows: list[tuple[object, ...]] = []
    migrated = np.ones(n, dtype=bool)
    price_cents = np.full(n, NULL, dtype=np.int64)
    currencies: list[str | None] = []
    names: list[str | None] = []
    for i, product in enumerate(products):
        pick = pick_list[i]
        name_form = named["name_form"][i]
        if name_form == "product_name_missing":
            name_text = ("", "   ", "N/A")[pick % 3]
        elif name_form == "product_name_stray_spaces":
            name_text = ("  " + product.name + " ", " " + product.name, product.name + "   ")[pick % 3]
        else:
            name_text = product.name
        match named["description_form"][i]:
            case "description_null":
                description_text, description = None, None
            case "description_na":
                description_text, description = "N/A", None
            case _:
                description_text, description = product.description, product.description
        price_form = named["price_form"][i]
        price_text, cents, currency, price_warning = wild_prices.get(i) or _price(product, price_form, pick)
        category_text, category, category_warning = wild_categories.get(i) or _category(
            product.category, named["category_form"][i], pick
        )
        legacy_rows.append((product.id, name_text, description_text, price_text, category_text, created_text[i]))
        row_forms = [named[column][i] for column in FORM_COLUMNS]
        row_grammar = grammar_text(**{column: labels[column][i] for column in WILD_COLUMNS})
        if name_form == "product_name_missing":
            migrated[i] = False
            currencies.append(None)
            names.append(None)
            answer_rows.append(
                (product.id, "rejected", "product_name_missing", *([None] * 7), "{}", *row_forms, row_grammar)
            )
            continue
        assumed = "currency_assumed" if price_form in BARE_PRICES else None
        warnings = [w for w in (price_warning, assumed, category_warning) if w]
        if named["created_form"][i] in UNREADABLE_CREATED:
            warnings.append("created_date_invalid")
        price_cents[i] = cents
        currencies.append(currency)
        names.append(named_currency(price_form, product.currency))
        answer_rows.append(
            (
                product.id,
                "migrated",
                None,
                None,
                product.name,
                description,
                category,
                None if cents == NULL else amount(cents),
                currency,
                created_texts[i],
                array_literal(warnings),
                *row_forms,
                row_grammar,
            )
        )
    return RenderedProducts(legacy_rows, answer_rows, migrated, price_cents, currencies, named, names)


WILD_COLUMNS = ("price_form", "category_form", "created_form")
PriceAnswer = tuple[str, int, str | None, str | None]
CategoryAnswer = tuple[str | None, str | None, str | None]


def _wild_prices(
    products: Sequence[CanonicalProduct], forms: list[str], picks: np.ndarray, labels: np.ndarray
) -> dict[int, PriceAnswer]:
    """Prices the wild grammar writes, by row: text, expected cents, expected currency, warning."""
    rows = [i for i, form in enumerate(forms) if form.startswith("price_wild")]
    if not rows:
        return {}
    cents = [products[i].price_cents for i in rows]
    currencies = [products[i].currency for i in rows]
    shared = np.array([forms[i] == "price_wild_shared_symbol" for i in rows])
    bare = np.array([forms[i] == "price_wild_bare" for i in rows])
    readable = grammar.write_money(cents, currencies, picks[rows], bare, "price")
    at = np.flatnonzero(shared)
    refused = grammar.write_shared_symbol([cents[k] for k in at], [currencies[k] for k in at], picks[rows][at], "price")
    refused_at = {int(k): j for j, k in enumerate(at)}
    out: dict[int, PriceAnswer] = {}
    for k, i in enumerate(rows):
        if shared[k]:
            out[i] = (refused.texts[refused_at[k]], NULL, None, "price_invalid")
            labels[i] = refused.labels[refused_at[k]]
        else:
            out[i] = (readable.texts[k], cents[k], currencies[k], None)
            labels[i] = readable.labels[k]
    return out


def _wild_categories(
    products: Sequence[CanonicalProduct], forms: list[str], picks: np.ndarray, labels: np.ndarray
) -> dict[int, CategoryAnswer]:
    """Categories the wild grammar writes, by row: text, expected category, warning."""
    rows = [i for i, form in enumerate(forms) if form in ("category_wild", "category_wild_unknown")]
    if not rows:
        return {}
    known = grammar.seed_spellings("category_synonyms")
    unknown = grammar.unknown_words(grammar.UNKNOWN_CATEGORY_WORDS, "category_synonyms")
    options = [unknown if forms[i] == "category_wild_unknown" else known[products[i].category] for i in rows]
    spellings = grammar.pick_spellings(options, picks[rows], "category")
    texts, choices = grammar.write_words(spellings, picks[rows], "category", grammar.CATEGORY_WIDTH)
    out: dict[int, CategoryAnswer] = {}
    for k, i in enumerate(rows):
        labels[i] = choices[k]
        if forms[i] == "category_wild_unknown":
            out[i] = (texts[k], None, "category_unknown")
        else:
            out[i] = (texts[k], products[i].category, None)
    return out


# ---- the canonical catalogue ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductPlan:
    products: list[CanonicalProduct]
    forms: dict[str, np.ndarray]
    picks: np.ndarray
    # 0-based position of the other product with the same name, or -1.
    partner: np.ndarray


def _draw_price(rng: np.random.Generator, form: str, wild_currency: str) -> tuple[int, str]:
    """A true price that the drawn form can write: the canonical value follows the form it will be shown in."""
    expensive = rng.random() < 0.1
    cents = int(rng.integers(100_000, 1_000_000) if expensive else rng.integers(100, 50_000))
    match form:
        case "price_wild_bare":
            return cents, "USD"
        case "price_wild" | "price_wild_shared_symbol":
            # Currencies without minor units are priced in whole amounts.
            return (cents - cents % 100 if grammar.whole_only(wild_currency) else cents), wild_currency
        case "price_free":
            return 0, "USD"
        case "price_integer":
            return cents - cents % 100, "USD"
        case "price_thousands_us":
            return int(rng.integers(100_000, 1_000_000)), "USD"
        case "price_thousands_eu":
            return int(rng.integers(100_000, 1_000_000)), "EUR"
        case "price_eur_suffix" | "price_euro_comma":
            return cents, "EUR"
        case "price_plain" | "price_usd_suffix" | "price_dollar":
            return cents, "USD"
    return cents, ("EUR" if rng.random() < 0.15 else "USD")


def plan_products(rng: np.random.Generator, pools: Pools, count: int, profile: Profile) -> ProductPlan:
    forms = catalogue.draw(rng, TABLE, profile, count)
    codes = {column: catalogue.codes(TABLE, column) for column in FORM_COLUMNS}
    # Orders need a product to name: the first one always has a name.
    forms["name_form"][0] = codes["name_form"]["product_name_clean"]
    picks = rng.integers(0, np.iinfo(np.int32).max, size=count)
    partner = np.full(count, -1, dtype=np.int64)
    row_ids = _ids("row_form", forms["row_form"])
    price_ids = _ids("price_form", forms["price_form"])
    free_to_pair = [
        i
        for i in range(count)
        if row_ids[i] == "product_single"
        and forms["name_form"][i] != codes["name_form"]["product_name_missing"]
        and price_ids[i] in READABLE_PRICES
        and price_ids[i] != "price_free"
    ]
    taken: set[int] = set()
    for i in range(count):
        if row_ids[i] == "product_single":
            continue
        upto = int(np.searchsorted(free_to_pair, i))
        # Every product taken so far came from an earlier prefix of the same list, so this counts the free ones.
        if upto - len(taken) <= 0:
            forms["row_form"][i] = codes["row_form"]["product_single"]
            row_ids[i] = "product_single"
            continue
        j = _untaken(rng, free_to_pair, upto, taken)
        taken.add(j)
        partner[i], partner[j] = j, i
        forms["text_form"][i] = forms["text_form"][j]
        forms["name_form"][i] = codes["name_form"]["product_name_clean"]
        if price_ids[i] not in READABLE_PRICES or price_ids[i] == "price_free":
            forms["price_form"][i] = codes["price_form"]["price_plain"]
            price_ids[i] = "price_plain"
        if row_ids[i] == "product_shared_name_same_price":
            forms["price_form"][i] = forms["price_form"][j]
            price_ids[i] = price_ids[j]

    text_ids = _ids("text_form", forms["text_form"])
    wild_currencies = grammar.draw_currencies(
        picks, "price", np.array([form == "price_wild_shared_symbol" for form in price_ids], dtype=bool)
    )
    created = rng.integers(START, END, size=count, dtype=np.int64)
    created_ids = _ids("created_form", forms["created_form"])
    products: list[CanonicalProduct] = []
    used: set[str] = set()
    for i in range(count):
        product_id = i + 1
        cents, currency = _draw_price(rng, price_ids[i], wild_currencies[i])
        secs = int(created[i])
        if created_ids[i] == "created_mdy_day_over_12":
            day = civil(np.array([secs]))[2][0]
            if day <= 12:
                secs += 13 * DAY  # the 14th to the 25th: still the same month, and the day decides (T2)
        if partner[i] >= 0 and partner[i] < i:
            first = products[int(partner[i])]
            name = first.name
            if row_ids[i] == "product_shared_name_same_price":
                cents, currency = first.price_cents, first.currency
            elif cents == first.price_cents:
                # Different amounts: a bare unit price finds its product by the amount alone (O2, B).
                cents += 100
        else:
            name = _product_name(pools, text_ids[i], rng)
            if _key(name) in used:
                name = f"{name} {product_id}"
        used.add(_key(name))
        category = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
        description = _description(pools, text_ids[i], int(picks[i]))
        products.append(CanonicalProduct(product_id, name, description, category, cents, currency, secs, text_ids[i]))
    return ProductPlan(products, forms, picks, partner)


def _untaken(rng: np.random.Generator, candidates: list[int], upto: int, taken: set[int]) -> int:
    while True:
        j = candidates[int(rng.integers(0, upto))]
        if j not in taken:
            return j


def _key(name: str) -> str:
    """How the rules compare product names: case and runs of spaces ignored (O2)."""
    return " ".join(name.split()).lower()


def _product_name(pools: Pools, text_form: str, rng: np.random.Generator) -> str:
    adjective = pools.adjectives[int(rng.integers(0, len(pools.adjectives)))]
    noun = pools.nouns[int(rng.integers(0, len(pools.nouns)))]
    match text_form:
        case "product_text_non_ascii":
            return f"{NON_ASCII_WORDS[int(rng.integers(0, len(NON_ASCII_WORDS)))]} {noun}"
        case "product_text_quotes":
            return f'Kids\' "{adjective}" {noun}'
        case "product_text_sql_like":
            return f"{adjective} {noun}{SQL_LIKE_PRODUCT_SUFFIX}"
    return f"{adjective} {noun}"


def _description(pools: Pools, text_form: str, pick: int) -> str:
    sentence = pools.sentences[pick % len(pools.sentences)]
    match text_form:
        case "product_text_non_ascii":
            return f"{sentence} Très bien, ¡olé!"
        case "product_text_quotes":
            return f"{sentence} Rated \"best buy\" by O'Reilly's."
        case "product_text_sql_like":
            return f"{sentence} {SQL_LIKE_PRODUCT_SUFFIX}"
    return sentence
