"""The dbt models in pandas, layer by layer: staging parses, intermediate classifies, marts and quarantine shape.

Each function names the model it stands for and follows its SQL, CTE by CTE; the rule ids are those of
docs/cleaning-rules.md. SQL's NULL is NaN (text), NaT (timestamps) or <NA> (integers); a SQL join never matches
NULL, so every lookup here leaves NULL keys unmatched. Money is held in integer cents (Int64): numeric(12, 2)
exactly, without a Python object per value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from loader.core.contract import CORRECTION_STAGED_COLUMNS, LEGACY_TABLE_MARTS
from loader.core.errors import PipelineError
from loader.transform.pandas_engine import parse
from loader.transform.pandas_engine.io import OutputTable, StagedColumn
from loader.transform.pandas_engine.pg_text import TextRules
from loader.transform.pandas_engine.project import (
    QUARANTINE_COLUMNS,
    Mappings,
    Project,
    contract_width,
    currency_lookup,
    varchar_length,
)

# A table's rows go through the staging parse this many at a time: the parse's temporary columns stay small.
STAGING_CHUNK_ROWS = 250_000
_CENTS_LIMIT = 10**12
_JSON_CONTROL = [chr(code) for code in range(1, 0x20)]


@dataclass(frozen=True)
class LegacyTable:
    """A staged legacy table as read: its columns (the legacy contract's and any others) and its rows."""

    name: str
    columns: tuple[StagedColumn, ...]
    rows: pd.DataFrame


@dataclass(frozen=True)
class Outputs:
    """Every table the engine writes, by name, as publish reads them."""

    marts: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    warnings: pd.DataFrame
    # Each per-row correction and what became of it (rule C2).
    corrections: pd.DataFrame


def _bools(values: pd.Series | npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """A condition as SQL's `when` reads it: NULL is not true."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=bool, na_value=False)
    return values


def _text(values: npt.NDArray[np.str_] | list[str], index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype="str")


def _status(index: pd.Index, conditions: list[npt.NDArray[np.bool_]], names: list[str], otherwise: str) -> pd.Series:
    """The first name whose condition holds, else `otherwise` ('' for NULL): SQL's `case`, as a category.

    A category holds a small code per row, where text would hold the word again in every row.
    """
    # Several conditions may give one name (SQL's `case` may repeat a result): one category per distinct name.
    categories = list(dict.fromkeys([*names, otherwise]))
    choices = [categories.index(name) for name in names]
    codes = np.select(conditions, choices, categories.index(otherwise)).astype(np.int8)
    status = pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))
    series = pd.Series(status, index=index)
    return series.cat.remove_categories([""]) if "" in categories else series


def _rows(frame: pd.DataFrame, condition: pd.Series | npt.NDArray[np.bool_], columns: list[str]) -> pd.DataFrame:
    """The rows where the condition holds, of the named columns only: a model's import CTE, without a full copy."""
    return frame.loc[_bools(condition), columns]


def _in_chunks(frame: pd.DataFrame, model: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """A staging model over STAGING_CHUNK_ROWS rows at a time: each of its rows depends on one input row only."""
    if len(frame) <= STAGING_CHUNK_ROWS:
        return model(frame)
    return pd.concat(
        [model(frame.iloc[start : start + STAGING_CHUNK_ROWS]) for start in range(0, len(frame), STAGING_CHUNK_ROWS)]
    )


# Staging (dbt_staging.stg_legacy__*): trim, null the blanks, parse; no joins.


def _money_status(
    index: pd.Index,
    text: pd.Series,
    cents: pd.Series,
    readings: parse.MoneyReadings,
    currency_status: pd.Series,
    *,
    negative: bool,
) -> pd.Series:
    """The money_status macro as a category: missing, invalid, negative (when asked), ambiguous (M4), ok."""
    checks = parse.money_status(text, cents, readings, currency_status, negative=negative)
    return _status(index, [holds for _, holds in checks], [name for name, _ in checks], "ok")


@dataclass(frozen=True)
class _Money:
    """One money column as the staging models read it (M1-M4): amount, readings, currency and statuses."""

    cents: pd.Series
    readings: parse.MoneyReadings
    currency: pd.Series
    currency_status: pd.Series
    status: pd.Series


def _money(text: pd.Series, rules: TextRules, currencies: Mapping[str, str | None], *, negative: bool) -> _Money:
    parts = parse.money_parts(text, rules)
    cents = parse.parse_money_amount(text, parts.digits, rules)
    readings = parse.money_readings(parts.digits)
    currency = parse.money_currency(parts.currency_key, currencies)
    currency_status = parse.money_currency_status(parts.currency_key, currency)
    status = _money_status(text.index, text, cents, readings, currency_status, negative=negative)
    return _Money(cents, readings, currency, currency_status, status)


def stage_users(source: pd.DataFrame, rules: TextRules) -> pd.DataFrame:
    """stg_legacy__users: rules C1, E1, E2, N1, P1, T1, T2, A1."""
    index = source.index
    email_text = parse.clean_text(source["email"], rules)
    email_normalized = parse.normalize_email(email_text, rules)
    email_valid = parse.is_valid_email(email_normalized)
    registered_at_text = parse.clean_text(source["registration_date_str"], rules)
    registered_at = parse.parse_timestamp(registered_at_text)
    phone_text = parse.clean_text(source["phone_number_str"], rules)
    phone_e164 = parse.normalize_phone(phone_text)
    address = parse.split_address(source["address_combined"], rules)
    full_name_text = parse.squish(parse.clean_text(source["full_name"], rules), rules)
    return pd.DataFrame(
        {
            # bigint whatever the legacy width, as the model casts it.
            "legacy_user_id": source["id"].astype("Int64"),
            "username": source["username"].str.strip(" "),
            "username_key": parse.user_key(source["username"], rules),
            "email": email_normalized.where(email_valid),
            "email_status": _status(index, [_bools(email_text.isna()), email_valid], ["missing", "ok"], "invalid"),
            "full_name": parse.tidy_name(full_name_text, rules),
            "registered_at": registered_at,
            "registered_at_status": _status(
                index, [_bools(registered_at_text.isna()), _bools(registered_at.isna())], ["missing", "invalid"], "ok"
            ),
            "address_raw": source["address_combined"],
            "address_street": address.street,
            "address_city": address.city,
            "address_state": address.state,
            "address_postal_code": address.postal_code,
            "address_country_text": address.country_text,
            "address_country_key": address.country_key,
            "address_status": address.status,
            "phone": phone_e164.fillna(phone_text),
            "phone_status": _status(
                index, [_bools(phone_text.isna()), _bools(phone_e164.isna())], ["missing", "kept_raw"], "ok"
            ),
        },
        index=index,
    )


def stage_products(
    source: pd.DataFrame, rules: TextRules, currencies: Mapping[str, str | None], legacy_currency: str
) -> pd.DataFrame:
    """stg_legacy__products: rules C1, M1-M3, T1, T2."""
    index = source.index
    product_name = parse.clean_text(source["product_name"], rules)
    price = _money(parse.clean_text(source["price_str"], rules), rules, currencies, negative=True)
    created_at_text = parse.clean_text(source["created_at_str"], rules)
    created_at = parse.parse_timestamp(created_at_text)
    kept = _bools(price.cents >= 0) & _bools(price.currency_status != "unknown")
    return pd.DataFrame(
        {
            "legacy_product_id": source["id"].astype("Int64"),
            "product_name": product_name,
            "product_name_key": parse.spelling_key(product_name, rules),
            "description": parse.clean_text(source["description"], rules),
            "price_raw": source["price_str"],
            "price": price.cents.where(kept),
            # M2: a bare price is the legacy currency (a warning says so).
            "currency": price.currency.fillna(legacy_currency).where(kept),
            "price_currency_named": price.currency,
            "price_currency_status": price.currency_status,
            "price_status": price.status,
            # C1 first: a blank category or a null marker is a missing one, not an unknown spelling.
            "category_key": parse.mapping_key(parse.clean_text(source["category_name_redundant"], rules), rules),
            "created_at": created_at,
            "created_at_status": _status(
                index, [_bools(created_at_text.isna()), _bools(created_at.isna())], ["missing", "invalid"], "ok"
            ),
        },
        index=index,
    )


def stage_orders(source: pd.DataFrame, rules: TextRules, currencies: Mapping[str, str | None]) -> pd.DataFrame:
    """stg_legacy__orders: rules C1, M1-M3, T1, T2 (the row digest of O3 is first_of_duplicates here)."""
    index = source.index
    ordered_at_text = parse.clean_text(source["order_date_str"], rules)
    ordered_at = parse.parse_timestamp(ordered_at_text)
    unit_price = _money(parse.clean_text(source["unit_price_str_redundant"], rules), rules, currencies, negative=True)
    total = _money(parse.clean_text(source["total_order_amount_str"], rules), rules, currencies, negative=False)
    return pd.DataFrame(
        {
            "legacy_order_id": source["id"].astype("Int64"),
            "user_identifier_key": parse.user_key(parse.clean_text(source["user_identifier_text"], rules), rules),
            "product_name_key": parse.spelling_key(parse.clean_text(source["product_name_redundant"], rules), rules),
            "ordered_at": ordered_at,
            "ordered_at_status": _status(
                index, [_bools(ordered_at_text.isna()), _bools(ordered_at.isna())], ["missing", "invalid"], "ok"
            ),
            "status_key": parse.mapping_key(parse.clean_text(source["status_text"], rules), rules),
            "quantity": source["quantity"],
            "unit_price": unit_price.cents,
            "unit_price_thousands_reading": unit_price.readings.thousands,
            "unit_price_decimal_reading": unit_price.readings.decimal,
            # M2: the currency the unit price names, NULL when bare (the product or the setting decides it).
            "unit_price_currency": unit_price.currency,
            "unit_price_status": unit_price.status,
            "total_amount": total.cents,
            "total_thousands_reading": total.readings.thousands,
            "total_decimal_reading": total.readings.decimal,
            "total_currency": total.currency,
            "total_status": total.status,
        },
        index=index,
    )


def first_of_duplicates(orders: LegacyTable) -> pd.Series:
    """Rule O3: per order, the lowest id among the rows equal to it in every legacy column but the id.

    The dbt model compares an md5 of the row's JSON without the id, corrected (rule C2: the applied corrections laid
    over the legacy row), so `orders` holds the corrected rows; equal JSON is equal values (NULL equal to NULL too),
    which is what grouping on every column with dropna=False compares, exactly.
    """
    others = [column.name for column in orders.columns if column.name != "id"]
    return lowest_equal_rows(orders.rows[others], own_legacy_ids(orders.rows["id"]))


def own_legacy_ids(ids: pd.Series) -> pd.Series:
    """Each row's legacy id where no other row has it, else NULL (rule K1: nothing is merged into a row rejected for
    its id). Reads the other rows of the same legacy id only."""
    ids = ids.astype("Int64")
    return ids.where(_bools(_times_staged(ids) == 1))


def lowest_equal_rows(rows: pd.DataFrame, own_ids: pd.Series) -> pd.Series:
    """Rule O3's grouping: per row (every legacy column but the id), the lowest of own_ids among the rows equal to it
    in every column, NULL equal to NULL. Reads the rows equal to each row only."""
    return own_ids.groupby([rows[name] for name in rows.columns], dropna=False, sort=False).transform("min")


# Rule C2 (stg_legacy__corrections and the corrected_source macro): a person's correction of one legacy value,
# which the staging models above read in place of the raw value where it applies.

# The legacy columns by the rule a corrected value must read by (the `checked` CTE's case); any other column's
# corrected value reads whatever it holds, NULL included.
_DATE_COLUMNS = ("registration_date_str", "created_at_str", "order_date_str")
_MONEY_COLUMNS = ("price_str", "unit_price_str_redundant", "total_order_amount_str")
_NAME_COLUMNS = ("username", "product_name", "user_identifier_text", "product_name_redundant")
_QUANTITY = "[+-]?[0-9]{1,9}"
# The columns of the staging table stage copies the corrections files into (loader/stage/corrections.py).
CORRECTION_COLUMNS = tuple(name for name, _ in CORRECTION_STAGED_COLUMNS)


def _distinct(left: pd.Series, right: pd.Series) -> npt.NDArray[np.bool_]:
    """left IS DISTINCT FROM right: NULL equals NULL and differs from every value."""
    left_null, right_null = _bools(left.isna()), _bools(right.isna())
    # Not `!=` alone: text's NaN is unequal to itself.
    distinct: npt.NDArray[np.bool_] = (left_null != right_null) | (~left_null & ~right_null & _bools(left != right))
    return distinct


def _rows_by_id(table: LegacyTable, ids: pd.Series) -> pd.DataFrame:
    """rows_by_id: per legacy id among `ids` that the staged table holds, how many rows hold it (`legacy_rows`) and,
    where exactly one does, that row (`row`, its position in the staged table; NULL for a repeated id, whose
    copies may differ: no one of them is the row a correction names)."""
    staged_ids = table.rows["id"].astype("Int64")
    named = staged_ids[_bools(staged_ids.isin(ids.dropna().unique()))]
    rows = pd.DataFrame({"legacy_id": named.array, "row": named.index.to_numpy(dtype=np.int64)})
    by_id: pd.DataFrame = rows.groupby("legacy_id", sort=False)["row"].agg(["size", "min"])
    by_id = by_id.set_axis(["legacy_rows", "row"], axis="columns")
    by_id["row"] = by_id["row"].where(by_id["legacy_rows"] == 1)
    return by_id


def stage_corrections(
    corrections: pd.DataFrame,
    legacy: Mapping[str, LegacyTable],
    project: Project,
    rules: TextRules,
    currencies: Mapping[str, str | None],
) -> pd.DataFrame:
    """stg_legacy__corrections: each correction (the staged corrections table), the legacy row it names and what
    becomes of it (rule C2), `correction_status`:

    `stale` unless exactly one staged row has the id and its value of the column, as `->>` reads it (an integer in
    decimal, NULL as NULL), is the correction's raw_value; else `unparseable` unless the corrected value reads by
    the column's rule; else `applied`. Also `legacy_rows` (0 for a row that is gone), `legacy_value`, `row` (the
    named row's position in its staged table, NULL where gone) and `corrected_text` (the corrected value through
    clean_text). `project` has the folded mappings (transform).
    """
    index = corrections.index
    legacy_rows = pd.Series(0, index=index, dtype="Int64")
    row = pd.Series(pd.NA, index=index, dtype="Int64")
    legacy_value = pd.Series(np.nan, index=index, dtype="str")
    column = corrections["column_name"]
    for name, table in legacy.items():
        of_table = _bools(corrections["legacy_table"] == name)
        if not of_table.any():
            continue
        ids = corrections.loc[of_table, "legacy_id"].astype("Int64")
        by_id = _rows_by_id(table, ids)
        legacy_rows[of_table] = ids.map(by_id["legacy_rows"]).fillna(0).astype("Int64")
        row[of_table] = ids.map(by_id["row"]).astype("Int64")
        for column_name in column[of_table].unique():
            found = of_table & _bools(column == column_name) & _bools(row.notna())
            if found.any():
                named_rows = row[found].to_numpy(dtype=np.int64)
                legacy_value[found] = _as_text(table.rows[column_name].loc[named_rows]).to_numpy()

    # The corrected value through the first steps of its column's rule (C1, M1-M4, S1, E1), as the staging models
    # read it. The table is small: every reading is computed for every correction, and the column picks one.
    text = parse.clean_text(corrections["corrected_value"], rules)
    spelling_key = parse.mapping_key(text, rules)
    present = _bools(text.notna())
    readings = [
        (_DATE_COLUMNS, _bools(parse.parse_timestamp(text).notna())),
        # One non-negative amount in a known currency, not ambiguous: a person writes it one way.
        (_MONEY_COLUMNS, _bools(_money(text, rules, currencies, negative=True).status == "ok")),
        (("status_text",), _bools(spelling_key.map(project.mappings.statuses).notna())),
        (("category_name_redundant",), _bools(spelling_key.map(project.mappings.categories).notna())),
        (("quantity",), _bools(text.str.fullmatch(_QUANTITY))),
        (("email",), present & parse.is_valid_email(parse.normalize_email(text, rules))),
        (_NAME_COLUMNS, present),
    ]
    reads = np.select(
        [_bools(column.isin(columns)) for columns, _ in readings], [holds for _, holds in readings], default=True
    )
    stale = _bools(legacy_rows != 1) | _distinct(legacy_value, corrections["raw_value"])
    return corrections.assign(
        legacy_rows=legacy_rows,
        legacy_value=legacy_value,
        row=row,
        corrected_text=text,
        correction_status=_status(index, [stale, ~reads], ["stale", "unparseable"], "applied"),
    )


def corrected_rows(table: LegacyTable, corrections: pd.DataFrame) -> pd.DataFrame:
    """The corrected_source macro: the staged rows with each applied correction (stage_corrections) in place of the
    raw value it corrects, a quantity as the integer its cleaned corrected value reads, any other column the
    corrected value exactly as written (NULL included). Only a corrected column is new; the others stay the staged
    ones, shared (not copied). An applied correction names a row whose id is staged once, so a row takes at most
    one value per column."""
    # The rows of `table` only: a partition of it holds some of the rows the corrections name.
    applied = corrections[
        _bools(corrections["legacy_table"] == table.name)
        & _bools(corrections["correction_status"] == "applied")
        & _bools(corrections["row"].isin(table.rows.index))
    ]
    replaced: dict[str, pd.Series] = {}
    for column_name, corrected in applied.groupby("column_name", sort=False):
        rows = corrected["row"].to_numpy(dtype=np.int64)
        values = table.rows[str(column_name)].copy()
        if column_name == "quantity":
            # The model casts the corrected value to integer; a wider column than the legacy one holds any of them.
            values = values.astype("Int64")
            values.loc[rows] = corrected["corrected_text"].str.lstrip("+").astype("int64").to_numpy()
        else:
            values.loc[rows] = corrected["corrected_value"].to_numpy()
        replaced[str(column_name)] = values
    return table.rows.assign(**replaced) if replaced else table.rows


# Intermediate (dbt_intermediate.int_*): deduplicate, resolve references, classify every row.


def _times_staged(ids: pd.Series) -> pd.Series:
    """count(*) over (partition by id): how often each row's id occurs, NULL ids counted together."""
    return ids.groupby(ids, dropna=False, sort=False).transform("size")


def _longer_than(values: pd.Series, width: int) -> npt.NDArray[np.bool_]:
    """length(value) > width, in characters; NULL is not longer (L1, L2)."""
    return _bools(values.str.len() > width)


def deduplicate_users(users: pd.DataFrame, project: Project) -> pd.DataFrame:
    """int_users_deduplicated: no id, a repeated id (K1), no username (U4) or one too long (L1) rejected; then a
    repeated username (U2); among the rest, merged into the lowest id sharing the email (U1).

    Three steps, each reading only what it must see whole: user_row_reasons needs the rows of one legacy id,
    username_duplicates those of one username, email_survivors those of one email (the dask engine shuffles by each
    key in turn; here the whole table is one partition); classify_users puts them together, row by row."""
    row_reason = user_row_reasons(users, project)
    row_rejected = _bools(row_reason.notna())
    duplicate = _bools(
        username_duplicates(users.loc[~row_rejected, ["legacy_user_id", "username"]]).reindex(users.index)
    )
    emailed = users.loc[~(row_rejected | duplicate) & _bools(users["email"].notna()), ["legacy_user_id", "email"]]
    return classify_users(users, row_reason, duplicate, email_survivors(emailed).reindex(users.index), project)


def user_row_reasons(users: pd.DataFrame, project: Project) -> pd.Series:
    """The first of K1, U4, L1 that rejects each user, NULL where none does. Reads the other rows of the same legacy
    id only (K1: every copy of a repeated id is rejected)."""
    ids = users["legacy_user_id"]
    username = users["username"]
    row_checks = [
        ("legacy_id_missing", _bools(ids.isna())),
        ("legacy_id_duplicate", _bools(_times_staged(ids) > 1)),
        ("username_missing", _bools(username.isna() | (username == ""))),
        ("value_too_long", _longer_than(username, contract_width(project, "users", "username"))),
    ]
    return _status(users.index, [holds for _, holds in row_checks], [name for name, _ in row_checks], "")


def username_duplicates(kept: pd.DataFrame) -> pd.Series:
    """Rule U2 on the users no row check rejected (`legacy_user_id`, `username`): true for every user but the lowest
    legacy id of its username. Reads the other rows of the same username only."""
    username_rank = kept.sort_values("legacy_user_id").groupby("username", dropna=False, sort=False).cumcount() + 1
    return (username_rank > 1).reindex(kept.index)


def email_survivors(emailed: pd.DataFrame) -> pd.Series:
    """Rule U1 on the users not rejected that have an email (`legacy_user_id`, `email`): the lowest legacy id among
    those sharing each one's email. Reads the other rows of the same email only."""
    return emailed["legacy_user_id"].groupby(emailed["email"], sort=False).transform("min")


def classify_users(
    users: pd.DataFrame,
    row_reason: pd.Series,
    duplicate: npt.NDArray[np.bool_],
    lowest_with_email: pd.Series,
    project: Project,
) -> pd.DataFrame:
    """Each user's outcome and reason from the three steps of deduplicate_users, aligned with its rows."""
    ids = users["legacy_user_id"]
    index = users.index
    row_rejected = _bools(row_reason.notna())
    rejected = row_rejected | duplicate
    surviving = lowest_with_email.where(users["email"].notna() & ~rejected, ids).astype(ids.dtype)
    merged = ~rejected & _bools(surviving != ids)
    reason_code = row_reason.astype("str").where(row_rejected)
    reason_code = reason_code.mask(duplicate, "username_duplicate").mask(merged, "duplicate_email")
    return users.assign(
        surviving_legacy_user_id=surviving,
        outcome=_status(index, [rejected, merged], ["rejected", "merged"], "migrated"),
        reason_code=reason_code.astype("category"),
        # Rule L2: optional values the target's columns cannot hold whole; the marts leave them out.
        is_email_too_long=_longer_than(users["email"], contract_width(project, "users", "email")),
        is_full_name_too_long=_longer_than(users["full_name"], contract_width(project, "users", "full_name")),
        is_phone_too_long=_longer_than(users["phone"], contract_width(project, "users", "phone")),
    )


def classify_products(products: pd.DataFrame, project: Project) -> pd.DataFrame:
    """int_products_classified: the category seed applied (R2); no id or a repeated one (K1), no name (R1) or one
    too long (L1) rejected."""
    ids = products["legacy_product_id"]
    index = products.index
    name = products["product_name"]
    checks = [
        ("legacy_id_missing", _bools(ids.isna())),
        ("legacy_id_duplicate", _bools(_times_staged(ids) > 1)),
        ("product_name_missing", _bools(name.isna())),
        ("value_too_long", _longer_than(name, contract_width(project, "products", "name"))),
    ]
    reason_code = _status(index, [holds for _, holds in checks], [code for code, _ in checks], "")
    rejected = _bools(reason_code.notna())
    return products.assign(
        category=products["category_key"].map(project.mappings.categories).astype("str"),
        outcome=_status(index, [rejected], ["rejected"], "migrated"),
        reason_code=reason_code,
    )


# The columns of the users and products that order resolution reads (O1, O2, O7).
KEPT_USER_COLUMNS = ["legacy_user_id", "username_key", "email", "surviving_legacy_user_id", "registered_at"]
MIGRATED_PRODUCT_COLUMNS = [
    "legacy_product_id",
    "product_name_key",
    "price",
    "currency",
    "price_currency_named",
    "price_currency_status",
    "price_raw",
]
# The columns of an order that product resolution reads (O2, M4).
PRODUCT_MATCH_INPUT = [
    "product_name_key",
    "unit_price",
    "unit_price_thousands_reading",
    "unit_price_decimal_reading",
    "unit_price_currency",
]


def resolve_orders(
    orders: pd.DataFrame,
    first_ids: pd.Series,
    users: pd.DataFrame,
    products: pd.DataFrame,
    project: Project,
    snapshot_taken_at: datetime | None,
) -> pd.DataFrame:
    """int_orders_resolved: ids (K1), duplicates (O3), user (O1), product (O2), the checks of O4, O6, O7, the unit
    price's reading (M4), in order.

    Like deduplicate_users, in steps that each read one key's rows only: match_users (the users of one username or
    email), match_products (the products of one name), registration_dates (the user of one legacy id); then
    classify_orders, row by row."""
    kept_users = _rows(users, users["outcome"] != "rejected", KEPT_USER_COLUMNS)
    migrated_products = _rows(products, products["outcome"] == "migrated", MIGRATED_PRODUCT_COLUMNS)
    user_match = match_users(orders["user_identifier_key"], user_candidates(kept_users))
    registered_at = registration_dates(user_match["legacy_user_id"], kept_users[["legacy_user_id", "registered_at"]])
    product_match = match_products(orders[PRODUCT_MATCH_INPUT], migrated_products)
    return classify_orders(orders, first_ids, user_match, registered_at, product_match, project, snapshot_taken_at)


def user_candidates(kept_users: pd.DataFrame) -> pd.DataFrame:
    """int_orders_resolved's user_candidates: the keys an order may name a user not rejected by (`user_key`: its
    username key, or its email), how (`matched_by`), and the legacy id it survives as (`surviving`)."""
    keys = pd.concat(
        [
            pd.DataFrame(
                {
                    "user_key": kept_users["username_key"],
                    "matched_by": "username",
                    "surviving": kept_users["surviving_legacy_user_id"],
                }
            ),
            pd.DataFrame(
                {
                    "user_key": kept_users["email"],
                    "matched_by": "email",
                    "surviving": kept_users["surviving_legacy_user_id"],
                }
            ),
        ],
        ignore_index=True,
    )
    return keys[_bools(keys["user_key"].notna())]


def match_users(user_key: pd.Series, candidates: pd.DataFrame) -> pd.DataFrame:
    """Rule O1 for each order's user key: by username, then by email; a key that names several surviving users is
    ambiguous. Per order (aligned with `user_key`): `user_match_count`, `legacy_user_id` (the lowest surviving id),
    `user_candidate_legacy_ids` (the ids an ambiguous key names). Reads the candidates (user_candidates) of the
    order's key only."""
    by_way = {
        matched_by: candidates.loc[_bools(candidates["matched_by"] == matched_by), ["user_key", "surviving"]]
        for matched_by in ("username", "email")
    }
    by_username, by_email = (
        by_way[way].groupby("user_key", sort=False)["surviving"].agg(["nunique", "min"])
        for way in ("username", "email")
    )
    username_count = user_key.map(by_username["nunique"])
    user_match_count = username_count.fillna(user_key.map(by_email["nunique"])).fillna(0)
    legacy_user_id = user_key.map(by_username["min"]).fillna(user_key.map(by_email["min"])).astype("Int64")
    # The evidence of an ambiguous reference: the legacy ids it could mean, only where it is ambiguous.
    many_users = _bools(user_match_count > 1)
    by_username_many = many_users & _bools(username_count.notna())
    username_pairs, email_pairs = by_way["username"], by_way["email"]
    candidate_ids = (
        user_key.where(by_username_many)
        .map(_id_lists(username_pairs["user_key"], username_pairs["surviving"], user_key[by_username_many]))
        .fillna(
            user_key.where(many_users & ~by_username_many).map(
                _id_lists(email_pairs["user_key"], email_pairs["surviving"], user_key[many_users])
            )
        )
        .astype("str")
    )
    return pd.DataFrame(
        {
            "user_match_count": user_match_count,
            "legacy_user_id": legacy_user_id,
            "user_candidate_legacy_ids": candidate_ids,
        },
        index=user_key.index,
    )


def registration_dates(legacy_user_id: pd.Series, kept_users: pd.DataFrame) -> pd.Series:
    """When each order's user registered (rule O7), by its resolved legacy id among the users not rejected
    (`legacy_user_id`, `registered_at`). Reads the user of the order's legacy id only."""
    dates = kept_users.set_index("legacy_user_id")["registered_at"]
    if dates.empty:
        # pandas cannot map through an empty Series of timestamps; no user, no date.
        return pd.Series(pd.NaT, index=legacy_user_id.index, dtype=dates.dtype)
    return legacy_user_id.map(dates)


def match_products(orders: pd.DataFrame, migrated_products: pd.DataFrame) -> pd.DataFrame:
    """Rule O2 for each order (PRODUCT_MATCH_INPUT columns): by name; where several products share it, by unit price
    and currency (M2, M4). Per order (aligned with `orders`): `name_count`, `legacy_product_id`, the product's
    `product_price`, `product_currency`, `product_price_raw`, `named_by_product`, `product_unknown` and
    `product_candidate_legacy_ids`. Reads the products of the order's name key only: a resolved product has it."""
    index = orders.index
    product_key = orders["product_name_key"]
    names = migrated_products.groupby("product_name_key", sort=False)["legacy_product_id"].agg(["count", "min"])
    name_count = product_key.map(names["count"]).fillna(0)
    # Rule M4: an ambiguous unit price matches a product's price by either reading (one exact in cents).
    shared = _rows(orders, name_count > 1, ["product_name_key", "unit_price_currency"])
    candidates_cents = [orders["unit_price"]]
    for reading in ("unit_price_thousands_reading", "unit_price_decimal_reading"):
        mills = orders[reading]
        candidates_cents.append((mills // 10).where(_bools(mills % 10 == 0)))
    offered = pd.concat(
        [shared.assign(position=shared.index, cents=cents.loc[shared.index]) for cents in candidates_cents]
    )
    offered = offered[_bools(offered["cents"].notna())].drop_duplicates(["position", "cents"])
    priced = migrated_products.loc[
        _bools(migrated_products["price"].notna()), ["product_name_key", "price", "currency", "legacy_product_id"]
    ]
    # By row (the frame's index), not by legacy id: a repeated or missing id must not pool two rows' matches.
    matched = offered.astype({"cents": "Int64"}).merge(
        priced, left_on=["product_name_key", "cents"], right_on=["product_name_key", "price"]
    )
    # M2: a bare unit price matches by amount alone; a named one by amount and currency.
    same_currency = matched["unit_price_currency"].isna() | (matched["unit_price_currency"] == matched["currency"])
    price_matches = (
        matched[_bools(same_currency)].groupby("position", sort=False)["legacy_product_id"].agg(["count", "min"])
    )
    positions = pd.Series(index, index=index)
    price_count = positions.map(price_matches["count"])
    legacy_product_id = (
        product_key.map(names["min"])
        .where(_bools(name_count == 1))
        .fillna(positions.map(price_matches["min"]).where(_bools(price_count == 1)))
        .astype("Int64")
    )
    by_product = migrated_products.set_index("legacy_product_id")
    many_products = _bools(name_count > 1) & _bools(legacy_product_id.isna())
    product_candidates = (
        product_key.where(many_products)
        .map(
            _id_lists(
                migrated_products["product_name_key"],
                migrated_products["legacy_product_id"],
                product_key[many_products],
            )
        )
        .astype("str")
    )
    return pd.DataFrame(
        {
            "name_count": name_count,
            "legacy_product_id": legacy_product_id,
            "product_price": legacy_product_id.map(by_product["price"]).astype("Int64"),
            "product_currency": legacy_product_id.map(by_product["currency"]).astype("str"),
            "product_price_raw": legacy_product_id.map(by_product["price_raw"]).astype("str"),
            "named_by_product": legacy_product_id.map(by_product["price_currency_named"]).astype("str"),
            # A product's price naming a currency M2 cannot read is evidence against the legacy currency.
            "product_unknown": _bools(legacy_product_id.map(by_product["price_currency_status"]) == "unknown"),
            "product_candidate_legacy_ids": product_candidates,
        },
        index=index,
    )


def classify_orders(
    orders: pd.DataFrame,
    first_ids: pd.Series,
    user_match: pd.DataFrame,
    registered_at: pd.Series,
    product_match: pd.DataFrame,
    project: Project,
    snapshot_taken_at: datetime | None,
) -> pd.DataFrame:
    """Each order's currency, unit price, status and outcome with its first reason, from its own row and what the
    steps of resolve_orders found for it (aligned with its rows). Reads the other rows of the same legacy id only
    (K1)."""
    index = orders.index
    user_key = orders["user_identifier_key"]
    product_key = orders["product_name_key"]
    user_match_count = user_match["user_match_count"]
    legacy_user_id = user_match["legacy_user_id"]
    name_count = product_match["name_count"]
    legacy_product_id = product_match["legacy_product_id"]
    product_price = product_match["product_price"]
    product_currency = product_match["product_currency"]
    named_by_product = product_match["named_by_product"]
    product_unknown = _bools(product_match["product_unknown"])
    order_ids = orders["legacy_order_id"]
    # M2: the currency the unit price names; for a bare one, the currency its product's price names, else the
    # legacy currency. The source says which, for a warning.
    read = _bools(orders["unit_price_currency"].notna())
    order_currency = (
        orders["unit_price_currency"]
        .fillna(named_by_product.fillna(project.legacy_currency).mask(product_unknown))
        .astype("str")
    )
    order_currency_source = _status(
        index,
        [read, product_unknown, _bools(named_by_product.notna())],
        ["read", "unknown", "product"],
        "assumed",
    )
    unit_price_readings = parse.MoneyReadings(
        orders["unit_price_thousands_reading"], orders["unit_price_decimal_reading"]
    )
    resolved_unit_price = orders["unit_price"].fillna(
        parse.agreeing_reading(unit_price_readings, order_currency, product_price, product_currency)
    )

    status = orders["status_key"].map(project.mappings.statuses).astype("str")
    ordered_at = orders["ordered_at"]
    quantity = orders["quantity"]
    # O7 compares days; NaT on either side is no comparison (skipped).
    before_registration = _bools(ordered_at.dt.normalize() < registered_at.dt.normalize())
    in_future = (
        _bools(ordered_at > pd.Timestamp(snapshot_taken_at))
        if snapshot_taken_at is not None
        else np.zeros(len(orders), dtype=bool)
    )
    reasons = {
        "legacy_id_missing": _bools(order_ids.isna()),
        "legacy_id_duplicate": _bools(_times_staged(order_ids) > 1),
        "duplicate_order": _bools(first_ids != order_ids),
        "user_missing": _bools(user_key.isna() | (user_key == "")),
        "user_not_found": _bools(user_match_count == 0),
        "user_ambiguous": _bools(user_match_count > 1),
        "product_missing": _bools(product_key.isna() | (product_key == "")),
        "product_not_found": _bools(name_count == 0),
        "product_ambiguous": _bools(legacy_product_id.isna()),
        "order_date_missing": _bools(orders["ordered_at_status"] == "missing"),
        "order_date_invalid": _bools(orders["ordered_at_status"] == "invalid"),
        "order_date_in_future": in_future,
        # O7 rejects only with strict_dates; otherwise the order migrates with a warning.
        "order_before_registration": before_registration & project.strict_dates,
        "quantity_missing": _bools(quantity.isna()),
        "quantity_not_positive": _bools(quantity <= 0),
        "quantity_implausible": _bools(quantity > project.max_order_quantity),
        "status_unknown": _bools(status.isna()),
        "unit_price_missing": _bools(orders["unit_price_status"] == "missing"),
        "unit_price_invalid": _bools(orders["unit_price_status"].isin(["invalid", "negative"])),
        "unit_price_currency_unknown": _bools(order_currency_source == "unknown"),
        "amount_ambiguous": _bools(resolved_unit_price.isna()),
    }
    reason_code = _status(index, list(reasons.values()), list(reasons.keys()), "")
    outcome = _status(
        index,
        [_bools(reason_code.isna()), _bools(reason_code == "duplicate_order")],
        ["migrated", "merged"],
        "rejected",
    )
    migrated = _bools(outcome == "migrated")
    computed_total = pd.Series(pd.NA, index=index, dtype="Int64")
    computed_total[migrated] = quantity[migrated].astype("Int64") * resolved_unit_price[migrated]
    total_readings = parse.MoneyReadings(orders["total_thousands_reading"], orders["total_decimal_reading"])
    agreed_total = parse.agreeing_reading(
        total_readings, orders["total_currency"].fillna(order_currency), computed_total, order_currency
    )
    return orders.assign(
        legacy_user_id=legacy_user_id,
        legacy_product_id=legacy_product_id,
        product_price=product_price,
        product_currency=product_currency,
        product_price_raw=product_match["product_price_raw"],
        order_currency=order_currency,
        order_currency_source=order_currency_source,
        resolved_unit_price=resolved_unit_price,
        agreed_total=agreed_total,
        status=status,
        first_legacy_order_id=first_ids,
        reason_code=reason_code,
        outcome=outcome,
        computed_total=computed_total,
        user_registered_at=registered_at,
        is_dated_before_registration=before_registration,
        user_candidate_legacy_ids=user_match["user_candidate_legacy_ids"],
        product_candidate_legacy_ids=product_match["product_candidate_legacy_ids"],
    )


def _id_lists(keys: pd.Series, ids: pd.Series, wanted: pd.Series) -> pd.Series:
    """jsonb_agg(distinct id order by id) per key, as JSON text, for the keys in `wanted` only."""
    pairs = pd.DataFrame({"key": keys, "id": ids})
    pairs = pairs[_bools(pairs["key"].isin(wanted.dropna().unique()) & pairs["id"].notna())]
    pairs = pairs.astype({"id": "int64"}).drop_duplicates().sort_values("id")
    return pairs.groupby("key", sort=False)["id"].agg(lambda values: "[" + ", ".join(map(str, values)) + "]")


def _fault_column(reason_code: pd.Series, project: Project, otherwise: str) -> pd.Series:
    """The legacy column at fault, as rejects joins the reason_codes seed: the column the seed names for the code,
    or `otherwise` where it names none (a code about several columns); NULL where there is no reason."""
    codes = reason_code.astype("category")
    # Looked up per category, not per row: a code the seed does not know is an error, as dbt's relationships test.
    columns = []
    for code in codes.cat.categories:
        if code not in project.reason_codes:
            raise PipelineError(f"the reason code {code!r} is not in the reason_codes seed")
        columns.append(project.reason_codes[code].legacy_column or otherwise)
    names = list(dict.fromkeys(columns))
    # Category i becomes name lookup[i]; a NULL reason (code -1) takes the last entry, -1: NULL.
    lookup = np.array([*(names.index(column) for column in columns), -1], dtype=np.int8)
    fault = pd.Categorical.from_codes(lookup[codes.cat.codes.to_numpy()], categories=pd.Index(names, dtype="str"))
    return pd.Series(fault, index=reason_code.index)


# Marts (dbt_marts.*): the target's shape, cast to the contracts' types.


def _conform(frame: pd.DataFrame, table: OutputTable) -> pd.DataFrame:
    """The mart's contract: text must fit varchar(n) whole and numeric(12, 2) must hold the amount, else the build
    stops (as dbt's insert into the contract's table does); rules L1 and L2 keep longer values out beforehand."""
    columns = {}
    for column in table.columns:
        values = frame[column.name]
        length = varchar_length(column.type_sql)
        if length is not None:
            values = values.astype("str")
            too_long = _bools(values.str.len() > length)
            if too_long.any():
                raise PipelineError(
                    f"{table.name}.{column.name}: value too long for type character varying({length}) "
                    f"({int(too_long.sum())} rows): the dbt models stop the build on it too, and never cut it"
                )
        elif column.type_sql.startswith("numeric"):
            too_large = _bools(values.abs() >= _CENTS_LIMIT)
            if too_large.any():
                raise PipelineError(
                    f"{table.name}.{column.name}: numeric field overflow ({int(values[too_large].iloc[0])} cents): "
                    "the dbt models stop the build on it too, as numeric(12, 2) cannot hold it"
                )
            values = _cents_text(values)
        columns[column.name] = values
    return pd.DataFrame(columns).reset_index(drop=True)


def _cents_text(cents: pd.Series) -> pd.Series:
    """Integer cents as numeric text, `-12.50`: what COPY reads into numeric(12, 2), exactly."""
    present = _bools(cents.notna())
    text: pd.Series[str] = pd.Series(np.nan, index=cents.index, dtype="str")
    if present.any():
        amounts = cents[present].astype("int64")
        units = (amounts.abs() // 100).astype("str")
        hundredths = (amounts.abs() % 100).astype("str").str.zfill(2)
        sign = _text(np.where(amounts < 0, "-", ""), amounts.index)
        text[present] = sign + units + "." + hundredths
    return text


def build_marts(
    users: pd.DataFrame, products: pd.DataFrame, orders: pd.DataFrame, project: Project
) -> dict[str, pd.DataFrame]:
    """users, addresses, product_categories, products, orders, order_items."""
    frames = {**user_marts(users, project), **product_marts(products), **order_marts(orders)}
    return {name: _conform(frames[name], table) for name, table in project.marts.items()}


def conform_marts(frames: Mapping[str, pd.DataFrame], project: Project) -> dict[str, pd.DataFrame]:
    """Some of the marts, each in its contract's shape (_conform)."""
    return {name: _conform(frame, project.marts[name]) for name, frame in frames.items()}


def user_marts(users: pd.DataFrame, project: Project) -> dict[str, pd.DataFrame]:
    """users and addresses, from the rows of int_users_deduplicated (any subset of them)."""
    migrated_users = _rows(
        users,
        users["outcome"] == "migrated",
        [*project.marts["users"].column_names, "is_email_too_long", "is_full_name_too_long", "is_phone_too_long"],
    )
    # Rule L2: an optional value the target's column cannot hold whole is left out (with a warning).
    migrated_users = migrated_users.assign(
        email=migrated_users["email"].mask(migrated_users["is_email_too_long"]),
        full_name=migrated_users["full_name"].mask(migrated_users["is_full_name_too_long"]),
        phone=migrated_users["phone"].mask(migrated_users["is_phone_too_long"]),
    )
    with_address = _rows(
        users,
        _bools(users["outcome"] == "migrated") & _bools(users["address_status"] != "missing"),
        [name for name in users.columns if name.startswith("address_") or name == "legacy_user_id"],
    )
    country_code = with_address["address_country_key"].map(project.mappings.countries).astype("str")
    return {
        "users": migrated_users,
        "addresses": pd.DataFrame(
            {
                "legacy_user_id": with_address["legacy_user_id"],
                "street": with_address["address_street"],
                "city": with_address["address_city"],
                "state": with_address["address_state"],
                "postal_code": with_address["address_postal_code"],
                # Rule A1: the country as written, for audit, and its alpha-2 code where the seed knows the
                # spelling; an unknown one keeps its text, with a null code and the warning country_unknown.
                "country": with_address["address_country_text"],
                "country_code": country_code,
                "address_raw": with_address["address_raw"],
            }
        ),
    }


def product_marts(products: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """products and product_categories (distinct among these rows), from the rows of int_products_classified."""
    migrated_products = _rows(
        products,
        products["outcome"] == "migrated",
        ["legacy_product_id", "product_name", "description", "category", "price", "currency", "created_at"],
    )
    categories = migrated_products["category"].dropna().drop_duplicates()
    return {
        "product_categories": pd.DataFrame({"name": categories}),
        "products": pd.DataFrame(
            {
                "legacy_product_id": migrated_products["legacy_product_id"],
                "name": migrated_products["product_name"],
                "description": migrated_products["description"],
                "category_name": migrated_products["category"],
                "price": migrated_products["price"],
                "currency": migrated_products["currency"],
                "created_at": migrated_products["created_at"],
            }
        ),
    }


def order_marts(orders: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """orders and order_items, from the rows of int_orders_resolved (any subset of them)."""
    migrated_orders = _rows(
        orders,
        orders["outcome"] == "migrated",
        [
            "legacy_order_id",
            "legacy_user_id",
            "legacy_product_id",
            "status",
            "ordered_at",
            "quantity",
            "resolved_unit_price",
            "order_currency",
            "computed_total",
        ],
    )
    return {
        "orders": pd.DataFrame(
            {
                "legacy_order_id": migrated_orders["legacy_order_id"],
                "legacy_user_id": migrated_orders["legacy_user_id"],
                "status": migrated_orders["status"],
                "ordered_at": migrated_orders["ordered_at"],
                # The total is quantity times unit price; a legacy total that disagrees is a warning (O5).
                "total_amount": migrated_orders["computed_total"],
                "currency": migrated_orders["order_currency"],
            }
        ),
        "order_items": pd.DataFrame(
            {
                "legacy_order_id": migrated_orders["legacy_order_id"],
                "legacy_product_id": migrated_orders["legacy_product_id"],
                "quantity": migrated_orders["quantity"],
                "unit_price": migrated_orders["resolved_unit_price"],
                "currency": migrated_orders["order_currency"],
            }
        ),
    }


# Quarantine (dbt_quarantine.rejects, warnings): one shape, the raw value and the whole legacy row along.


def _json_string(values: pd.Series) -> pd.Series:
    """Text as a JSON string literal; jsonb reads it back to the same text."""
    escaped = values.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
    controlled = _bools(escaped.str.contains("[\x01-\x1f]", regex=True))
    if controlled.any():
        fixed = escaped[controlled]
        for character in _JSON_CONTROL:
            fixed = fixed.str.replace(character, f"\\u{ord(character):04x}", regex=False)
        escaped = escaped.mask(controlled, fixed)
    return '"' + escaped + '"'


def _as_text(values: pd.Series) -> pd.Series:
    """A column's values as `->>` gives them: integers in decimal, text as it is, NULL as NULL."""
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and values.dtype.kind in "iu":
        present = _bools(values.notna())
        text: pd.Series[str] = pd.Series(np.nan, index=values.index, dtype="str")
        text[present] = values[present].astype("int64").astype("str")
        return text
    return values.astype("str")


def legacy_rows(table: LegacyTable, rows: pd.Series) -> pd.Series:
    """to_jsonb() of each legacy row named by its position in the staged table, as JSON text: its columns as they
    stood, under their names. By position, not id: an id may be missing or repeated (rule K1)."""
    wanted = pd.Index(rows.unique())
    picked = table.rows.loc[wanted]
    fields = []
    for column in table.columns:
        values = picked[column.name]
        if column.kind == "json":
            fragment = values
        elif column.kind == "integer":
            fragment = _as_text(values)
        else:
            fragment = _json_string(values.astype("str"))
        fields.append(_json_string(pd.Series([column.name], dtype="str")).iloc[0] + ": " + fragment.fillna("null"))
    document = "{" + fields[0]
    for field in fields[1:]:
        document = document + ", " + field
    document = document + "}"
    return rows.map(pd.Series(document.array, index=wanted))


def quarantine(parts: list[tuple[LegacyTable, pd.DataFrame]], outcome: str | None) -> pd.DataFrame:
    """Rows of the quarantine's shape from (legacy table, [row, legacy_id, outcome, reason_code, column_name,
    merged, evidence]), `row` being the legacy row's position in the staged table."""
    frames = []
    for table, entries in parts:
        if entries.empty:
            continue
        rows = entries["row"]
        raw_value = pd.Series(np.nan, index=entries.index, dtype="str")
        for column_name in entries["column_name"].dropna().unique():
            named = _bools(entries["column_name"] == column_name)
            # .loc, not .map: it keeps an integer column's dtype, so 7 reads "7", not "7.0".
            raw_value[named] = _as_text(table.rows[column_name].loc[rows[named].to_numpy()]).to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "legacy_table": table.name,
                    "legacy_id": entries["legacy_id"].astype("Int64"),
                    "outcome": entries["outcome"] if outcome is None else outcome,
                    "stage": "transform",
                    "reason_code": entries["reason_code"],
                    "column_name": entries["column_name"],
                    "raw_value": raw_value,
                    "merged_into_legacy_id": entries["merged_into_legacy_id"].astype("Int64"),
                    "evidence": entries["evidence"],
                    "legacy_row": legacy_rows(table, rows),
                }
            )
        )
    if not frames:
        return pd.DataFrame({column.name: pd.Series(dtype="str") for column in QUARANTINE_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _entries(
    ids: pd.Series,
    outcome: pd.Series | str,
    reason_code: pd.Series | str,
    column_name: pd.Series | str,
    merged: pd.Series | None,
    evidence: pd.Series | None = None,
) -> pd.DataFrame:
    """Ledger entries for the rows of `ids`; its index (the staged table's positions) says which legacy rows."""
    frame = pd.DataFrame({"row": ids.index, "legacy_id": ids.astype("Int64").to_numpy()})
    # Text, not categories: the three tables' categories differ, and concatenated they would become objects.
    frame["outcome"] = outcome.astype("str").to_numpy() if isinstance(outcome, pd.Series) else outcome
    frame["reason_code"] = reason_code.astype("str").to_numpy() if isinstance(reason_code, pd.Series) else reason_code
    frame["column_name"] = column_name.astype("str").to_numpy() if isinstance(column_name, pd.Series) else column_name
    frame["merged_into_legacy_id"] = merged.astype("Int64").to_numpy() if merged is not None else pd.NA
    frame["evidence"] = (
        evidence.astype("str").to_numpy() if evidence is not None else pd.Series(np.nan, index=frame.index, dtype="str")
    )
    return frame


def _json_object(fields: list[tuple[str, pd.Series]]) -> pd.Series:
    """jsonb_build_object() of the fields, as JSON text: text values as strings, integers as numbers, NULL null."""
    document: pd.Series | None = None
    for key, values in fields:
        if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and values.dtype.kind in "iu":
            fragment = _as_text(values)
        else:
            fragment = _json_string(values.astype("str"))
        field = f'"{key}": ' + fragment.fillna("null")
        document = field if document is None else document + ", " + field
    assert document is not None
    return "{" + document + "}"


def _unit_price_evidence(orders: pd.DataFrame, *, with_reading: bool) -> pd.Series:
    """What rule M4 compared an ambiguous unit price with: the resolved product's price (and the reading taken)."""
    fields = [
        ("legacy_product_id", orders["legacy_product_id"].astype("Int64")),
        ("product_price", _cents_text(orders["product_price"])),
        ("product_currency", orders["product_currency"].astype("str")),
    ]
    if with_reading:
        fields.insert(0, ("read_as", _cents_text(orders["resolved_unit_price"])))
    return _json_object(fields)


def _currency_assumed_evidence(currency: pd.Series) -> pd.Series:
    """The currency_assumed_evidence macro: the currency taken and the setting it came from (M2)."""
    return _json_object([("currency", currency), ("from", pd.Series("LEGACY_CURRENCY", index=currency.index))])


def _registration_evidence(orders: pd.DataFrame) -> pd.Series:
    """The registration_evidence macro: the user's legacy id and registration day, what rule O7 compared with."""
    day = orders["user_registered_at"].dt.strftime("%Y-%m-%d").astype("str")
    return _json_object([("legacy_user_id", orders["legacy_user_id"].astype("Int64")), ("registration_date", day)])


def _total_mismatch_evidence(orders: pd.DataFrame) -> pd.Series:
    """What rule O5 compared a total with: the total as read (NULL where it reads two ways) and the currency it names
    (NULL where bare), and quantity times unit price in the order's currency, the total kept."""
    return _json_object(
        [
            ("total_read", _cents_text(orders["total_amount"])),
            ("total_currency", orders["total_currency"].astype("str")),
            ("computed_total", _cents_text(orders["computed_total"])),
            ("currency", orders["order_currency"].astype("str")),
        ]
    )


def _candidates_evidence(candidates: pd.Series) -> pd.Series:
    """jsonb_build_object('candidates', …) of JSON arrays of legacy ids (an ambiguous reference, O1 and O2)."""
    return '{"candidates": ' + candidates.astype("str") + "}"


def _evidence(
    rows: pd.DataFrame, parts: list[tuple[npt.NDArray[np.bool_], Callable[[pd.DataFrame], pd.Series]]]
) -> pd.Series:
    """Each row's evidence (NULL by default): for each (mask, build), build's JSON for the rows the mask selects."""
    evidence = pd.Series(np.nan, index=rows.index, dtype="str")
    for selected, build in parts:
        if selected.any():
            evidence[selected] = build(rows[selected])
    return evidence


def _ambiguous_amount_evidence(orders: pd.DataFrame) -> pd.Series:
    return _unit_price_evidence(orders, with_reading=False)


def _user_candidates_evidence(orders: pd.DataFrame) -> pd.Series:
    return _candidates_evidence(orders["user_candidate_legacy_ids"])


def _product_candidates_evidence(orders: pd.DataFrame) -> pd.Series:
    return _candidates_evidence(orders["product_candidate_legacy_ids"])


def _order_merge_evidence(orders: pd.DataFrame) -> pd.Series:
    """Rule O3: the survivor, equal in every legacy column but the id (the key is the whole row)."""
    survivors = orders["first_legacy_order_id"].astype("Int64")
    return _json_object(
        [("survivor_legacy_id", survivors), ("matched_on", pd.Series("every_column_but_id", index=orders.index))]
    )


def _user_merge_evidence(users: pd.DataFrame) -> pd.Series:
    """Rule U1: the survivor and the normalized email both users have."""
    return _json_object(
        [
            ("survivor_legacy_id", users["surviving_legacy_user_id"].astype("Int64")),
            ("matched_on", pd.Series("email", index=users.index)),
            ("key", users["email"].astype("str")),
        ]
    )


def build_rejects(
    legacy: Mapping[str, LegacyTable],
    users: pd.DataFrame,
    products: pd.DataFrame,
    orders: pd.DataFrame,
    project: Project,
) -> pd.DataFrame:
    """rejects: every legacy row not migrated, once: rejected with its reason, or merged with the row it joined."""
    parts = [
        user_rejects(legacy["old_users"], users, project),
        product_rejects(legacy["old_products"], products, project),
        order_rejects(legacy["old_orders"], orders, project),
    ]
    return quarantine(parts, outcome=None)


# Ledger entries of one legacy table: the table (or a partition of it) and the entries naming its rows.
Entries = tuple[LegacyTable, pd.DataFrame]
_CLASSIFIED = ["outcome", "reason_code"]


def user_rejects(legacy_users: LegacyTable, users: pd.DataFrame, project: Project) -> Entries:
    """The rejects entries of these users (int_users_deduplicated rows) not migrated; legacy_users holds their rows."""
    not_users = _rows(
        users, users["outcome"] != "migrated", ["legacy_user_id", "surviving_legacy_user_id", "email", *_CLASSIFIED]
    )
    user_merged = _bools(not_users["outcome"] == "merged")
    user_evidence = _evidence(not_users, [(user_merged, _user_merge_evidence)])
    entries = _entries(
        not_users["legacy_user_id"],
        not_users["outcome"],
        not_users["reason_code"],
        # For a code the seed names no column for: a user is rejected for its username only (L1).
        _fault_column(not_users["reason_code"], project, "username"),
        not_users["surviving_legacy_user_id"].astype("Int64").where(user_merged),
        user_evidence,
    )
    return legacy_users, entries


def product_rejects(legacy_products: LegacyTable, products: pd.DataFrame, project: Project) -> Entries:
    """The rejects entries of these products (int_products_classified rows) not migrated."""
    not_products = _rows(products, products["outcome"] != "migrated", ["legacy_product_id", *_CLASSIFIED])
    entries = _entries(
        not_products["legacy_product_id"],
        not_products["outcome"],
        not_products["reason_code"],
        # For a code the seed names no column for: a product is rejected for its name only (L1).
        _fault_column(not_products["reason_code"], project, "product_name"),
        None,
    )
    return legacy_products, entries


def order_rejects(legacy_orders: LegacyTable, orders: pd.DataFrame, project: Project) -> Entries:
    """The rejects entries of these orders (int_orders_resolved rows) not migrated."""
    not_orders = _rows(
        orders,
        orders["outcome"] != "migrated",
        [
            "legacy_order_id",
            "first_legacy_order_id",
            "legacy_product_id",
            "product_price",
            "product_currency",
            "legacy_user_id",
            "user_registered_at",
            "user_candidate_legacy_ids",
            "product_candidate_legacy_ids",
            *_CLASSIFIED,
        ],
    )
    order_merged = _bools(not_orders["outcome"] == "merged")
    order_evidence = _evidence(
        not_orders,
        [
            (order_merged, _order_merge_evidence),
            (_bools(not_orders["reason_code"] == "amount_ambiguous"), _ambiguous_amount_evidence),
            (_bools(not_orders["reason_code"] == "order_before_registration"), _registration_evidence),
            # Rules O1, O2: the legacy ids the reference could mean, sorted.
            (_bools(not_orders["reason_code"] == "user_ambiguous"), _user_candidates_evidence),
            (_bools(not_orders["reason_code"] == "product_ambiguous"), _product_candidates_evidence),
        ],
    )
    entries = _entries(
        not_orders["legacy_order_id"],
        not_orders["outcome"],
        not_orders["reason_code"],
        # For a code the seed names no column for: amount_ambiguous, here the unit price's (M4).
        _fault_column(not_orders["reason_code"], project, "unit_price_str_redundant"),
        not_orders["first_legacy_order_id"].astype("Int64").where(order_merged),
        order_evidence,
    )
    return legacy_orders, entries


Check = tuple[str, str, npt.NDArray[np.bool_]]


def _repairs(ids: pd.Series, checks: list[Check], evidence: Mapping[int, pd.Series] | None = None) -> pd.DataFrame:
    """One warning entry per check that holds for a row (the model's `cross join lateral (values …)`); `evidence`
    gives, by the check's position, the evidence of its rows."""
    evidence = evidence or {}
    frames = [
        _entries(ids[holds], "warning", reason, column, None, evidence[i][holds] if i in evidence else None)
        for i, (reason, column, holds) in enumerate(checks)
        if holds.any()
    ]
    if not frames:
        return _entries(ids.iloc[0:0], "warning", "", "", None)
    return pd.concat(frames, ignore_index=True)


def build_warnings(
    legacy: Mapping[str, LegacyTable],
    users: pd.DataFrame,
    products: pd.DataFrame,
    orders: pd.DataFrame,
    mappings: Mappings,
) -> pd.DataFrame:
    """warnings: migrated rows that needed a repair, one row per repair."""
    parts = [
        user_warnings(legacy["old_users"], users, mappings),
        product_warnings(legacy["old_products"], products),
        order_warnings(legacy["old_orders"], orders),
    ]
    return quarantine(parts, outcome="warning")


def user_warnings(legacy_users: LegacyTable, users: pd.DataFrame, mappings: Mappings) -> Entries:
    """The warnings entries of these users (int_users_deduplicated rows) migrated with a repair."""
    u = _rows(
        users,
        users["outcome"] == "migrated",
        [
            "legacy_user_id",
            "email_status",
            "registered_at_status",
            "phone_status",
            "address_status",
            "address_country_key",
            "is_email_too_long",
            "is_full_name_too_long",
            "is_phone_too_long",
        ],
    )
    country_code = u["address_country_key"].map(mappings.countries)
    user_checks = [
        ("email_invalid", "email", _bools(u["email_status"] == "invalid")),
        ("value_too_long", "email", _bools(u["is_email_too_long"])),
        ("value_too_long", "full_name", _bools(u["is_full_name_too_long"])),
        ("registration_date_invalid", "registration_date_str", _bools(u["registered_at_status"] == "invalid")),
        ("phone_not_normalized", "phone_number_str", _bools(u["phone_status"] == "kept_raw")),
        ("value_too_long", "phone_number_str", _bools(u["is_phone_too_long"])),
        ("address_not_split", "address_combined", _bools(u["address_status"] == "not_split")),
        ("country_unknown", "address_combined", _bools(u["address_country_key"].notna() & country_code.isna())),
    ]
    return legacy_users, _repairs(u["legacy_user_id"], user_checks)


def product_warnings(legacy_products: LegacyTable, products: pd.DataFrame) -> Entries:
    """The warnings entries of these products (int_products_classified rows) migrated with a repair."""
    p = _rows(
        products,
        products["outcome"] == "migrated",
        [
            "legacy_product_id",
            "price_status",
            "price",
            "currency",
            "price_currency_status",
            "created_at_status",
            "category_key",
            "category",
        ],
    )
    product_checks = [
        ("price_invalid", "price_str", _bools(p["price_status"] == "invalid")),
        ("price_negative", "price_str", _bools(p["price_status"] == "negative")),
        ("amount_ambiguous", "price_str", _bools(p["price_status"] == "ambiguous")),
        # M2: a bare price is in the legacy currency, an inference the ledger records.
        ("currency_assumed", "price_str", _bools(p["price"].notna()) & _bools(p["price_currency_status"] == "bare")),
        ("created_date_invalid", "created_at_str", _bools(p["created_at_status"] == "invalid")),
        ("category_unknown", "category_name_redundant", _bools(p["category_key"].notna() & p["category"].isna())),
    ]
    return legacy_products, _repairs(
        p["legacy_product_id"], product_checks, {3: _currency_assumed_evidence(p["currency"])}
    )


def order_warnings(legacy_orders: LegacyTable, orders: pd.DataFrame) -> Entries:
    """The warnings entries of these orders (int_orders_resolved rows) migrated with a repair."""
    o = _rows(
        orders,
        orders["outcome"] == "migrated",
        [
            "legacy_order_id",
            "legacy_product_id",
            "quantity",
            "unit_price_status",
            "product_price",
            "product_currency",
            "resolved_unit_price",
            "total_status",
            "total_amount",
            "computed_total",
            "agreed_total",
            "total_currency",
            "order_currency",
            "order_currency_source",
            "product_price_raw",
            "legacy_user_id",
            "user_registered_at",
            "is_dated_before_registration",
        ],
    )
    unit_price_disambiguated = _bools(o["unit_price_status"] == "ambiguous")
    total_missing = _bools(o["total_status"] == "missing")
    total_unreadable = ~total_missing & _bools(o["total_status"] == "invalid")
    total_ambiguous = _bools(o["total_status"] == "ambiguous")
    total_disambiguated = total_ambiguous & _bools(o["agreed_total"].notna())
    mismatch = (
        ~total_missing
        & ~total_unreadable
        & ~total_disambiguated
        & (
            total_ambiguous
            | _bools(o["total_amount"] != o["computed_total"])
            # M2: a bare total is compared in the order's currency, so it never differs.
            | _bools(o["total_currency"].notna() & (o["total_currency"] != o["order_currency"]))
        )
    )
    order_checks = [
        ("amount_disambiguated", "unit_price_str_redundant", unit_price_disambiguated),
        ("currency_from_product", "unit_price_str_redundant", _bools(o["order_currency_source"] == "product")),
        ("currency_assumed", "unit_price_str_redundant", _bools(o["order_currency_source"] == "assumed")),
        ("order_before_registration", "order_date_str", _bools(o["is_dated_before_registration"])),
        ("total_missing", "total_order_amount_str", total_missing),
        ("total_unreadable", "total_order_amount_str", total_unreadable),
        ("amount_disambiguated", "total_order_amount_str", total_disambiguated),
        ("total_mismatch", "total_order_amount_str", mismatch),
    ]
    order_evidence = {
        0: _unit_price_evidence(o, with_reading=True),
        1: _json_object(
            [
                ("currency", o["order_currency"]),
                ("legacy_product_id", o["legacy_product_id"].astype("Int64")),
                ("product_price", o["product_price_raw"]),
            ]
        ),
        2: _currency_assumed_evidence(o["order_currency"]),
        3: _registration_evidence(o),
        6: _json_object(
            [
                ("read_as", _cents_text(o["agreed_total"])),
                ("quantity", o["quantity"].astype("Int64")),
                ("unit_price", _cents_text(o["resolved_unit_price"])),
            ]
        ),
        7: _total_mismatch_evidence(o),
    }
    return legacy_orders, _repairs(o["legacy_order_id"], order_checks, order_evidence)


def build_corrections(corrections: pd.DataFrame, legacy: Mapping[str, LegacyTable], project: Project) -> pd.DataFrame:
    """corrections: every correction (stage_corrections) in the quarantine's shape, `corrected` with reason
    correction_applied where applied, else a warning (correction_stale, correction_unparseable). raw_value is the
    correction's; evidence the corrected value, note, author, file and line, and for a stale one what the legacy
    table holds instead (legacy_rows, legacy_value); legacy_row the legacy row as staged, uncorrected, or only its
    id where it is gone."""
    status = corrections["correction_status"].astype("str")
    reason_code = "correction_" + status
    # As dbt's relationships test on reason_code: every code is one of the reason_codes seed.
    for code in reason_code.unique():
        if code not in project.reason_codes:
            raise PipelineError(f"the reason code {code!r} is not in the reason_codes seed")
    fields = [
        ("corrected_value", corrections["corrected_value"]),
        ("note", corrections["note"]),
        ("author", corrections["author"]),
        ("file", corrections["source_file"]),
        ("line", corrections["line"].astype("Int64")),
    ]
    stale_fields = [("legacy_rows", corrections["legacy_rows"]), ("legacy_value", corrections["legacy_value"])]
    evidence = _json_object(fields).mask(_bools(status == "stale"), _json_object([*fields, *stale_fields]))
    legacy_ids = corrections["legacy_id"].astype("Int64")
    legacy_row = '{"id": ' + _as_text(legacy_ids).fillna("null") + "}"
    for name, table in legacy.items():
        found = _bools(corrections["legacy_table"] == name) & _bools(corrections["row"].notna())
        if found.any():
            legacy_row[found] = legacy_rows(table, corrections.loc[found, "row"].astype("int64")).to_numpy()
    frame = pd.DataFrame(
        {
            "legacy_table": corrections["legacy_table"],
            "legacy_id": legacy_ids,
            "outcome": _text(np.where(_bools(status == "applied"), "corrected", "warning"), corrections.index),
            "stage": "transform",
            "reason_code": reason_code,
            "column_name": corrections["column_name"],
            "raw_value": corrections["raw_value"],
            "merged_into_legacy_id": pd.Series(pd.NA, index=corrections.index, dtype="Int64"),
            "evidence": evidence,
            "legacy_row": legacy_row,
        },
        index=corrections.index,
    )
    return frame.reset_index(drop=True)


# The gate before anything is written.


def check_conservation(legacy: Mapping[str, LegacyTable], outputs: Outputs) -> None:
    """Every staged row migrated or in rejects, as often as it was staged (the dbt project's conservation test:
    NULL ids counted as one group, a repeated id once per copy); else raise."""
    problems = []
    for legacy_table, (mart, key) in LEGACY_TABLE_MARTS.items():
        staged = legacy[legacy_table].rows["id"].astype("Int64")
        migrated = outputs.marts[mart][key].astype("Int64")
        rejected = outputs.rejects.loc[_bools(outputs.rejects["legacy_table"] == legacy_table), "legacy_id"]
        accounted = pd.concat([migrated, rejected.astype("Int64")], ignore_index=True)
        staged_counts = staged.value_counts(dropna=False)
        accounted_counts = accounted.value_counts(dropna=False)
        if not staged_counts.sort_index().equals(accounted_counts.sort_index()):
            both = pd.concat([staged_counts, accounted_counts], axis=1).fillna(0)
            differing = int((both.iloc[:, 0] != both.iloc[:, 1]).sum())
            problems.append(
                f"{legacy_table}: {len(staged)} staged, {len(migrated)} migrated + {len(rejected)} rejected or merged"
                f" ({differing} ids not accounted for as often as staged)"
            )
    if problems:
        raise PipelineError("conservation check failed, nothing was written: " + "; ".join(problems))


# The marts' data tests that the legacy data can fail: (mart, column) unique, (mart, column, parent, key) found.
MART_UNIQUE = (
    ("users", "legacy_user_id"),
    ("users", "username"),
    ("users", "email"),
    ("addresses", "legacy_user_id"),
    ("products", "legacy_product_id"),
    ("orders", "legacy_order_id"),
    ("order_items", "legacy_order_id"),
)
MART_REFERENCES = (
    ("addresses", "legacy_user_id", "users", "legacy_user_id"),
    ("orders", "legacy_user_id", "users", "legacy_user_id"),
    ("order_items", "legacy_order_id", "orders", "legacy_order_id"),
    ("order_items", "legacy_product_id", "products", "legacy_product_id"),
    ("products", "category_name", "product_categories", "name"),
)


def check_mart_tests(outputs: Outputs) -> None:
    """The marts' data tests that the legacy data can fail (keys unique, references resolved); else raise.

    dbt runs these after building each mart and fails the build on one; so does this engine, before writing.
    """
    marts = outputs.marts
    failures = []
    for table, column in MART_UNIQUE:
        values = marts[table][column].dropna()
        repeated = values[values.duplicated()]
        if not repeated.empty:
            failures.append(
                f"{table}.{column} is not unique ({len(repeated)} repeats, e.g. {repeated.head(1).tolist()})"
            )
    for table, column, parent, key in MART_REFERENCES:
        values = marts[table][column].dropna()
        orphans = values[~values.isin(marts[parent][key])]
        if not orphans.empty:
            example = orphans.head(1).tolist()
            failures.append(f"{table}.{column} names {len(orphans)} rows missing from {parent}.{key}, e.g. {example}")
    if failures:
        raise PipelineError("the marts fail dbt's data tests, nothing was written: " + "; ".join(failures))


def prepare(project: Project, rules: TextRules) -> tuple[Project, dict[str, str | None]]:
    """The project with its mapping seeds folded by the database's text rules, and rule M2's currency lookup."""
    try:
        mappings = project.mappings.folded(lambda spellings: parse.mapping_key(spellings, rules))
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    project = replace(project, mappings=mappings)
    return project, currency_lookup(project, lambda spellings: parse.currency_key(spellings, rules))


def transform(
    legacy: Mapping[str, LegacyTable],
    corrections: pd.DataFrame,
    snapshot_taken_at: datetime | None,
    project: Project,
    rules: TextRules,
) -> Outputs:
    """Every model, staging to quarantine, on the staged legacy tables and the staged corrections."""
    project, currencies = prepare(project, rules)
    staged_corrections = stage_corrections(corrections, legacy, project, rules, currencies)
    # Rule C2: the staging models (and O3's comparison) read the corrected rows; the quarantine's raw values and
    # legacy rows stay the legacy table's own.
    read = {name: replace(table, rows=corrected_rows(table, staged_corrections)) for name, table in legacy.items()}
    users = deduplicate_users(_in_chunks(read["old_users"].rows, lambda rows: stage_users(rows, rules)), project)
    products = classify_products(
        _in_chunks(
            read["old_products"].rows,
            lambda rows: stage_products(rows, rules, currencies, project.legacy_currency),
        ),
        project,
    )
    staged_orders = _in_chunks(read["old_orders"].rows, lambda rows: stage_orders(rows, rules, currencies))
    orders = resolve_orders(
        staged_orders, first_of_duplicates(read["old_orders"]), users, products, project, snapshot_taken_at
    )
    del read
    return Outputs(
        marts=build_marts(users, products, orders, project),
        rejects=build_rejects(legacy, users, products, orders, project),
        warnings=build_warnings(legacy, users, products, orders, project.mappings),
        corrections=build_corrections(staged_corrections, legacy, project),
    )
