"""The dirt catalogue: every way the seeder writes a value into the legacy tables, at what rate, and what follows.

One list is the source for the generator (which pattern each value gets), the answer key (each row names the
pattern of each of its values), the score report (one line per pattern) and docs/dirt-catalogue.md
(`python -m seeder catalogue` prints it). Expected handling follows docs/cleaning-rules.md, rule for rule.

Patterns are grouped in *columns*: one column per legacy field (or per row-level trait), and every legacy row
gets exactly one pattern of each column of its table. In each column one pattern is the default: it takes the
rate the others leave. A pattern that cannot apply to a value (a thousands separator on a price under 1,000)
falls back to its column's default, so realized rates can be a little lower than the configured ones.
Derived patterns are never drawn: they name what follows from other rows (an order naming a merged user).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from loader.core.contract import LEGACY_TABLES, LegacyTableName
from seeder import grammar

Profile = Literal["legacy", "dirty", "wild"]
PROFILES: tuple[Profile, ...] = ("legacy", "dirty", "wild")
DEFAULT_PROFILE: Profile = "dirty"
LegacyTable = LegacyTableName


@dataclass(frozen=True)
class Pattern:
    id: str
    table: LegacyTable
    column: str
    # The target value the pattern puts to the test: a field ("users.email"), every field of a target table
    # ("addresses"), or None where only the row's outcome and reason say whether it was handled.
    field: str | None
    example: str
    recoverable: bool
    handling: str
    reason: str | None = None
    # `dataclasses.field`, since the bare name is the attribute above inside the class body.
    rates: Mapping[Profile, float] = dataclasses.field(default_factory=dict)
    default: bool = False
    derived: bool = False
    # Tried only on the values it fits (a thousands group on 1,000 and more), at its rate among those.
    conditional: bool = False

    def rate(self, profile: Profile) -> float:
        return float(self.rates.get(profile, 0.0))


def _p(
    id: str,
    table: LegacyTable,
    column: str,
    target: str | None,
    example: str,
    handling: str,
    *,
    recoverable: bool = True,
    reason: str | None = None,
    legacy: float = 0.0,
    dirty: float = 0.0,
    wild: float | None = None,
    default: bool = False,
    derived: bool = False,
    conditional: bool = False,
) -> Pattern:
    # The wild profile writes what the dirty one does, except in the columns its grammar takes over.
    rates: dict[Profile, float] = {"legacy": legacy, "dirty": dirty, "wild": dirty if wild is None else wild}
    return Pattern(
        id, table, column, target, example, recoverable, handling, reason, rates, default, derived, conditional
    )


USR: LegacyTable = "old_users"
PRD: LegacyTable = "old_products"
ORD: LegacyTable = "old_orders"
_MIGRATED = "migrated with the true value"

PATTERNS: tuple[Pattern, ...] = (
    # ---- old_users -------------------------------------------------------------------------------------------
    _p("user_single", USR, "row_form", None, "one registration per person", "migrated", default=True),
    _p(
        "user_duplicate_registration", USR, "row_form", None,
        "`ann@mail.com` (id 7), `ANN@MAIL.COM` (id 90)",
        "merged into the lowest id with the same normalized email (U1)",
        reason="duplicate_email", dirty=0.02,
    ),
    _p("email_clean", USR, "email_form", "users.email", "`ann.lee7@gmail.com`", _MIGRATED, default=True),
    _p("email_mixed_case", USR, "email_form", "users.email", "`Ann.Lee7@Gmail.Com` → `ann.lee7@gmail.com`",
       "lower-cased (E1)", dirty=0.05),
    _p("email_spaces", USR, "email_form", "users.email", "`  ann.lee7@gmail.com ` → `ann.lee7@gmail.com`",
       "trimmed (E1)", dirty=0.04),
    _p("email_no_at", USR, "email_form", "users.email", "`ann.lee7gmail.com`", "email NULL (E2)",
       recoverable=False, reason="email_invalid", dirty=0.015),
    _p("email_two_at", USR, "email_form", "users.email", "`ann.lee7@@gmail.com`", "email NULL (E2)",
       recoverable=False, reason="email_invalid", dirty=0.015),
    _p("email_trailing_dot", USR, "email_form", "users.email", "`ann.lee7@gmail.com.`", "email NULL (E2)",
       recoverable=False, reason="email_invalid", dirty=0.015),
    _p("email_inner_space", USR, "email_form", "users.email", "`ann lee7@gmail.com`", "email NULL (E2)",
       recoverable=False, reason="email_invalid", dirty=0.015),
    _p("email_null", USR, "email_form", "users.email", "NULL", "email NULL, no warning",
       recoverable=False, legacy=0.03, dirty=0.03),
    _p("reg_iso_minute", USR, "registration_form", "users.registered_at", "`2021-03-04 13:05`",
       "read to the minute (T1)", default=True),
    _p("reg_iso_seconds", USR, "registration_form", "users.registered_at", "`2021-03-04 13:05:09`",
       "read to the second (T1)", dirty=0.06, wild=0),
    _p("reg_iso_t", USR, "registration_form", "users.registered_at", "`2021-03-04T13:05:09`",
       "read to the second (T1)", dirty=0.04, wild=0),
    _p("reg_iso_date", USR, "registration_form", "users.registered_at", "`2021-03-04` → 2021-03-04 00:00",
       "read to the day (T1)", dirty=0.04, wild=0),
    _p("reg_dmy", USR, "registration_form", "users.registered_at", "`04/03/2021` → 2021-03-04 00:00",
       "slash date alone is day-first, read to the day (T2)", dirty=0.06, wild=0),
    _p("reg_us_ampm", USR, "registration_form", "users.registered_at", "`03/04/2021 01:05 PM` → 2021-03-04 13:05",
       "slash date with AM/PM is month-first (T2)", dirty=0.06, wild=0),
    _p("reg_epoch", USR, "registration_form", "users.registered_at", "`1614863109` → 2021-03-04 13:05:09",
       "epoch seconds read as UTC (T1)", dirty=0.05, wild=0),
    _p("reg_na", USR, "registration_form", "users.registered_at", "`N/A`",
       "NULL marker: registered_at NULL, no warning (C1)", recoverable=False, dirty=0.03),
    _p("reg_empty", USR, "registration_form", "users.registered_at", "`''`",
       "blank: registered_at NULL, no warning (C1)", recoverable=False, dirty=0.03),
    _p("reg_impossible", USR, "registration_form", "users.registered_at", "`2021-02-30 13:05`, `31/04/2021`",
       "unreadable: registered_at NULL (T1, U3)", recoverable=False, reason="registration_date_invalid", dirty=0.04,
       wild=0),
    _p("reg_wild", USR, "registration_form", "users.registered_at",
       "`March 4th, 2021 1:05 PM`, `4 de marzo de 2021`, `2021.3.4 13:05`, `04-MAR-2021`, `2021-03-04T13:05:09Z`",
       "read at the precision written (A); see *The wild profile* below", wild=0.82),
    _p("reg_wild_ambiguous_slash", USR, "registration_form", "users.registered_at",
       "`03/04/2021` for 4 March → 2021-04-03 00:00",
       "read day-first (T2): the month-first date written is lost, the expected value is the rule's reading",
       recoverable=False, wild=0.02),
    _p("reg_wild_two_digit_year", USR, "registration_form", "users.registered_at", "`04/03/21`, `4 Mar 21`",
       "refused (A): registered_at NULL (U3)", recoverable=False, reason="registration_date_invalid", wild=0.02),
    _p("reg_wild_impossible", USR, "registration_form", "users.registered_at",
       "`30 de feb de 2021`, `2021/2/30`, `31.04.2021`", "refused (A): registered_at NULL (U3)",
       recoverable=False, reason="registration_date_invalid", wild=0.03),
    _p("name_clean", USR, "name_form", "users.full_name", "`Ann Lee`", _MIGRATED, default=True),
    _p("name_extra_spaces", USR, "name_form", "users.full_name", "`  Ann   Lee ` → `Ann Lee`",
       "single spaces (C1, N1)", dirty=0.07),
    _p("name_last_first", USR, "name_form", "users.full_name", "`Lee, Ann` → `Ann Lee`", "turned round (N1)",
       dirty=0.07),
    _p("name_all_caps", USR, "name_form", "users.full_name", "`ANN MCLEE` → `Ann Mclee`",
       "title case of the rule (N1): inner capitals are lost, the expected value is the rule's output",
       recoverable=False, dirty=0.06),
    _p("name_last_first_caps", USR, "name_form", "users.full_name", "`LEE,  ANN` → `Ann Lee`",
       "turned round and title-cased (N1)", recoverable=False, dirty=0.05),
    _p("text_plain", USR, "text_form", "users.full_name", "`Ann Lee`", _MIGRATED, default=True),
    _p("text_non_ascii", USR, "text_form", "users.full_name", "`Łukasz Piaścik`", "kept as written",
       dirty=0.10),
    _p("text_quotes", USR, "text_form", "users.full_name", "`Ann O'Brien`, `Robert \"Bob\" Lee`",
       "kept as written", dirty=0.03),
    _p("text_sql_like", USR, "text_form", "users.full_name", "`Bobby '); drop table users; --`",
       "kept as written: plain text, never SQL", dirty=0.01),
    _p("phone_dashes", USR, "phone_form", "users.phone", "`555-201-1234` → `+15552011234`",
       "E.164 (P1)", default=True),
    _p("phone_parens", USR, "phone_form", "users.phone", "`(555)201-1234`, `(555) 201-1234`", "E.164 (P1)",
       legacy=0.2, dirty=0.15),
    _p("phone_dots", USR, "phone_form", "users.phone", "`555.201.1234`", "E.164 (P1)", legacy=0.2, dirty=0.12),
    _p("phone_digits", USR, "phone_form", "users.phone", "`5552011234`", "E.164 (P1)", legacy=0.1, dirty=0.08),
    _p("phone_plus1", USR, "phone_form", "users.phone", "`+1-555-201-1234`", "E.164 (P1)", legacy=0.1,
       dirty=0.08),
    _p("phone_leading_1", USR, "phone_form", "users.phone", "`1-555-201-1234`", "E.164 (P1)", dirty=0.04),
    _p("phone_leading_00", USR, "phone_form", "users.phone", "`001-555-201-1234`", "E.164 (P1)", legacy=0.1,
       dirty=0.05),
    _p("phone_extension", USR, "phone_form", "users.phone", "`(555) 201-1234 x123`",
       "kept as written (P1)", recoverable=False, reason="phone_not_normalized", legacy=0.08, dirty=0.07),
    _p("phone_cut_20", USR, "phone_form", "users.phone", "`+1-555-201-1234 x12345` stored as `+1-555-201-1234 x123`",
       "kept as written (P1)", recoverable=False, reason="phone_not_normalized", legacy=0.02, dirty=0.03),
    _p("phone_short", USR, "phone_form", "users.phone", "`201-1234` (7 digits)", "kept as written (P1)",
       recoverable=False, reason="phone_not_normalized", dirty=0.03),
    _p("phone_null", USR, "phone_form", "users.phone", "NULL", "phone NULL, no warning", recoverable=False,
       dirty=0.03),
    _p("phone_intl_plus", USR, "phone_form", "users.phone", "`+44 20 7946 0958` → `+442079460958`",
       "E.164 (P1); drawn for the 5% of people abroad", dirty=0.0, derived=True),
    _p("phone_intl_00", USR, "phone_form", "users.phone", "`0044 20 7946 0958` → `+442079460958`",
       "E.164 (P1); drawn for the 5% of people abroad", dirty=0.0, derived=True),
    _p("address_standard", USR, "address_kind", "addresses", "`4 Oak St Apt. 3, Springfield, IL 62701, USA`",
       _MIGRATED, default=True),
    _p("address_apartment", USR, "address_kind", "addresses",
       "`1 Main St, Apt. 2, Springfield, IL 62701, USA` → street `1 Main St, Apt. 2`",
       "street keeps its commas (A1)", dirty=0.15),
    _p("address_po_box", USR, "address_kind", "addresses", "`PO Box 1234, Springfield, IL 62701-0042, USA`",
       "split (A1)", dirty=0.05),
    _p("address_military", USR, "address_kind", "addresses",
       "`PSC 1234, Box 5678, APO AA 12345, USA` → street `PSC 1234, Box 5678`, city `APO`, state `AA`",
       "military split (A1)", dirty=0.10),
    _p("address_clean", USR, "address_form", "addresses", "`…, IL 62701, USA` → country `USA`, code `US`",
       "split (A1); country as written, country_code by country_names (D)", default=True),
    _p("address_country_variant", USR, "address_form", "addresses",
       "`…, U.S.A.`, `united states of america`, `Estados Unidos` → code `US`",
       "country as written, country_code mapped by country_names (A1, D)", dirty=0.12, wild=0),
    _p("address_country_unknown", USR, "address_form", "addresses", "`…, IL 62701, Amerika`",
       "country kept as written, country_code NULL (A1, D)", recoverable=False, reason="country_unknown",
       dirty=0.03, wild=0),
    _p("address_no_country", USR, "address_form", "addresses", "`1 Main St, Springfield, IL 62701`",
       "country NULL, the rest split (A1)", recoverable=False, dirty=0.05),
    _p("address_stray_spaces", USR, "address_form", "addresses",
       "`  1  Main St ,Springfield,  IL  62701 , USA ` → `1 Main St`, `Springfield`, `IL`, `62701`",
       "parts trimmed, inner spaces single (A1); address_raw kept as written", dirty=0.06),
    _p("address_no_street", USR, "address_form", "addresses", "`Springfield, IL 62701, USA`",
       "street NULL, the rest split (A1)", recoverable=False, dirty=0.03),
    _p("address_no_state_zip", USR, "address_form", "addresses", "`1 Main St, Springfield, USA`",
       "parts NULL, address_raw kept (A1)", recoverable=False, reason="address_not_split", dirty=0.03),
    _p("address_null", USR, "address_form", "addresses", "NULL", "no address row",
       recoverable=False, legacy=0.02, dirty=0.03),
    _p("address_country_wild", USR, "address_form", "addresses",
       "`…, IL 62701, DEU`, `…, côte d'ivoire`, `…, U.K.`, `…,  UNITED   KINGDOM `",
       "country as written (squished), country_code by country_names (A1, D)", wild=0.62),
    _p("address_country_wild_unknown", USR, "address_form", "addresses", "`…, IL 62701, ATLANTIS`",
       "country as written, country_code NULL (A1, D)", recoverable=False, reason="country_unknown", wild=0.02),
    # ---- old_products ----------------------------------------------------------------------------------------
    _p("product_single", PRD, "row_form", None, "a name no other product has", "migrated", default=True),
    _p("product_shared_name", PRD, "row_form", None, "`Oak Table` at 120.00 and `Oak Table` at 95.50",
       "both migrated; orders find theirs by unit price (O2)", dirty=0.04),
    _p("product_shared_name_same_price", PRD, "row_form", None, "`Oak Table` at 120.00, twice",
       "both migrated; orders naming them are product_ambiguous (O2)", dirty=0.01),
    _p("product_name_clean", PRD, "name_form", "products.name", "`Oak Table`", _MIGRATED, default=True),
    _p("product_name_stray_spaces", PRD, "name_form", "products.name", "`  Oak Table ` → `Oak Table`",
       "trimmed (C1)", dirty=0.06),
    _p("product_name_missing", PRD, "name_form", None, "`''`, `'   '`, `N/A`", "rejected (R1)",
       recoverable=False, reason="product_name_missing", dirty=0.03),
    _p("product_text_plain", PRD, "text_form", "products.name", "`Oak Table`", _MIGRATED, default=True),
    _p("product_text_non_ascii", PRD, "text_form", "products.name", "`Crème Piñata`", "kept as written",
       dirty=0.06),
    _p("product_text_quotes", PRD, "text_form", "products.name", "`Oak's \"Deluxe\" Table`", "kept as written",
       dirty=0.04),
    _p("product_text_sql_like", PRD, "text_form", "products.name", "`Oak Table'); drop table products; --`",
       "kept as written: plain text, never SQL", dirty=0.02),
    _p("description_clean", PRD, "description_form", "products.description", "a sentence", _MIGRATED,
       default=True),
    _p("description_null", PRD, "description_form", "products.description", "NULL", "description NULL",
       recoverable=False, dirty=0.05),
    _p("description_na", PRD, "description_form", "products.description", "`N/A`", "NULL marker: NULL (C1)",
       recoverable=False, dirty=0.05),
    _p("price_plain", PRD, "price_form", "products.price", "`25.99` → 25.99 USD",
       "bare amount: LEGACY_CURRENCY, USD (B)", reason="currency_assumed", default=True),
    _p("price_usd_suffix", PRD, "price_form", "products.price", "`25.99 USD`", "read (M1, M2)", legacy=0.35,
       dirty=0.12, wild=0),
    _p("price_eur_suffix", PRD, "price_form", "products.price", "`100.00 EUR`", "read (M1, M2)", legacy=0.15,
       dirty=0.07, wild=0),
    _p("price_short_decimals", PRD, "price_form", "products.price", "`12.5 USD` → 12.50 USD", "read (M1, M2)",
       dirty=0.05, wild=0),
    _p("price_dollar", PRD, "price_form", "products.price", "`$12.50`", "read (M1, M2)", dirty=0.06, wild=0),
    _p("price_euro_comma", PRD, "price_form", "products.price", "`€12,50` → 12.50 EUR", "decimal comma (M1)",
       dirty=0.05, wild=0),
    _p("price_thousands_us", PRD, "price_form", "products.price", "`1,234.56` → 1234.56 USD",
       "thousands group (M1); bare: USD (B)", reason="currency_assumed", dirty=0.04, wild=0),
    _p("price_thousands_eu", PRD, "price_form", "products.price", "`1.234,56 EUR` → 1234.56 EUR",
       "thousands group and decimal comma (M1)", dirty=0.03, wild=0),
    _p("price_integer", PRD, "price_form", "products.price", "`12` → 12.00 USD", "read (M1); bare: USD (B)",
       reason="currency_assumed", dirty=0.04, wild=0),
    _p("price_free", PRD, "price_form", "products.price", "`free` → 0.00 USD",
       "`free` is 0.00 (M1), a bare amount: USD (B)", reason="currency_assumed", dirty=0.02),
    _p("price_na", PRD, "price_form", "products.price", "`N/A`", "missing: price and currency NULL, no warning",
       recoverable=False, dirty=0.04),
    _p("price_empty", PRD, "price_form", "products.price", "`''`", "missing: price and currency NULL, no warning",
       recoverable=False, dirty=0.03),
    _p("price_negative", PRD, "price_form", "products.price", "`-12.50`", "price and currency NULL (M3, R3)",
       recoverable=False, reason="price_negative", dirty=0.03),
    _p("price_unreadable", PRD, "price_form", "products.price", "`TBD`, `9.9999`, `12345678901.00`",
       "price and currency NULL (M1, R3)", recoverable=False, reason="price_invalid", dirty=0.03),
    _p("price_wild_bare", PRD, "price_form", "products.price", "`1,234.56`, `12,50`, `12.5` (USD prices)",
       "bare amount: LEGACY_CURRENCY, USD (B); the legacy app's own habit", reason="currency_assumed", wild=0.50),
    _p("price_wild", PRD, "price_form", "products.price",
       "`EUR 12.50`, `12,50€`, `£3.20`, `gbp 3.20`, `CHF 10`, `12.50 euros`, `JPY1500`, `₹1.234,56`",
       "read (M1, B): any ISO 4217 code, or a symbol or word of one currency, before or after, any case",
       wild=0.30),
    _p("price_wild_shared_symbol", PRD, "price_form", "products.price", "`¥1500`, `100 kr`",
       "price and currency NULL: a symbol several currencies share, none LEGACY_CURRENCY (B, R3)",
       recoverable=False, reason="price_invalid", wild=0.02),
    _p("category_legacy", PRD, "category_form", "products.category", "`Books`, `libros`, ` ropa `",
       "mapped by category_synonyms (R2)", default=True),
    _p("category_upper", PRD, "category_form", "products.category", "`ELECTRONICS`", "mapped (R2)", dirty=0.05, wild=0),
    _p("category_lower", PRD, "category_form", "products.category", "`home goods`", "mapped (R2)", dirty=0.05, wild=0),
    _p("category_spacing", PRD, "category_form", "products.category", "`  Home   Goods `", "mapped (R2)",
       dirty=0.05, wild=0),
    _p("category_spanish", PRD, "category_form", "products.category", "`Electrónica`, `hogar`, `Deportes`",
       "mapped (R2)", dirty=0.08, wild=0),
    _p("category_synonym", PRD, "category_form", "products.category", "`clothing`, `Book`", "mapped (R2)",
       dirty=0.05, wild=0),
    _p("category_typo", PRD, "category_form", "products.category", "`electroncs`, `boks`, `sprots`",
       "mapped (R2)", dirty=0.05, wild=0),
    _p("category_unknown", PRD, "category_form", "products.category", "`Gadgets`", "category NULL (R2)",
       recoverable=False, reason="category_unknown", dirty=0.04, wild=0),
    _p("category_null", PRD, "category_form", "products.category", "NULL", "category NULL, no warning",
       recoverable=False, dirty=0.03),
    _p("category_wild", PRD, "category_form", "products.category",
       "`HOME-GOODS`, `electronica.`, `Home_Goods`, `  DePoRtEs `, `Libros!`",
       "mapped by category_synonyms after folding case, accents, spaces and punctuation (R2, C)", wild=0.85),
    _p("category_wild_unknown", PRD, "category_form", "products.category", "`GADGETS!`, `toys_&_games`",
       "category NULL (R2, C)", recoverable=False, reason="category_unknown", wild=0.04),
    _p("created_dmy", PRD, "created_form", "products.created_at", "`04/03/2021` → 2021-03-04 00:00",
       "slash date alone is day-first (T2)", default=True),
    _p("created_iso_date", PRD, "created_form", "products.created_at", "`2021-03-04`", "read to the day (T1)",
       dirty=0.08, wild=0),
    _p("created_iso_minute", PRD, "created_form", "products.created_at", "`2021-03-04 13:05`",
       "read to the minute (T1)", dirty=0.08, wild=0),
    _p("created_epoch", PRD, "created_form", "products.created_at", "`1614863109`", "read as UTC (T1)",
       dirty=0.06, wild=0),
    _p("created_mdy_day_over_12", PRD, "created_form", "products.created_at", "`03/24/2021` → 2021-03-24",
       "a number above 12 decides (T2)", dirty=0.06, wild=0),
    _p("created_impossible", PRD, "created_form", "products.created_at", "`30/02/2021`",
       "created_at NULL (R3)", recoverable=False, reason="created_date_invalid", dirty=0.05, wild=0),
    _p("created_na", PRD, "created_form", "products.created_at", "`N/A`", "NULL marker: NULL, no warning (C1)",
       recoverable=False, dirty=0.05),
    _p("created_wild", PRD, "created_form", "products.created_at",
       "`4 March 2021`, `2021/03/04`, `04.03.2021 13:05`, `marzo 4, 2021`, `1614863109`",
       "read at the precision written (A)", wild=0.80),
    _p("created_wild_ambiguous_slash", PRD, "created_form", "products.created_at",
       "`03/04/2021` for 4 March → 2021-04-03 00:00",
       "read day-first (T2): the month-first date written is lost, the expected value is the rule's reading",
       recoverable=False, wild=0.03),
    _p("created_wild_two_digit_year", PRD, "created_form", "products.created_at", "`04.03.21`, `Mar 4, 21`",
       "refused (A): created_at NULL (R3)", recoverable=False, reason="created_date_invalid", wild=0.02),
    _p("created_wild_impossible", PRD, "created_form", "products.created_at", "`Feb 30, 2021`, `2021-13-04`",
       "refused (A): created_at NULL (R3)", recoverable=False, reason="created_date_invalid", wild=0.03),
    # ---- old_orders ------------------------------------------------------------------------------------------
    _p("order_single", ORD, "row_form", None, "one submit", "migrated unless a value below rejects it",
       default=True),
    _p("order_double_submit", ORD, "row_form", None, "order 41 repeated as order 42, every column equal",
       "merged into the lowest id (O3)", reason="duplicate_order", dirty=0.01),
    _p("order_user_username", ORD, "user_form", "orders.user", "`annlee7`", "found by username (O1)",
       default=True),
    _p("order_user_email", ORD, "user_form", "orders.user", "`ann.lee7@gmail.com`", "found by email (O1)",
       legacy=0.10, dirty=0.10),
    _p("order_user_case_spaces", ORD, "user_form", "orders.user", "` ANNLEE7 `, `Ann.Lee7@Gmail.com `",
       "found ignoring case and spaces (O1)", dirty=0.06),
    _p("order_user_unknown", ORD, "user_form", None, "`walk-in customer #12`, `'); drop table users; --`",
       "rejected (O1)", recoverable=False, reason="user_not_found", dirty=0.03),
    _p("order_user_missing", ORD, "user_form", None, "NULL, `''`, `'   '`", "rejected (O1)",
       recoverable=False, reason="user_missing", dirty=0.02),
    _p("order_user_email_invalid", ORD, "user_form", None, "the email of a user whose email is invalid",
       "rejected: the user lost that email (E2, O1)", recoverable=False, reason="user_not_found", derived=True),
    _p("order_user_merged", ORD, "user_form", "orders.user", "the username of a merged duplicate registration",
       "resolved to the surviving user (O1, U1)", derived=True),
    _p("order_product_name", ORD, "product_form", "order_items.product", "`Oak Table`", "found by name (O2)",
       default=True),
    _p("order_product_case_spacing", ORD, "product_form", "order_items.product", "`oak  table`, ` OAK TABLE`",
       "found ignoring case and spacing (O2)", dirty=0.06),
    _p("order_product_unknown", ORD, "product_form", None, "`discontinued item #12`", "rejected (O2)",
       recoverable=False, reason="product_not_found", dirty=0.03),
    _p("order_product_missing", ORD, "product_form", None, "NULL, `''`", "rejected (O2)", recoverable=False,
       reason="product_missing", dirty=0.02),
    _p("order_product_shared_name", ORD, "product_form", "order_items.product",
       "`Oak Table` with unit price 95.50 when two products are called so", "found by name and unit price (O2)",
       derived=True),
    _p("order_product_shared_ambiguous", ORD, "product_form", None,
       "a shared name whose unit price matches both products or neither", "rejected (O2)", recoverable=False,
       reason="product_ambiguous", derived=True),
    _p("order_date_iso_date", ORD, "date_form", "orders.ordered_at", "`2021-03-04` → 2021-03-04 00:00",
       "read to the day (T1)", default=True),
    _p("order_date_us_ampm", ORD, "date_form", "orders.ordered_at", "`03/04/2021 01:05 PM` → 2021-03-04 13:05",
       "month-first (T2)", legacy=0.4, dirty=0.25, wild=0),
    _p("order_date_iso_minute", ORD, "date_form", "orders.ordered_at", "`2021-03-04 13:05`",
       "read to the minute (T1)", dirty=0.05, wild=0),
    _p("order_date_iso_seconds", ORD, "date_form", "orders.ordered_at", "`2021-03-04 13:05:09`",
       "read to the second (T1)", dirty=0.05, wild=0),
    _p("order_date_iso_t", ORD, "date_form", "orders.ordered_at", "`2021-03-04T13:05:09`", "read (T1)",
       dirty=0.03, wild=0),
    _p("order_date_dmy", ORD, "date_form", "orders.ordered_at", "`04/03/2021` → 2021-03-04",
       "day-first (T2)", dirty=0.04, wild=0),
    _p("order_date_mdy_day_over_12", ORD, "date_form", "orders.ordered_at", "`03/24/2021` → 2021-03-24",
       "a number above 12 decides (T2)", dirty=0.03, wild=0),
    _p("order_date_epoch", ORD, "date_form", "orders.ordered_at", "`1614863109`", "read as UTC (T1)", dirty=0.03,
       wild=0),
    _p("order_date_future", ORD, "date_form", None, "`2031-05-06`", "rejected (O6)", recoverable=False,
       reason="order_date_in_future", dirty=0.02),
    _p("order_date_before_registration", ORD, "date_form", None, "a day before the user registered",
       "migrated as written, with a warning (O7); recounted under its date's own form where the registration "
       "date is unknown", recoverable=False, reason="order_before_registration", dirty=0.02, wild=0),
    _p("order_date_missing", ORD, "date_form", None, "`N/A`, `''`, NULL", "rejected (O4)", recoverable=False,
       reason="order_date_missing", dirty=0.02),
    _p("order_date_impossible", ORD, "date_form", None, "`2022-02-30`, `2022-13-01`, `02/30/2022 10:15 AM`",
       "rejected (O4)", recoverable=False, reason="order_date_invalid", dirty=0.02, wild=0),
    _p("order_date_wild", ORD, "date_form", "orders.ordered_at",
       "`Mar. 4th, 2021`, `4 de marzo de 2021`, `2021/3/4 1:05 PM`, `04.03.2021 13:05`, `2021-03-04T13:05Z`",
       "read at the precision written (A); dated independently of the registration, as the legacy app did, so "
       "about half come before it and migrate with `order_before_registration` (O7)", wild=0.84),
    _p("order_date_wild_ambiguous_slash", ORD, "date_form", "orders.ordered_at",
       "`03/04/2021` for 4 March → 2021-04-03 00:00",
       "read day-first (T2): the month-first date written is lost, the expected value is the rule's reading",
       recoverable=False, wild=0.02),
    _p("order_date_wild_two_digit_year", ORD, "date_form", None, "`03/04/21 1:05 PM`, `04-MAR-21`",
       "refused (A): rejected (O4)", recoverable=False, reason="order_date_invalid", wild=0.02),
    _p("order_date_wild_impossible", ORD, "date_form", None, "`31 de feb de 2022`, `2022/2/30`, `31.04.2022`",
       "refused (A): rejected (O4)", recoverable=False, reason="order_date_invalid", wild=0.02),
    _p("quantity_ok", ORD, "quantity_form", "order_items.quantity", "`3`", _MIGRATED, default=True),
    _p("quantity_boundary", ORD, "quantity_form", "order_items.quantity", "`1000`", "the largest plausible (O4)",
       dirty=0.005),
    _p("quantity_null", ORD, "quantity_form", None, "NULL", "rejected (O4)", recoverable=False,
       reason="quantity_missing", dirty=0.015),
    _p("quantity_zero", ORD, "quantity_form", None, "`0`", "rejected (O4)", recoverable=False,
       reason="quantity_not_positive", dirty=0.01),
    _p("quantity_negative", ORD, "quantity_form", None, "`-2`", "rejected (O4)", recoverable=False,
       reason="quantity_not_positive", dirty=0.01),
    _p("quantity_absurd", ORD, "quantity_form", None, "`5000`, `99999`", "rejected (O4)", recoverable=False,
       reason="quantity_implausible", dirty=0.01),
    _p("status_legacy", ORD, "status_form", "orders.status", "`pending`, `Shipped`, `PROCESSING`, `Returned?`",
       "mapped by status_synonyms (O4)", default=True),
    _p("status_case", ORD, "status_form", "orders.status", "`DeLiVeReD`, `CANCELLED`", "mapped (O4)",
       dirty=0.08, wild=0),
    _p("status_spaces", ORD, "status_form", "orders.status", "`  shipped `", "mapped (O4)", dirty=0.04, wild=0),
    _p("status_spanish", ORD, "status_form", "orders.status", "`enviado`, `En Proceso`, `devuelto`", "mapped (O4)",
       dirty=0.06, wild=0),
    _p("status_synonym", ORD, "status_form", "orders.status", "`canceled`, `refunded`", "mapped (O4)",
       dirty=0.03, wild=0),
    _p("status_unknown", ORD, "status_form", None, "`on hold`, `lost`", "rejected (O4)", recoverable=False,
       reason="status_unknown", dirty=0.03, wild=0),
    _p("status_wild", ORD, "status_form", "orders.status", "`SHIPPED.`, `en_proceso`, `Canceled!`, `  DeLiVeReD `",
       "mapped by status_synonyms after folding case, accents, spaces and punctuation (O4, C)", wild=0.85),
    _p("status_wild_unknown", ORD, "status_form", None, "`ON-HOLD`, `lost.`, `Awaiting_Stock`", "rejected (O4, C)",
       recoverable=False, reason="status_unknown", wild=0.03),
    _p("unit_price_plain", ORD, "unit_price_form", "order_items.unit_price", "`25.99`",
       "bare: the currency its product's price names (`currency_from_product`), else USD (`currency_assumed`) (B)",
       default=True),
    _p("unit_price_usd_suffix", ORD, "unit_price_form", "order_items.unit_price", "`25.99 USD`", "read",
       legacy=0.4, dirty=0.12, wild=0),
    _p("unit_price_eur_suffix", ORD, "unit_price_form", "order_items.unit_price", "`100.00 EUR`",
       "read; the default of EUR prices", legacy=0.0, dirty=0.0, derived=True),
    _p("unit_price_short_decimals", ORD, "unit_price_form", "order_items.unit_price", "`12.5 USD`", "read",
       dirty=0.05, wild=0),
    _p("unit_price_dollar", ORD, "unit_price_form", "order_items.unit_price", "`$12.50`", "read", dirty=0.06,
       wild=0),
    _p("unit_price_euro_comma", ORD, "unit_price_form", "order_items.unit_price", "`€12,50`", "read (EUR only)",
       dirty=0.3, wild=0, conditional=True),
    _p("unit_price_thousands_us", ORD, "unit_price_form", "order_items.unit_price", "`1,234.56`",
       "read (1,000 and more); bare, as `unit_price_plain`", dirty=0.3, wild=0, conditional=True),
    _p("unit_price_thousands_eu", ORD, "unit_price_form", "order_items.unit_price", "`1.234,56 EUR`",
       "read (EUR, 1,000 and more)", dirty=0.3, wild=0, conditional=True),
    _p("unit_price_integer", ORD, "unit_price_form", "order_items.unit_price", "`12`",
       "read (whole amounts); bare, as `unit_price_plain`", dirty=0.3, wild=0, conditional=True),
    _p("unit_price_free", ORD, "unit_price_form", "order_items.unit_price", "`free` → 0.00",
       "read (free products); bare, as `unit_price_plain`", dirty=0.5, conditional=True),
    _p("unit_price_missing", ORD, "unit_price_form", None, "`N/A`, `''`, NULL", "rejected (O4)", recoverable=False,
       reason="unit_price_missing", dirty=0.02),
    _p("unit_price_negative", ORD, "unit_price_form", None, "`-12.50`", "rejected (M3, O4)", recoverable=False,
       reason="unit_price_invalid", dirty=0.01),
    _p("unit_price_unreadable", ORD, "unit_price_form", None, "`TBD`, `9.9999`", "rejected (M1, O4)",
       recoverable=False, reason="unit_price_invalid", dirty=0.01),
    _p("unit_price_wild_bare", ORD, "unit_price_form", "order_items.unit_price",
       "`1.234,56` for a product priced `EUR 1234.56`, `12.5` for one priced `£12.50`",
       "bare: the currency its product's price names (B); the legacy app's habit", reason="currency_from_product",
       wild=0.60),
    _p("unit_price_wild_bare_assumed", ORD, "unit_price_form", "order_items.unit_price",
       "`12.50` for a product whose price names no currency", "bare: USD (B)", reason="currency_assumed",
       derived=True),
    _p("unit_price_wild", ORD, "unit_price_form", "order_items.unit_price",
       "`EUR 12.50`, `12,50€`, `gbp 3.20`: its product's price in the same currency, in any grammar",
       "read (M1, B)", wild=0.30),
    _p("unit_price_wild_shared_symbol", ORD, "unit_price_form", None, "`¥1500` for a product priced in yen",
       "rejected (B, O4)", recoverable=False, reason="unit_price_invalid", wild=0.3, conditional=True),
    _p("total_consistent", ORD, "total_form", "orders.total_amount", "quantity times unit price, in its format",
       "total = quantity times unit price (O5)", default=True),
    _p("total_na", ORD, "total_form", "orders.total_amount", "`N/A`", "recomputed (O5)", reason="total_missing",
       legacy=0.1, dirty=0.05),
    _p("total_empty", ORD, "total_form", "orders.total_amount", "`''`, NULL", "recomputed (O5)",
       reason="total_missing", dirty=0.02),
    _p("total_mismatch_amount", ORD, "total_form", "orders.total_amount", "`30.00` for 2 x 12.50",
       "recomputed (O5)", reason="total_mismatch", dirty=0.03),
    _p("total_mismatch_currency", ORD, "total_form", "orders.total_amount",
       "`25.00 EUR` for 2 x 12.50 USD, `25.00 USD` for 2 x 12.50 EUR", "recomputed (O5)", reason="total_mismatch",
       dirty=0.01),
    _p("total_unreadable", ORD, "total_form", "orders.total_amount", "`TBD`", "recomputed (O5)",
       reason="total_unreadable", dirty=0.02),
    _p("total_wild", ORD, "total_form", "orders.total_amount",
       "quantity times unit price in the order's currency, bare or marked, in any grammar",
       "total = quantity times unit price (O5); a bare total is compared in the order's currency (B)", wild=0.80),
)  # fmt: skip

BY_ID: dict[str, Pattern] = {pattern.id: pattern for pattern in PATTERNS}
TABLES: tuple[LegacyTable, ...] = LEGACY_TABLES


def columns(table: LegacyTable) -> tuple[str, ...]:
    """The form columns of a legacy table, in catalogue order."""
    seen: dict[str, None] = {}
    for pattern in PATTERNS:
        if pattern.table == table:
            seen.setdefault(pattern.column, None)
    return tuple(seen)


def column_patterns(table: LegacyTable, column: str) -> tuple[Pattern, ...]:
    return tuple(p for p in PATTERNS if p.table == table and p.column == column)


def code(pattern_id: str) -> int:
    """A pattern's position in its column: the small integer the generator draws and renders by."""
    pattern = BY_ID[pattern_id]
    return column_patterns(pattern.table, pattern.column).index(pattern)


