"""old_orders: canonical orders, written through the dirt patterns, with the answer key of each row.

Orders are the bulk of a run, so they are rendered a chunk at a time, one pattern at a time: numpy picks the rows
of each pattern and computes the outcome of all rows at once, in the order docs/cleaning-rules.md checks the
reasons (duplicate, user, product, date, quantity, status, unit price), the first that applies winning.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from loader.core.contract import dbt_var
from seeder import catalogue, grammar
from seeder.catalogue import Profile
from seeder.pools import (
    LEGACY_STATUS_SPELLINGS,
    STATUS_SPANISH,
    STATUS_SYNONYMS,
    STATUSES,
    UNKNOWN_PRODUCT_TEMPLATES,
    UNKNOWN_STATUSES,
    UNKNOWN_USER_TEMPLATES,
    UNREADABLE_MONEY,
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
    seconds,
    timestamp_texts,
    write_dates,
)
from seeder.users import END, START, grammar_text

TABLE: catalogue.LegacyTable = "old_orders"
FORM_COLUMNS = catalogue.columns(TABLE)
# Orders dated after the snapshot are impossible (O6). The snapshot is taken when `make migrate` runs, so
# "future" dates are written from 2030 on and every true order date is before mid-2024: nothing in between.
FUTURE_FROM = seconds(2030, 1, 1)
PAST_UNTIL = seconds(2025, 1, 1)
ORDER_DATE_FORMS = {
    "order_date_iso_date": "iso_date",
    "order_date_us_ampm": "us_ampm",
    "order_date_iso_minute": "iso_minute",
    "order_date_iso_seconds": "iso_seconds",
    "order_date_iso_t": "iso_t",
    "order_date_dmy": "dmy",
    "order_date_mdy_day_over_12": "mdy",
    "order_date_epoch": "epoch",
}
READABLE_UNIT_PRICES = tuple(
    f"unit_price_{form}"
    for form in (
        "plain",
        "usd_suffix",
        "eur_suffix",
        "short_decimals",
        "dollar",
        "euro_comma",
        "thousands_us",
        "thousands_eu",
        "integer",
        "free",
        "wild",
        "wild_bare",
        "wild_bare_assumed",
    )
)
# Unit prices that name no currency: their product's, where its price names one, else USD (B).
BARE_UNIT_PRICES = (
    "unit_price_plain",
    "unit_price_thousands_us",
    "unit_price_integer",
    "unit_price_free",
    "unit_price_wild_bare",
    "unit_price_wild_bare_assumed",
)
WILD_DATE_WRITERS = {
    "order_date_wild": grammar.write_dates,
    "order_date_wild_ambiguous_slash": grammar.write_ambiguous_slash,
    "order_date_wild_two_digit_year": grammar.write_two_digit_years,
    "order_date_wild_impossible": grammar.write_impossible_dates,
}
WILD_COLUMNS = ("date_form", "status_form", "unit_price_form", "total_form")
TOTAL_WARNINGS = {
    "total_na": "total_missing",
    "total_empty": "total_missing",
    "total_mismatch_amount": "total_mismatch",
    "total_mismatch_currency": "total_mismatch",
    "total_unreadable": "total_unreadable",
}
ANSWER_COLUMNS = (
    "legacy_id",
    "outcome",
    "reason_code",
    "merged_into_legacy_id",
    "legacy_user_id",
    "legacy_product_id",
    "status",
    "ordered_at",
    "quantity",
    "unit_price",
    "currency",
    "total_amount",
    "warnings",
    *FORM_COLUMNS,
    "grammar",
)


@dataclass(frozen=True)
class UserIndex:
    """What the orders need to know of every user, by 0-based position (legacy id - 1)."""

    usernames: np.ndarray
    raw_emails: np.ndarray
    email_valid: np.ndarray
    survivor_ids: np.ndarray
    registered_day: np.ndarray  # the day the rules read, NULL where unknown
    registered_at: np.ndarray  # the true registration, seconds


@dataclass(frozen=True)
class ProductIndex:
    """What the orders need to know of every product, by 0-based position (legacy id - 1)."""

    names: np.ndarray
    migrated: np.ndarray
    price_cents: np.ndarray  # what the rules read from the product's price, NULL where nothing
    currency: np.ndarray
    true_cents: np.ndarray
    true_currency: np.ndarray
    partner: np.ndarray  # position of the other product with the same name, or -1
    # The currency each product's price text names (see RenderedProducts.named_currency); None: none names one.
    named_currency: np.ndarray | None = None

    def named(self, positions: np.ndarray) -> np.ndarray:
        """The currency the price of each product named: a code, "" for none, None where it cannot be told."""
        if self.named_currency is None:
            return np.full(len(positions), "", dtype=object)
        currencies: np.ndarray = self.named_currency[positions]
        return currencies


@dataclass(frozen=True)
class CanonicalOrder:
    id: int
    user_id: int
    product_id: int
    ordered_at: int
    quantity: int
    status: str


@dataclass(frozen=True)
class OrderBatch:
    ids: np.ndarray
    user: np.ndarray  # 0-based positions
    product: np.ndarray
    ordered_at: np.ndarray
    quantity: np.ndarray
    status: np.ndarray  # index into STATUSES

    @classmethod
    def of(cls, orders: Sequence[CanonicalOrder]) -> OrderBatch:
        return cls(
            ids=np.array([o.id for o in orders], dtype=np.int64),
            user=np.array([o.user_id - 1 for o in orders], dtype=np.int64),
            product=np.array([o.product_id - 1 for o in orders], dtype=np.int64),
            ordered_at=np.array([o.ordered_at for o in orders], dtype=np.int64),
            quantity=np.array([o.quantity for o in orders], dtype=np.int64),
            status=np.array([STATUSES.index(o.status) for o in orders], dtype=np.int64),
        )


@dataclass(frozen=True)
class RenderedOrders:
    legacy_rows: list[tuple[object, ...]]
    answer_rows: list[tuple[object, ...]]
    forms: dict[str, list[str]]


def _effective_forms(
    batch: OrderBatch, forms: dict[str, np.ndarray], users: UserIndex, products: ProductIndex
) -> dict[str, np.ndarray]:
    """The forms as written: one that cannot apply to the value falls back to its column's default."""
    out = {column: codes.copy() for column, codes in forms.items()}
    code = {column: catalogue.codes(TABLE, column) for column in FORM_COLUMNS}
    user_form = out["user_form"]
    no_email = np.array([e is None for e in users.raw_emails[batch.user]], dtype=bool)
    user_form[(user_form == code["user_form"]["order_user_email"]) & no_email] = code["user_form"][
        "order_user_username"
    ]
    date_form = out["date_form"]
    over_12 = np.array(civil(batch.ordered_at)[2]) > 12
    date_form[(date_form == code["date_form"]["order_date_mdy_day_over_12"]) & ~over_12] = code["date_form"][
        "order_date_iso_date"
    ]
    status_form = out["status_form"]
    no_synonym = ~np.isin(batch.status, [STATUSES.index(s) for s in STATUS_SYNONYMS])
    status_form[(status_form == code["status_form"]["status_synonym"]) & no_synonym] = code["status_form"][
        "status_legacy"
    ]
    misread = (date_form == code["date_form"]["order_date_wild_ambiguous_slash"]) & ~grammar.ambiguous_slash_fits(
        batch.ordered_at
    )
    date_form[misread] = code["date_form"]["order_date_wild"]
    price_form = out["unit_price_form"]
    cents, currency = products.true_cents[batch.product], products.true_currency[batch.product]
    # A bare unit price reads as the currency its product's price names, else USD (B): written only where that
    # is the true one, as the legacy app wrote its order lines.
    named = products.named(batch.product)
    bare_reads = np.array([n if n else ("USD" if n == "" else None) for n in named.tolist()], dtype=object)
    for form, idx in catalogue.groups(TABLE, "unit_price_form", price_form):
        if form not in READABLE_UNIT_PRICES or form == "unit_price_wild":
            continue
        short = form.removeprefix("unit_price_")
        for i in idx.tolist():
            bare_fits = bare_reads[i] == currency[i]
            if form == "unit_price_wild_bare":
                if not bare_fits:
                    price_form[i] = code["unit_price_form"]["unit_price_wild"]
            elif not money_fits(short, int(cents[i]), currency[i]) or (form in BARE_UNIT_PRICES and not bare_fits):
                fallback = default_money_form(currency[i])
                fallback = "wild" if fallback == "code_suffix" or (fallback == "plain" and not bare_fits) else fallback
                price_form[i] = code["unit_price_form"][f"unit_price_{fallback}"]
    return out


