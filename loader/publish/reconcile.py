"""Reconciliation: after writing, the target's business values compared with the staged legacy rows they came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Text, and_, case, cast, exists, func, literal, or_, select, tuple_
from sqlalchemy.sql import Select
from sqlalchemy.sql.expression import ColumnElement

from loader.core.contract import CORRECTIONS_TABLE, STAGING_SCHEMA
from loader.core.db import row_values
from loader.publish.gates import EXAMPLES, GateResult
from loader.publish.relations import (
    items,
    items_mart,
    orders,
    orders_mart,
    products,
    quarantine,
    rejects,
    relation,
    users,
)
from loader.publish.write import DeletePolicy


def _row_fingerprint(rows: Select[Any], columns: Sequence[str]) -> Select[Any]:
    """(count, sum of 64-bit hashes of each row's text): equal for two sides holding the same rows the same
    number of times, and for different rows only by a vanishing chance. One scan per side, no join."""
    listed = rows.subquery("listed")
    # A row's text output quotes and separates its fields: (1,,x) and (1,x,) hash apart, as do NULL and ''.
    row_text = cast(tuple_(*(listed.c[name] for name in columns)), Text)
    return select(func.count(), func.coalesce(func.sum(func.hashtextextended(row_text, 0)), 0))


def _mismatches(
    conn: Connection, expected: Select[Any], actual: Select[Any], keys: Sequence[str], values: Sequence[str]
) -> tuple[int, int, list[str]]:
    """Full join of two row sets on their keys: (rows compared, rows that differ, a few examples).

    The two sides' fingerprints are compared first: when they agree, so do the rows, and the join is skipped
    (a million-row join costs several times the two scans). Only when they differ does the join run, and it
    decides: a fingerprint can differ for equal values written differently (2.5 and 2.50).
    """
    columns = [*keys, *values]
    expected_rows, expected_sum = row_values(conn.execute(_row_fingerprint(expected, columns)).one())
    actual_rows, actual_sum = row_values(conn.execute(_row_fingerprint(actual, columns)).one())
    if (expected_rows, expected_sum) == (actual_rows, actual_sum):
        return int(expected_rows), 0, []
    left, right = expected.subquery("expected"), actual.subquery("actual")
    on = and_(*(left.c[k] == right.c[k] for k in keys))
    differs = or_(*(left.c[v].is_distinct_from(right.c[v]) for v in values))
    compared = select(
        *(func.coalesce(left.c[k], right.c[k]).label(k) for k in keys),
        *(left.c[v].label(f"expected_{v}") for v in values),
        *(right.c[v].label(f"actual_{v}") for v in values),
        differs.label("differs"),
    ).join_from(left, right, on, full=True)
    both = compared.subquery("compared")
    total, differing = conn.execute(select(func.count(), func.count().filter(both.c.differs))).one()
    if not differing:
        return int(total), 0, []
    examples = conn.execute(
        select(both).where(both.c.differs).order_by(*(both.c[k] for k in keys)).limit(EXAMPLES)
    ).all()
    described = []
    for row in examples:
        mapping = row._mapping
        key_text = ", ".join(f"{k} {mapping[k]}" for k in keys)
        value_text = ", ".join(
            f"{v} {mapping[f'expected_{v}']} legacy vs {mapping[f'actual_{v}']} target" for v in values
        )
        described.append(f"({key_text}: {value_text})")
    return int(total), int(differing), described


def _pair_fingerprint(legacy_id: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A sum of 64-bit hashes of (id, integer value) pairs: each id hashed with its value as the seed, so every
    bit of a bigint id and of the value counts."""
    return func.coalesce(func.sum(func.hashint8extended(cast(legacy_id, BigInteger), cast(value, BigInteger))), 0)


def _quantity_gate(conn: Connection) -> GateResult:
    """Every migrated legacy order kept its legacy quantity, or the one a person's correction gave it: the staged
    rows the transform classified as migrated (staged minus rejected or merged) and the order-items mart hold the
    same (id, quantity) pairs.

    Compared as fingerprints (one scan of each side, no million-row join); with this, the order-by-order
    comparisons below, taken over the mart's quantities, hold for the legacy quantities too.
    """
    staged = relation(STAGING_SCHEMA, "old_orders", "id", "quantity")
    # A quantity a person corrected (rule C2) is the legacy quantity as corrected: the staged correction's value
    # (the file's, not the transform's copy of it), where the transform applied it. One that is no integer is
    # NULL here, so the legacy quantity stands and the comparison fails rather than the cast.
    recorded = quarantine("corrections")
    staged_corrections = relation(
        STAGING_SCHEMA, CORRECTIONS_TABLE, "legacy_table", "legacy_id", "column_name", "corrected_value"
    )
    written = func.btrim(staged_corrections.c.corrected_value)
    corrected_quantities = (
        select(
            cast(staged_corrections.c.legacy_id, BigInteger).label("legacy_id"),
            case((written.regexp_match("^[+-]?[0-9]{1,9}$"), cast(written, BigInteger))).label("quantity"),
        )
        .join_from(
            staged_corrections,
            recorded,
            and_(
                recorded.c.legacy_table == staged_corrections.c.legacy_table,
                recorded.c.legacy_id == staged_corrections.c.legacy_id,
                recorded.c.column_name == staged_corrections.c.column_name,
            ),
        )
        .where(
            staged_corrections.c.legacy_table == "old_orders",
            staged_corrections.c.column_name == "quantity",
            recorded.c.outcome == "corrected",
        )
        .subquery("corrected_quantities")
    )
    not_migrated = (
        select(literal(1))
        .select_from(rejects)
        .where(rejects.c.legacy_table == "old_orders", cast(rejects.c.legacy_id, BigInteger) == staged.c.id)
        .exists()
    )
    # A row without an id is always rejected (legacy_id_missing), and no NOT EXISTS can match it by id.
    quantity = func.coalesce(corrected_quantities.c.quantity, staged.c.quantity)
    legacy_side = (
        select(func.count(), _pair_fingerprint(staged.c.id, quantity))
        .select_from(staged.outerjoin(corrected_quantities, corrected_quantities.c.legacy_id == staged.c.id))
        .where(staged.c.id.is_not(None), ~not_migrated)
    )
    mart_side = select(
        func.count(), _pair_fingerprint(items_mart.c.legacy_order_id, items_mart.c.quantity)
    ).select_from(items_mart)
    legacy_rows, legacy_sum = conn.execute(legacy_side).one()
    mart_rows, mart_sum = conn.execute(mart_side).one()
    if legacy_rows == mart_rows and legacy_sum == mart_sum:
        detail = f"{mart_rows} orders keep their legacy quantity"
        return GateResult("reconciliation", "quantity per order", True, detail)
    return GateResult(
        "reconciliation",
        "quantity per order",
        False,
        f"{legacy_rows} migrated legacy orders vs {mart_rows} items to publish, and their quantities differ"
        if legacy_rows != mart_rows
        else f"the quantities of the {mart_rows} migrated orders differ between the legacy rows and the items",
    )


def reconciliation_gates(conn: Connection, delete_policy: DeletePolicy) -> list[GateResult]:
    """Business values, legacy side vs target side, order by order and item by item, inside PostgreSQL.

    Legacy side: the legacy orders the transform classified as migrated — their legacy quantity (proven
    equal, order by order, to the mart's by the quantity gate), the unit price parsed from their legacy
    text, and the user and product they were resolved to. Target side: the published orders and items,
    through their surrogate keys back to legacy ids. Each order must keep its user, currency and amount
    (quantity x unit price), each item its product and quantity; so per user the count and the sum of order
    totals agree, and per product the quantity sold. The readings are the transform's, so this proves the
    publish (keys, joins, totals), not the parsing. Under --on-missing keep, target rows whose legacy row no
    longer migrates are left out (reported apart).
    """
    expected_orders = select(
        orders_mart.c.legacy_order_id,
        orders_mart.c.legacy_user_id,
        items_mart.c.currency,
        (items_mart.c.quantity * items_mart.c.unit_price).label("amount"),
    ).join_from(orders_mart, items_mart, items_mart.c.legacy_order_id == orders_mart.c.legacy_order_id)
    actual_orders = select(
        orders.c.legacy_order_id, users.c.legacy_user_id, orders.c.currency, orders.c.total_amount.label("amount")
    ).join_from(orders, users, users.c.user_id == orders.c.user_id)
    expected_items = select(items_mart.c.legacy_order_id, items_mart.c.legacy_product_id, items_mart.c.quantity)
    actual_items = select(items.c.legacy_order_id, products.c.legacy_product_id, items.c.quantity).join_from(
        items, products, products.c.product_id == items.c.product_id
    )
    if delete_policy == "keep":
        actual_orders = actual_orders.where(exists().where(orders_mart.c.legacy_order_id == orders.c.legacy_order_id))
        actual_items = actual_items.where(exists().where(items_mart.c.legacy_order_id == items.c.legacy_order_id))

    gates = [_quantity_gate(conn)]
    for subject, what, expected, actual, values in (
        ("orders per user", "orders", expected_orders, actual_orders, ("legacy_user_id", "currency", "amount")),
        ("items per product", "items", expected_items, actual_items, ("legacy_product_id", "quantity")),
    ):
        total, differing, examples = _mismatches(conn, expected, actual, ("legacy_order_id",), values)
        if differing:
            detail = f"{differing} of {total} {what} differ, e.g. " + "; ".join(examples)
        else:
            detail = f"{total} {what} equal, one by one ({', '.join(values)})"
        gates.append(GateResult("reconciliation", subject, not differing, detail))
    return gates