def codes(table: LegacyTable, column: str) -> dict[str, int]:
    return {p.id: i for i, p in enumerate(column_patterns(table, column))}


def probabilities(table: LegacyTable, column: str, profile: Profile) -> np.ndarray:
    """Draw probabilities of a column's patterns; the default takes what the others leave, derived ones get 0."""
    patterns = column_patterns(table, column)
    rates = np.array([0.0 if p.default or p.derived or p.conditional else p.rate(profile) for p in patterns])
    (default,) = [i for i, p in enumerate(patterns) if p.default]
    rest = 1.0 - rates.sum()
    if rest < 0:
        raise ValueError(f"{table}.{column}: the {profile} rates add up to more than 1")
    rates[default] = rest
    return rates


def draw(rng: np.random.Generator, table: LegacyTable, profile: Profile, count: int) -> dict[str, np.ndarray]:
    """A pattern code per row for every form column of a table, drawn at the profile's rates."""
    return {
        column: rng.choice(
            len(column_patterns(table, column)), size=count, p=probabilities(table, column, profile)
        ).astype(np.int16)
        for column in columns(table)
    }


def encode(table: LegacyTable, column: str, ids: Sequence[str]) -> np.ndarray:
    """Pattern ids to codes (tests write forms by name)."""
    known = codes(table, column)
    return np.array([known[i] for i in ids], dtype=np.int16)