@functools.cache
def max_quantity() -> int:
    """The transform's max_order_quantity (O4), read from dbt_project.yml's vars, where the models read it."""
    return int(str(dbt_var("max_order_quantity")))


def render_orders(
    batch: OrderBatch,
    forms: dict[str, np.ndarray],
    picks: np.ndarray,
    users: UserIndex,
    products: ProductIndex,
) -> RenderedOrders:
    """Legacy rows and answer-key rows for a batch of orders.

    A row whose row_form is order_double_submit repeats the row before it (a double submit), when that row is
    itself a single submit that migrates; otherwise it stays a single submit.
    """
    n = len(batch.ids)
    forms = _effective_forms(batch, forms, users, products)
    pick_list = picks.tolist()
    max_order_quantity = max_quantity()
    user, product = batch.user, batch.product

    # ---- the user (O1) ----
    user_text = np.empty(n, dtype=object)
    user_state = np.zeros(n, dtype=np.int8)  # 0 found, 1 missing, 2 not found
    email_valid = users.email_valid[user]
    for form, idx in catalogue.groups(TABLE, "user_form", forms["user_form"]):
        names, emails = users.usernames[user[idx]], users.raw_emails[user[idx]]
        picked = [pick_list[i] for i in idx.tolist()]
        match form:
            case "order_user_username":
                user_text[idx] = names
            case "order_user_email":
                user_text[idx] = emails
                user_state[idx] = np.where(email_valid[idx], 0, 2)
            case "order_user_case_spaces":
                texts = []
                for name, email, valid, pick in zip(names, emails, email_valid[idx], picked, strict=True):
                    match pick % 4:
                        case 0:
                            texts.append(name.upper())
                        case 1:
                            texts.append("  " + name.title() + " ")
                        case 2 if valid:
                            texts.append(" " + email.strip().swapcase())
                        case _:
                            texts.append(name + "  ")
                user_text[idx] = texts
            case "order_user_unknown":
                user_text[idx] = [
                    UNKNOWN_USER_TEMPLATES[p % len(UNKNOWN_USER_TEMPLATES)].format(n=p % 100_000) for p in picked
                ]
                user_state[idx] = 2
            case "order_user_missing":
                user_text[idx] = [(None, "", "   ")[p % 3] for p in picked]
                user_state[idx] = 1
    resolved_user = users.survivor_ids[user]
    user_ok = user_state == 0

    # ---- the product (O2), before its price is known ----
    product_text = np.empty(n, dtype=object)
    product_state = np.zeros(n, dtype=np.int8)  # 0 named, 1 missing, 2 not found
    for form, idx in catalogue.groups(TABLE, "product_form", forms["product_form"]):
        names = products.names[product[idx]]
        picked = [pick_list[i] for i in idx.tolist()]
        match form:
            case "order_product_case_spacing":
                variants = (str.upper, str.lower, lambda s: "  " + s + " ", lambda s: s.replace(" ", "  "))
                product_text[idx] = [variants[p % 4](name) for name, p in zip(names, picked, strict=True)]
            case "order_product_unknown":
                product_text[idx] = [
                    UNKNOWN_PRODUCT_TEMPLATES[p % len(UNKNOWN_PRODUCT_TEMPLATES)].format(n=p % 100_000) for p in picked
                ]
                product_state[idx] = 2
            case "order_product_missing":
                product_text[idx] = [(None, "", "  ")[p % 3] for p in picked]
                product_state[idx] = 1
            case _:
                product_text[idx] = names

    # ---- the date (T1, T2, O4, O6, O7) ----
    date_text = np.empty(n, dtype=object)
    ordered = np.full(n, NULL, dtype=np.int64)
    date_state = np.zeros(n, dtype=np.int8)  # 0 read, 1 missing, 2 unreadable
    survivor_pos = resolved_user - 1
    labels = {column: np.full(n, None, dtype=object) for column in WILD_COLUMNS}
    for form, idx in catalogue.groups(TABLE, "date_form", forms["date_form"]):
        if form in WILD_DATE_WRITERS:
            written = WILD_DATE_WRITERS[form](batch.ordered_at[idx], picks[idx], "order_date")
            date_text[idx], ordered[idx], labels["date_form"][idx] = written.texts, written.expected, written.labels
            if form in ("order_date_wild_two_digit_year", "order_date_wild_impossible"):
                date_state[idx] = 2
        elif form in ORDER_DATE_FORMS:
            date_text[idx], ordered[idx] = write_dates(batch.ordered_at[idx], ORDER_DATE_FORMS[form])
        elif form in ("order_date_future", "order_date_before_registration"):
            p = picks[idx].astype(np.int64)
            if form == "order_date_future":
                wrong = FUTURE_FROM + p % (6 * 365 * DAY)
            else:
                # Days before the day the rules read for the user the order resolves to; where that day is
                # unknown, before the true one (O7 is then skipped and the order migrates).
                day = users.registered_day[survivor_pos[idx]]
                base = np.where(day == NULL, users.registered_at[user[idx]] // DAY, day)
                wrong = (base - 1 - p % 365) * DAY + (p // 7) % DAY
            for inner, written in (("iso_date", p % 3 == 0), ("us_ampm", p % 3 == 1), ("iso_seconds", p % 3 == 2)):
                sub = idx[written]
                if sub.size:
                    date_text[sub], ordered[sub] = write_dates(wrong[written], inner)
        elif form == "order_date_missing":
            date_text[idx] = [("N/A", "", None)[pick_list[i] % 3] for i in idx.tolist()]
            date_state[idx] = 1
        else:
            date_text[idx] = impossible_dates(batch.ordered_at[idx], picks[idx])
            date_state[idx] = 2
    date_ok = date_state == 0
    future = date_ok & (ordered > PAST_UNTIL)
    registered_day = users.registered_day[survivor_pos]
    before = (
        date_ok
        & user_ok
        & (registered_day != NULL)
        & (np.floor_divide(np.where(date_ok, ordered, 0), DAY) < registered_day)
    )

    # ---- the quantity ----
    quantity = batch.quantity.astype(object)
    for form, idx in catalogue.groups(TABLE, "quantity_form", forms["quantity_form"]):
        picked = [pick_list[i] for i in idx.tolist()]
        match form:
            case "quantity_boundary":
                quantity[idx] = max_order_quantity
            case "quantity_null":
                quantity[idx] = None
            case "quantity_zero":
                quantity[idx] = 0
            case "quantity_negative":
                quantity[idx] = [-(1 + p % 5) for p in picked]
            case "quantity_absurd":
                quantity[idx] = [(5000, 99_999, max_order_quantity + 1 + p % 9000)[p % 3] for p in picked]
    quantity_missing = np.array([q is None for q in quantity], dtype=bool)
    quantity_number = np.where(quantity_missing, 0, quantity).astype(np.int64)

    # ---- the status ----
    status_text = np.empty(n, dtype=object)
    status_ok = np.ones(n, dtype=bool)
    for form, idx in catalogue.groups(TABLE, "status_form", forms["status_form"]):
        if form in ("status_wild", "status_wild_unknown"):
            if form == "status_wild":
                known = grammar.seed_spellings("status_synonyms")
                options = [known[STATUSES[s]] for s in batch.status[idx].tolist()]
            else:
                options = [grammar.unknown_words(grammar.UNKNOWN_STATUS_WORDS, "status_synonyms")] * idx.size
                status_ok[idx] = False
            spellings = grammar.pick_spellings(options, picks[idx], "status")
            status_text[idx], labels["status_form"][idx] = grammar.write_words(
                spellings, picks[idx], "status", grammar.STATUS_WIDTH
            )
            continue
        texts = []
        for s, pick in zip(batch.status[idx].tolist(), (pick_list[i] for i in idx.tolist()), strict=True):
            status = STATUSES[s]
            match form:
                case "status_case":
                    cased = "".join(c.upper() if k % 2 == 0 else c for k, c in enumerate(status))
                    texts.append((status.upper(), status.title(), cased)[pick % 3])
                case "status_spaces":
                    texts.append(("  " + status + " ", status + "   ", " " + status)[pick % 3])
                case "status_spanish":
                    spelling = STATUS_SPANISH[status][pick % len(STATUS_SPANISH[status])]
                    texts.append(spelling.title() if pick % 4 == 1 else spelling)
                case "status_synonym":
                    texts.append(STATUS_SYNONYMS[status][pick % len(STATUS_SYNONYMS[status])])
                case "status_unknown":
                    texts.append(UNKNOWN_STATUSES[pick % len(UNKNOWN_STATUSES)])
                case _:
                    texts.append(LEGACY_STATUS_SPELLINGS[status][pick % len(LEGACY_STATUS_SPELLINGS[status])])
        status_text[idx] = texts
        if form == "status_unknown":
            status_ok[idx] = False

    # ---- the unit price (M1-M3, O4) ----
    true_cents = products.true_cents[product]
    true_currency = products.true_currency[product]
    price_text = np.empty(n, dtype=object)
    price_cents = np.full(n, NULL, dtype=np.int64)
    price_currency = np.empty(n, dtype=object)
    price_state = np.zeros(n, dtype=np.int8)  # 0 read, 1 missing, 2 unreadable or negative
    money_form = np.empty(n, dtype=object)  # the form the total is written in
    for form, idx in catalogue.groups(TABLE, "unit_price_form", forms["unit_price_form"]):
        cents, currency = true_cents[idx].tolist(), true_currency[idx].tolist()
        picked = [pick_list[i] for i in idx.tolist()]
        if form in ("unit_price_wild", "unit_price_wild_bare"):
            bare = np.full(idx.size, form == "unit_price_wild_bare")
            written = grammar.write_money(cents, currency, picks[idx], bare, "unit_price")
            price_text[idx], labels["unit_price_form"][idx] = written.texts, written.labels
            price_cents[idx], price_currency[idx] = true_cents[idx], true_currency[idx]
            money_form[idx] = [default_money_form(cur) for cur in currency]
            continue
        if form == "unit_price_wild_shared_symbol":
            written = grammar.write_shared_symbol(cents, currency, picks[idx], "unit_price")
            price_text[idx], labels["unit_price_form"][idx] = written.texts, written.labels
            money_form[idx] = [default_money_form(cur) for cur in currency]
            price_state[idx] = 2
            continue
        if form in READABLE_UNIT_PRICES:
            short = form.removeprefix("unit_price_")
            writer = MONEY_FORMS[short]
            price_text[idx] = [writer(c, cur) for c, cur in zip(cents, currency, strict=True)]
            price_cents[idx], price_currency[idx] = true_cents[idx], true_currency[idx]
            money_form[idx] = short
            continue
        money_form[idx] = [default_money_form(cur) for cur in currency]
        match form:
            case "unit_price_missing":
                price_text[idx] = [("N/A", "", None)[p % 3] for p in picked]
                price_state[idx] = 1
            case "unit_price_negative":
                price_text[idx] = [
                    f"-{amount(max(c, 1))}" + ("" if cur == "USD" else f" {cur}")
                    for c, cur in zip(cents, currency, strict=True)
                ]
                price_state[idx] = 2
            case _:
                price_text[idx] = [UNREADABLE_MONEY[p % len(UNREADABLE_MONEY)] for p in picked]
                price_state[idx] = 2
    price_ok = price_state == 0

    # ---- the product again: a shared name is decided by the unit price (O2) ----
    partner = products.partner[product]
    shared = (partner >= 0) & (product_state == 0)
    resolved_product = product + 1
    ambiguous = np.zeros(n, dtype=bool)
    # A bare unit price names no currency: products are compared by amount alone (O2, B).
    bare = np.isin(forms["unit_price_form"], [catalogue.code(f) for f in BARE_UNIT_PRICES])
    if shared.any():
        own = (
            price_ok
            & (products.price_cents[product] == price_cents)
            & (bare | (products.currency[product] == price_currency))
        )
        other_pos = np.where(partner >= 0, partner, 0)
        other = (
            price_ok
            & (products.price_cents[other_pos] == price_cents)
            & (bare | (products.currency[other_pos] == price_currency))
        )
        matches = own.astype(np.int8) + other.astype(np.int8)
        ambiguous = shared & (matches != 1)
        resolved_product = np.where(shared & ~own & other, other_pos + 1, resolved_product)
    # Its currency is then the one the resolved product's price names, or USD where that names none.
    named = products.named(resolved_product - 1)
    from_product = bare & np.array([bool(name) for name in named.tolist()], dtype=bool)
    price_currency[bare] = np.where(from_product[bare], named[bare], "USD")

    # ---- the outcome: the first reason that applies, in the rules' order ----
    reasons = (
        ("user_missing", user_state == 1),
        ("user_not_found", user_state == 2),
        ("product_missing", product_state == 1),
        ("product_not_found", product_state == 2),
        ("product_ambiguous", ambiguous),
        ("order_date_missing", date_state == 1),
        ("order_date_invalid", date_state == 2),
        ("order_date_in_future", future),
        ("quantity_missing", quantity_missing),
        ("quantity_not_positive", ~quantity_missing & (quantity_number <= 0)),
        ("quantity_implausible", quantity_number > max_order_quantity),
        ("status_unknown", ~status_ok),
        ("unit_price_missing", price_state == 1),
        ("unit_price_invalid", price_state == 2),
    )
    reason = np.select([mask for _, mask in reasons], [code for code, _ in reasons], default="").astype(object)
    migrated = reason == ""

    # ---- the total (O5): recomputed; the legacy text only earns a warning ----
    total_cents = quantity_number * true_cents
    total_for_text = np.where((quantity_number >= 1) & (quantity_number <= max_order_quantity), total_cents, true_cents)
    total_text = np.empty(n, dtype=object)
    total_warning = np.full(n, None, dtype=object)
    for form, idx in catalogue.groups(TABLE, "total_form", forms["total_form"]):
        cents, currency = total_for_text[idx].tolist(), true_currency[idx].tolist()
        picked = [pick_list[i] for i in idx.tolist()]
        match form:
            case "total_wild":
                bare_total = grammar.uniform(picks[idx], "total.bare") < grammar.BARE_TOTALS
                written = grammar.write_money(cents, currency, picks[idx], bare_total, "total")
                total_text[idx], labels["total_form"][idx] = written.texts, written.labels
            case "total_consistent":
                total_text[idx] = [
                    MONEY_FORMS[f](c, cur) for f, c, cur in zip(money_form[idx], cents, currency, strict=True)
                ]
            case "total_na":
                total_text[idx] = "N/A"
            case "total_empty":
                total_text[idx] = [("", None)[p % 2] for p in picked]
            case "total_mismatch_amount":
                total_text[idx] = [
                    MONEY_FORMS[default_money_form(cur)](c + 100 + p % 5000, cur)
                    for c, cur, p in zip(cents, currency, picked, strict=True)
                ]
            case "total_mismatch_currency":
                # Another currency, written: a bare total would be read in the order's own (B).
                total_text[idx] = [
                    f"{amount(c)} {'EUR' if cur == 'USD' else 'USD'}" for c, cur in zip(cents, currency, strict=True)
                ]
            case _:
                total_text[idx] = [("TBD", "see invoice")[p % 2] for p in picked]
        if form in TOTAL_WARNINGS:
            total_warning[idx] = TOTAL_WARNINGS[form]
    # Warnings of a migrated order, in the rules' order: O7 (an order dated before its user registered migrates
    # as written, strict_dates off), the currency of a bare unit price (B), then the total (O5).
    currency_warning = np.where(from_product, "currency_from_product", "currency_assumed")
    warning = [
        array_literal(
            [
                *(["order_before_registration"] if early else []),
                *([str(currency)] if is_bare else []),
                *([str(total)] if total else []),
            ]
        )
        for early, is_bare, currency, total in zip(
            (migrated & before).tolist(), bare.tolist(), currency_warning.tolist(), total_warning.tolist(), strict=True
        )
    ]

    # ---- derived patterns: what followed from other rows ----
    user_form = forms["user_form"]
    user_codes = catalogue.codes(TABLE, "user_form")
    user_form[(user_form == user_codes["order_user_email"]) & ~email_valid] = user_codes["order_user_email_invalid"]
    merged_user = user_ok & (resolved_user != user + 1)
    user_form[merged_user] = user_codes["order_user_merged"]
    # Drawn before a registration day the rules cannot read: O7 is skipped, the date is read as written.
    date_codes = catalogue.codes(TABLE, "date_form")
    unchecked = (forms["date_form"] == date_codes["order_date_before_registration"]) & ~before
    pick_form = picks % 3
    for inner_form, pick in (("order_date_iso_date", 0), ("order_date_us_ampm", 1), ("order_date_iso_seconds", 2)):
        forms["date_form"][unchecked & (pick_form == pick)] = date_codes[inner_form]
    price_codes = catalogue.codes(TABLE, "unit_price_form")
    assumed = (forms["unit_price_form"] == price_codes["unit_price_wild_bare"]) & ~from_product
    forms["unit_price_form"][assumed] = price_codes["unit_price_wild_bare_assumed"]
    product_codes = catalogue.codes(TABLE, "product_form")
    forms["product_form"][shared & ~ambiguous] = product_codes["order_product_shared_name"]
    forms["product_form"][ambiguous] = product_codes["order_product_shared_ambiguous"]

    # ---- double submits: a copy of the row before, merged into it (O3) ----
    row_codes = catalogue.codes(TABLE, "row_form")
    drawn = forms["row_form"] == row_codes["order_double_submit"]
    copy = drawn.copy()
    copy[0] = False
    copy[1:] &= ~drawn[:-1] & migrated[:-1]
    forms["row_form"][drawn & ~copy] = row_codes["order_single"]
    source = np.arange(n)
    source[copy] -= 1
    for column in FORM_COLUMNS:
        if column != "row_form":
            forms[column] = forms[column][source]
    row_grammar = [grammar_text(**{column: labels[column][k] for column in WILD_COLUMNS}) for k in source.tolist()]

    form_names = {column: catalogue.decode(TABLE, column, codes) for column, codes in forms.items()}
    ids = batch.ids.tolist()
    legacy_rows = list(
        zip(
            ids,
            user_text[source].tolist(),
            date_text[source].tolist(),
            status_text[source].tolist(),
            product_text[source].tolist(),
            quantity[source].tolist(),
            price_text[source].tolist(),
            total_text[source].tolist(),
            strict=True,
        )
    )
    ordered_texts = timestamp_texts(np.where(migrated, ordered, NULL))
    statuses = np.array(STATUSES, dtype=object)[batch.status]
    answer_rows: list[tuple[object, ...]] = []
    for i in range(n):
        row_forms = [form_names[column][i] for column in FORM_COLUMNS]
        if copy[i]:
            answer_rows.append(
                (ids[i], "merged", "duplicate_order", ids[i - 1], *([None] * 8), "{}", *row_forms, row_grammar[i])
            )
        elif migrated[i]:
            answer_rows.append(
                (
                    ids[i],
                    "migrated",
                    None,
                    None,
                    int(resolved_user[i]),
                    int(resolved_product[i]),
                    statuses[i],
                    ordered_texts[i],
                    int(quantity_number[i]),
                    amount(int(price_cents[i])),
                    price_currency[i],
                    amount(int(total_cents[i])),
                    warning[i],
                    *row_forms,
                    row_grammar[i],
                )
            )
        else:
            answer_rows.append((ids[i], "rejected", reason[i], None, *([None] * 8), "{}", *row_forms, row_grammar[i]))
    return RenderedOrders(legacy_rows, answer_rows, form_names)


# ---- the canonical orders ------------------------------------------------------------------------------------

STATUS_WEIGHTS = np.array([0.12, 0.1, 0.2, 0.45, 0.08, 0.05])
QUANTITY_WEIGHTS = np.array([0.45, 0.25, 0.15, 0.1, 0.05])
PriceFits = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
CONDITIONAL_PRICES: tuple[tuple[str, PriceFits], ...] = (
    # pattern, whether it fits (cents, currency, whether the product shares its name)
    ("unit_price_free", lambda cents, cur, shared: (cents == 0) & (cur == "USD")),
    ("unit_price_thousands_us", lambda cents, cur, shared: (cents >= 100_000) & (cur == "USD")),
    ("unit_price_thousands_eu", lambda cents, cur, shared: (cents >= 100_000) & (cur == "EUR")),
    ("unit_price_euro_comma", lambda cents, cur, shared: cur == "EUR"),
    ("unit_price_integer", lambda cents, cur, shared: (cents % 100 == 0) & (cur == "USD")),
    # Not where the name is shared: whether `¥1500`, an amount with a currency the rules refuse, picks one of two
    # products by its amount (O2) the rules do not say.
    (
        "unit_price_wild_shared_symbol",
        lambda cents, cur, shared: np.isin(cur, grammar.SHARED_SYMBOL_CURRENCIES) & ~shared,
    ),
)


def plan_orders(
    rng: np.random.Generator,
    first_id: int,
    count: int,
    profile: Profile,
    users: UserIndex,
    products: ProductIndex,
) -> tuple[OrderBatch, dict[str, np.ndarray], np.ndarray]:
    """A chunk of canonical orders with ids first_id.., their drawn forms and picks."""
    user = rng.integers(0, len(users.usernames), size=count, dtype=np.int64)
    nameable = np.flatnonzero(products.migrated)
    product = nameable[rng.integers(0, len(nameable), size=count)]
    registered = users.registered_at[user]
    if profile == "wild":
        # The legacy app dated orders without looking at the registration: uniform over its whole life (O7).
        ordered = START + (rng.random(count) * (END - START)).astype(np.int64)
    else:
        # Uniform between the registration and the end of the legacy app's life.
        ordered = registered + (rng.random(count) * (END - registered)).astype(np.int64)
    forms = catalogue.draw(rng, TABLE, profile, count)
    mdy = forms["date_form"] == catalogue.code("order_date_mdy_day_over_12")
    day = np.array(civil(ordered)[2])
    ordered = np.where(mdy & (day <= 12), ordered + 13 * DAY, ordered)
    # Forms that only fit some amounts are tried on those, at their own rate; lost prices stay lost.
    price_form = forms["unit_price_form"]
    lost = np.isin(
        price_form,
        [catalogue.code(f) for f in ("unit_price_missing", "unit_price_negative", "unit_price_unreadable")],
    )
    cents, currency = products.true_cents[product], products.true_currency[product].astype(str)
    assigned = lost.copy()
    shared = products.partner[product] >= 0
    for pattern_id, fits in CONDITIONAL_PRICES:
        rate = catalogue.BY_ID[pattern_id].rate(profile)
        if not rate:
            continue  # not drawn in this profile: no random numbers spent on it, so the others' stay as they were
        hit = fits(cents, currency, shared) & ~assigned & (rng.random(count) < rate)
        price_form[hit] = catalogue.code(pattern_id)
        assigned |= hit
    batch = OrderBatch(
        ids=np.arange(first_id, first_id + count, dtype=np.int64),
        user=user,
        product=product,
        ordered_at=ordered,
        quantity=rng.choice(np.arange(1, 6), size=count, p=QUANTITY_WEIGHTS),
        status=rng.choice(len(STATUSES), size=count, p=STATUS_WEIGHTS),
    )
    return batch, forms, rng.integers(0, np.iinfo(np.int32).max, size=count)