def decode(table: LegacyTable, column: str, pattern_codes: np.ndarray) -> list[str]:
    names = np.array([p.id for p in column_patterns(table, column)], dtype=object)
    return list(names[pattern_codes])


def groups(table: LegacyTable, column: str, pattern_codes: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(pattern id, row positions) for each pattern present: renderers work one pattern at a time."""
    for i, pattern in enumerate(column_patterns(table, column)):
        idx = np.flatnonzero(pattern_codes == i)
        if idx.size:
            yield pattern.id, idx


def _check() -> None:
    """The catalogue's own invariants, checked at import: one default per column, unique ids."""
    assert len(BY_ID) == len(PATTERNS), "duplicate pattern ids"
    for table in TABLES:
        for column in columns(table):
            defaults = [p.id for p in column_patterns(table, column) if p.default]
            assert len(defaults) == 1, f"{table}.{column} needs exactly one default, has {defaults}"
            for profile in PROFILES:
                probabilities(table, column, profile)


_check()


def markdown(profile_note: str = "") -> str:
    """docs/dirt-catalogue.md, generated from this module (a test keeps the two equal)."""
    lines = [
        "# Dirt catalogue",
        "",
        "What the seeder (`python -m seeder`) writes into the legacy tables, pattern by pattern: how often, whether",
        "the true value can be recovered, and what the transform must do with it according to",
        "[cleaning-rules.md](cleaning-rules.md). Generated by `python -m seeder catalogue` from `seeder/catalogue.py`;",
        "edit that file, not this one.",
        "",
        "- **Canonical first, then dirt.** The seeder generates people, products and orders with their true values,",
        "  then writes each value through one pattern of each column below. The answer key (schema `answer_key` in",
        "  the legacy database, which the loader never copies) holds, for every legacy row, its expected outcome,",
        "  its expected values and warnings, and the pattern of each of its columns. `make score` compares",
        "  `new_good_db` with it.",
        "- **Profiles.** `--profile legacy` writes only what the legacy app itself wrote (rates in the *legacy*",
        "  column); `--profile dirty` (the default, and what `make migrate` seeds) writes everything; `--profile wild`",
        "  writes each value through a random combination of the grammar's choices (*The wild profile* below).",
        "- **Rates** are per row of the table. In each column the pattern marked *default* takes the rate the others",
        "  leave. A pattern that cannot apply to a value (a military address without its state part, a synonym for",
        "  a status that has none) falls back to the default for that row, so it ends a little rarer than its rate.",
        "  Rates *of those it fits* are tried only on the values they fit (a thousands group on amounts of 1,000 or",
        "  more, `free` on a price of 0). *derived* patterns are not drawn: they name what follows from other",
        "  values or rows (an order that names a user by an email that user lost).",
        "- **Recoverable** means the transform can give back the true value (to the precision the legacy text",
        "  keeps: a date without a time is that day at 00:00). Unrecoverable values end as NULL, as a kept raw",
        "  value, or as a rejected row, each with the reason code shown. Warnings are recorded only for rows that",
        "  are migrated; a rejected or merged row gets one reason: the first that applies in the rules' order.",
    ]
    if profile_note:
        lines += ["", profile_note]
    for table in TABLES:
        lines += ["", f"## {table}", ""]
        lines.append(
            "| pattern | column | example | legacy | dirty | wild | recoverable | expected handling | reason code |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for column in columns(table):
            drawn = {profile: probabilities(table, column, profile) for profile in PROFILES}
            for i, pattern in enumerate(column_patterns(table, column)):
                if pattern.derived:
                    rates = ["derived"] * len(PROFILES)
                elif pattern.conditional:
                    rates = [_rate(pattern.rate(profile), "of those it fits") for profile in PROFILES]
                else:
                    rates = [_rate(drawn[profile][i]) for profile in PROFILES]
                if pattern.default:
                    rates = [f"{rate} (default)" for rate in rates]
                lines.append(
                    f"| `{pattern.id}` | {column} | {pattern.example} | {' | '.join(rates)} | "
                    f"{'yes' if pattern.recoverable else 'no'} | {pattern.handling} | "
                    f"{f'`{pattern.reason}`' if pattern.reason else '—'} |"
                )
    lines += ["", *wild_profile_notes().splitlines()]
    lines += ["", *ANSWER_KEY_NOTES.strip("\n").splitlines()]
    return "\n".join(lines) + "\n"


def _weights(weights: grammar.Weights) -> str:
    total = sum(w for _, w in weights)
    return ", ".join(f"`{name}` {_rate(w / total)}" for name, w in weights)


def wild_profile_notes() -> str:
    """The wild profile's grammar, choice by choice, with the weights seeder/grammar.py draws them at."""
    g = grammar
    symbols = ", ".join(f"`{s}` {code}" for code, spellings in g.CURRENCY_SYMBOLS.items() for s in spellings)
    words = ", ".join(f"`{w}` {code}" for code, spellings in g.CURRENCY_WORDS.items() for w in spellings)
    shared = ", ".join(f"`{s}` ({' '.join(codes)})" for s, codes in g.SHARED_SYMBOLS.items())
    aliases = ", ".join(f"`{a}` {code}" for code, spellings in g.COUNTRY_ALIASES.items() for a in spellings)
    return f"""## The wild profile

`--profile wild` writes the world, not a list: each true value goes through a random combination of the choices
below, each drawn on its own (from the row's seeded number through a hash per choice) at the rates shown, which
are shares of the values a *wild* pattern writes. Every combination is one docs/cleaning-rules.md reads, so a
careful person reads it, except in the patterns marked not recoverable above, whose refusals and misreadings the
answer key expects with their reasons. The answer key's `grammar` column names the choices each row took
(`date_form=month_name/es/dmy_de/abbr/upper/single/none;…`). Every text fits its legacy column: a combination
longer than varchar(20) is written with a shorter choice, and the label names the one taken. Columns the
grammar does not take over (emails, names, phones, quantities, the user and product an order names) are written
as in the dirty profile.

**Dates** (registration_date_str, created_at_str, order_date_str; rule A). Family: {_weights(g.DATE_FAMILIES)}.
- ISO: {_weights(g.ISO_TIMES)} (`Z` is UTC, which the legacy times are).
- Year first (`2021/3/4`, `2021.03.04 13:05`): separator {_weights(g.YEAR_FIRST_SEPARATORS)}; padding
  {_weights(g.PADDING)} (dashes only unpadded: padded they are ISO); clock {_weights(g.CLOCKS)}.
- Day-first dotted (`04.03.2021`): padding as above; clock {_weights(g.DOTTED_CLOCKS)}.
- Month names: language {_weights(g.LANGUAGES)}; the word {_weights(g.MONTH_STYLES)}; case
  {_weights(g.LETTER_CASES)}; English order {_weights(g.EN_ORDERS)}; Spanish order {_weights(g.ES_ORDERS)}
  (`dash` is `04-MAR-2021`, `dmy_de` `4 de marzo de 2021`, ordinals English only); spacing between the parts
  {_weights(g.DATE_SPACING)}; clock as year first. Too long for varchar(20), it drops its time, then
  abbreviates the month, then is written day month year.
- Slash dates, each only where T2 reads it as written: {_weights(g.SLASH_FORMS)}; the 12-hour clock's hour
  padded or not as above, its `AM`/`PM` {_weights(g.MERIDIEM_CASES)}.
- Epoch seconds (10 digits). Outer spaces, which C1 trims: {_weights(g.OUTER_SPACES)}.
- Refused (`*_two_digit_year`): {_weights(g.TWO_DIGIT_YEAR_FORMS)}. Refused (`*_impossible`):
  {_weights(g.IMPOSSIBLE_FORMS)}, on 30 or 31 February, 31 April, June, September or November, 29 February
  of a common year, or a 13th month. Misread on purpose (`*_ambiguous_slash`): a month-first slash date alone
  whose day is 12 or less, which T2 reads day-first; the expected value is that reading.
- Not written: fractional seconds and offsets such as `+01:00` (with a four-digit year, a date and a time they
  do not fit varchar(20); `Z` does), weekday names, two-digit years other than as refusals.

**Money** (price_str, unit_price_str_redundant, total_order_amount_str; rule B). A price's currency:
{_weights(g.PRICE_CURRENCIES)} (`symbol`: one of INR KRW RUB TRY ILS PLN, which have a symbol of their own;
`any`: any of the {len(g.money_currencies())} ISO 4217 currencies pycountry lists, less funds, metals and test
codes). Currencies without minor units (JPY, KRW, …) are priced in whole amounts.
- Bare, as the legacy app mostly wrote: a product's price in `price_wild_bare` (USD prices only: bare is read as
  LEGACY_CURRENCY, `currency_assumed`); an order's unit price in `unit_price_wild_bare`, written only where the
  bare amount reads as the true currency (its product's price names it, `currency_from_product`, or names none
  and the price is USD, `currency_assumed`); a total {_rate(g.BARE_TOTALS)}
  of the time (read in the order's currency).
- Otherwise marked: {_weights(g.MONEY_MARKS)} (where the currency has none, its code); before the amount for
  codes {_rate(g.MARK_BEFORE["code"])}, symbols {_rate(g.MARK_BEFORE["symbol"])}, words
  {_rate(g.MARK_BEFORE["word"])}; {_weights(g.SPACED)}; letters {_weights(g.MONEY_CASES)}. Symbols: {symbols}.
  Words: {words}.
- The amount: {_weights(g.MONEY_AMOUNTS)}; grouped only from 1,000 and always with two decimals, `short` drops
  a trailing zero (`12.5`, `12`). Never a single separator before exactly three digits: M4's ambiguous amounts
  are not generated.
- Refused (`*_shared_symbol`): {shared}, which LEGACY_CURRENCY (USD) is not among.
- An order's unit price is its product's true price in the same currency, as the legacy app wrote it; a
  product of two sharing a name has a different amount, so a bare unit price finds it (O2).

**Statuses and categories** (status_text, category_name_redundant; rule C). The spelling: any the seed lists
for the value (dbt_project/seeds/status_synonyms.csv, category_synonyms.csv, read when the seeder runs); an
unknown one from {", ".join(f"`{w}`" for w in g.UNKNOWN_STATUS_WORDS)} or
{", ".join(f"`{w}`" for w in g.UNKNOWN_CATEGORY_WORDS)} (any the seed comes to know is left out). Then case
{_weights(g.KEY_CASES)}; between words {_weights(g.KEY_SEPARATORS)}; accents {_weights(g.KEY_ACCENTS)};
after it {_weights(g.KEY_PUNCTUATION)}; outer spaces {_weights(g.KEY_OUTER)}. Each keeps its folded key.

**Countries** (the last part of address_combined; rule D). The US {_rate(g.US_SHARE)}, else any of the
{len(g.country_spellings())} ISO 3166-1 countries alike. Form: {_weights(g.COUNTRY_FORMS)}, each where the
country has it without a comma (A1 splits on commas); aliases: {aliases}. Case {_weights(g.COUNTRY_CASES)};
accents {_weights(g.COUNTRY_ACCENTS)}; codes {_weights(g.CODE_DOTS)} (`D.E.U.`); spacing
{_weights(g.COUNTRY_SPACING)}. Expected: `country` as written, squished; `country_code` its alpha-2. Unknown
(`address_country_wild_unknown`): {", ".join(f"`{c}`" for c in g.UNKNOWN_COUNTRIES)}. Never written: Namibia's
`NA`, which C1 reads as a null marker.

**The legacy app's habits.** Orders are dated independently of their user's registration, uniformly over the
app's life, so about half come before it: they migrate with `order_before_registration` (O7, without
`strict_dates`). Prices are mostly bare. Countries come from the whole ISO list.
"""


ANSWER_KEY_NOTES = """
## The answer key

Schema `answer_key` of the legacy database, written in the seeder's transaction:

- `answer_key.users`, `answer_key.products`, `answer_key.orders`: one row per legacy row (`legacy_id`), with
  `outcome` (`migrated`, `merged`, `rejected`), `reason_code` and `merged_into_legacy_id` for the other two, the
  expected target values of a migrated row (orders name their user and product by legacy id; a merged user's
  orders name the survivor), `warnings` (the reason codes the ledger must hold for a migrated row), one
  column per pattern column above naming the row's pattern, and `grammar`: the wild grammar's choices for the
  row's values (NULL for values the fixed patterns wrote).
- An address's `country` is its last part as written, squished (inner runs of spaces one, trimmed), whatever
  the profile: `USA` stays `USA`; `country_code` is the ISO 3166-1 alpha-2 code the country_names seed maps it
  to, NULL where no country was written or the seed does not know it (`country_unknown`).
- `answer_key.catalogue`: this table, with the rates of the profile that was seeded; `answer_key.meta`: seed,
  size, profile, row counts.

Orders that come out equal in every column but the id without being drawn as double submits (two independent
orders of the same product by the same user on the same day, with the same spellings) are found with one SQL
pass after the load and keyed as O3 says: merged into the lowest id.

`make score` (`python -m seeder score`) streams the key into temporary tables of a session on `new_good_db`
and compares it with the last published run: per table the legacy rows migrated, merged, rejected, lost
(neither in the target nor in the ledger), counted twice, or invented; per field, how many expected values
are exactly right; per reason code, precision and recall (with, for merges, whether the row was merged into
the right one); per pattern, how many of its rows were handled right (outcome and reason right, the value it
tests exactly right, the warning it calls for present). It writes `reports/score.json` and
`reports/score.md` and prints the latter. On a legacy database without an answer key it says so and exits 0.

## Readings where the rules are silent

docs/cleaning-rules.md is the contract. Where it does not settle a case, the seeder either takes the most
careful reading, or does not generate the case at all:

- A registration date that is `N/A` or blank is NULL without a warning: C1 makes it NULL before there is
  anything to read, as the note on prices says for `N/A` prices (U3 warns about *unreadable* dates).
- `address_raw` is the legacy text exactly as written, stray spaces included ("`address_raw` kept", "the
  legacy text the parts came from").
- `free` as a price is a bare amount: 0.00 **USD** with `currency_assumed` for a product, the currency of its
  product for an order's unit price (B), as for any bare amount.
- A bare unit price takes its product's currency only where the product's price text names one the rules read;
  an unreadable price that names a currency (`-12.50 EUR`, `¥1500`) is not taken as naming one either way, so
  orders of such a product always write their currency.
- Rows that are merged or rejected carry only their one reason; warnings are expected for migrated rows only
  ("a migrated row that needed a repair also gets a warning").
- An order dated before registration is compared with the registration day of the user it resolves to (the
  survivor of a merge), as the rules read that day; when that day is unknown O7 is skipped.
- Not generated, because the rules leave the outcome open: usernames equal after trimming (U2 does not say
  which of the two survives) and usernames equal but for case (`user_ambiguous`); inner spaces in a
  username an order names (O1 says "ignoring case and spaces", O2 "spacing"); `N/A` as an order's user or
  product (C1 would make it missing); a NULL status; a blank category; a military address without a country
  (A1 would read `APO AE 12345` as the country); an address without its city (A1 would read the street as the
  city); a phone cut at 20 characters without an extension marker in what is left ("cut" cannot be seen);
  `00` numbers whose digit count is in range only with or only without the `00`; slash dates that T2 would
  read the wrong way round (a month-first date without a time is written only when its day is above 12), but
  for the wild profile's `*_ambiguous_slash`, whose answer is T2's reading; a slash date with a 24-hour clock
  (T2 has no reading for it); M4's ambiguous amounts; a unit price with a shared symbol (`¥1500`) for a
  product whose name another shares (whether its amount alone picks one of them, O2 does not say); double
  submits of an order that does not migrate.
- Names: all-capital names are expected in PostgreSQL's `initcap` form of the rule's output (`O'BRIEN` →
  `O'Brien`, `MCDONALD` → `Mcdonald`); only names whose upper and lower case round-trip are used (no `ß`, no
  Turkish dotted `İ`), since no rule could give those back.
"""


def _rate(value: float, suffix: str = "") -> str:
    if value == 0:
        return "—"
    percent = value * 100
    text = f"{percent:.1f}%" if percent < 10 and percent != int(percent) else f"{percent:.0f}%"
    return f"{text} {suffix}" if suffix else text
