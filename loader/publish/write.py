"""Writing the target tables: the mart rows as upserts (incremental) or plain inserts with keys rebuilt (bulk)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    ForeignKeyConstraint,
    Table,
    UniqueConstraint,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import NamedFromClause

from loader.publish.relations import (
    WRITE_ORDER,
    addresses,
    addresses_mart,
    categories,
    items,
    items_mart,
    orders,
    orders_mart,
    products,
    products_mart,
    users,
    users_mart,
)

DeletePolicy = Literal["delete", "keep"]


def mart_sources() -> dict[str, tuple[str, Select[Any]]]:
    """Per target table: its legacy key and the SELECT of its rows from the marts, surrogate keys looked up."""
    return {
        "users": ("legacy_user_id", select(*users_mart.c)),
        "addresses": (
            "user_id",
            select(users.c.user_id, *(c for c in addresses_mart.c if c.name != "legacy_user_id")).join(
                users, users.c.legacy_user_id == addresses_mart.c.legacy_user_id
            ),
        ),
        "products": (
            "legacy_product_id",
            select(
                products_mart.c.legacy_product_id,
                products_mart.c.name,
                products_mart.c.description,
                categories.c.category_id,
                products_mart.c.price,
                products_mart.c.currency,
                products_mart.c.created_at,
            ).outerjoin(categories, categories.c.name == products_mart.c.category_name),
        ),
        "orders": (
            "legacy_order_id",
            select(
                orders_mart.c.legacy_order_id,
                users.c.user_id,
                cast(orders_mart.c.status, orders.c.status.type).label("status"),
                orders_mart.c.ordered_at,
                orders_mart.c.total_amount,
                orders_mart.c.currency,
            ).join(users, users.c.legacy_user_id == orders_mart.c.legacy_user_id),
        ),
        "order_items": (
            "legacy_order_id",
            select(
                items_mart.c.legacy_order_id,
                orders.c.order_id,
                products.c.product_id,
                items_mart.c.quantity,
                items_mart.c.unit_price,
                items_mart.c.currency,
            )
            .join(orders, orders.c.legacy_order_id == items_mart.c.legacy_order_id)
            .join(products, products.c.legacy_product_id == items_mart.c.legacy_product_id),
        ),
    }


def upsert(conn: Connection, target: Table, key: str, source: Select[Any]) -> int:
    """INSERT … SELECT … ON CONFLICT (key) DO UPDATE of the new and changed rows only; returns rows written.

    The SELECT already leaves out rows equal to the target's (a hash join), so unchanged rows are never
    touched: ON CONFLICT would otherwise lock, and so rewrite, every row it merely compares.
    """
    incoming = source.subquery("incoming")
    names = [c.name for c in incoming.c]
    changing = [name for name in names if name != key]
    existing = target.alias("existing")
    new_or_changed = (
        select(*incoming.c)
        .outerjoin(existing, existing.c[key] == incoming.c[key])
        .where(
            or_(
                existing.c[key].is_(None),
                tuple_(*(existing.c[n] for n in changing)).is_distinct_from(tuple_(*(incoming.c[n] for n in changing))),
            )
        )
    )
    statement = pg_insert(target).from_select(names, new_or_changed)
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: statement.excluded[name] for name in changing},
        where=tuple_(*(target.c[n] for n in changing)).is_distinct_from(
            tuple_(*(statement.excluded[n] for n in changing))
        ),
    )
    return int(conn.execute(statement).rowcount)


def insert_all(conn: Connection, target: Table, key: str, source: Select[Any]) -> int:
    """The bulk path: a plain INSERT … SELECT into the empty table, in legacy-id order.

    The order makes surrogate ids follow legacy ids, as a fresh migration's always do, and lets the key
    indexes be built from presorted rows.
    """
    incoming = source.subquery("incoming")
    statement = insert(target).from_select([c.name for c in incoming.c], select(*incoming.c).order_by(incoming.c[key]))
    return int(conn.execute(statement).rowcount)


def _delete_missing(conn: Connection, target: Table, key: str, source: NamedFromClause, source_key: str) -> int:
    """Delete target rows whose legacy key no longer comes out of the marts."""
    still_there = select(literal(1)).select_from(source).where(source.c[source_key] == target.c[key]).exists()
    return int(conn.execute(delete(target).where(~still_there)).rowcount)


def _count_missing(conn: Connection, target: Table, key: str, source: NamedFromClause, source_key: str) -> int:
    """Under --on-missing keep: how many target rows the marts no longer hold."""
    still_there = select(literal(1)).select_from(source).where(source.c[source_key] == target.c[key]).exists()
    return int(conn.execute(select(func.count()).select_from(target).where(~still_there)).scalar_one())


MISSING_CHECKS = {
    "order_items": (items, "legacy_order_id", items_mart, "legacy_order_id"),
    "orders": (orders, "legacy_order_id", orders_mart, "legacy_order_id"),
    "users": (users, "legacy_user_id", users_mart, "legacy_user_id"),
    "products": (products, "legacy_product_id", products_mart, "legacy_product_id"),
}


def delete_or_count_missing(
    conn: Connection, delete_policy: DeletePolicy, skip: Iterable[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Children first. Under `delete`, return rows deleted; under `keep`, rows left in place."""
    deleted: dict[str, int] = {}
    kept: dict[str, int] = {}
    skipped = set(skip)
    address_kept = (
        select(literal(1))
        .select_from(users)
        .join(addresses_mart, addresses_mart.c.legacy_user_id == users.c.legacy_user_id)
        .where(users.c.user_id == addresses.c.user_id)
        .exists()
    )
    for name in ("order_items", "orders", "addresses", "users", "products"):
        if name in skipped:
            continue
        if name == "addresses":
            if delete_policy == "delete":
                deleted[name] = int(conn.execute(delete(addresses).where(~address_kept)).rowcount)
            else:
                count = select(func.count()).select_from(addresses).where(~address_kept)
                kept[name] = int(conn.execute(count).scalar_one())
            continue
        target, key, source, source_key = MISSING_CHECKS[name]
        if delete_policy == "delete":
            deleted[name] = _delete_missing(conn, target, key, source, source_key)
        else:
            kept[name] = _count_missing(conn, target, key, source, source_key)
    return deleted, kept


def bulk_tables(conn: Connection) -> list[Table]:
    """The tables to write on the bulk path: empty, every key and index of the models present by name, and
    no foreign key from outside the models pointing at them (dropping their keys would break it)."""
    names = [t.name for t in WRITE_ORDER]
    present: set[str] = set(
        conn.execute(
            text(
                "select conname from pg_constraint where conrelid = any(cast(:tables as regclass[])) "
                "union all select indexname from pg_indexes where schemaname = current_schema() "
                "and tablename = any(:names)"
            ),
            {"tables": names, "names": names},
        ).scalars()
    )
    model_fks = {fk.name for t in WRITE_ORDER for fk in t.foreign_key_constraints}
    outside_refs: set[str] = set(
        conn.execute(
            text(
                "select confrelid::regclass::text from pg_constraint "
                "where contype = 'f' and confrelid = any(cast(:tables as regclass[])) and not conname = any(:known)"
            ),
            {"tables": names, "known": sorted(str(n) for n in model_fks)},
        ).scalars()
    )
    bulk: list[Table] = []
    for target in WRITE_ORDER:
        keys = _keys_and_indexes(target)
        if target.name in outside_refs or not all(str(k.name) in present for k in keys):
            continue
        if conn.execute(select(exists().select_from(target))).scalar_one():
            continue
        bulk.append(target)
    # A table can only lose its keys if every table that references it is on the bulk path too. The models'
    # foreign keys make that so (a row pointing at an empty table cannot exist), but check rather than trust.
    changed = True
    while changed:
        changed = False
        for target in list(bulk):
            referencing = [t for t in WRITE_ORDER for fk in t.foreign_key_constraints if fk.referred_table is target]
            if any(t not in bulk for t in referencing):
                bulk.remove(target)
                changed = True
    return bulk


def _keys_and_indexes(target: Table) -> list[Any]:
    """The models' primary key, unique constraints, indexes and foreign keys of a table, rebuild order."""
    uniques = [c for c in target.constraints if isinstance(c, UniqueConstraint)]
    return [
        target.primary_key,
        *sorted(uniques, key=lambda c: str(c.name)),
        *sorted(target.indexes, key=lambda i: str(i.name)),
        *sorted(target.foreign_key_constraints, key=lambda c: str(c.name)),
    ]


def drop_keys(conn: Connection, bulk: Sequence[Table]) -> None:
    """Drop the bulk tables' foreign keys first (they depend on the referenced keys), then keys and indexes."""
    for target in bulk:
        for fk in target.foreign_key_constraints:
            conn.execute(DropConstraint(fk))
    for target in bulk:
        for index in target.indexes:
            conn.execute(DropIndex(index))
        for constraint in _keys_and_indexes(target):
            if not isinstance(constraint, ForeignKeyConstraint) and constraint not in target.indexes:
                conn.execute(DropConstraint(constraint))


def restore_keys(conn: Connection, bulk: Sequence[Table]) -> None:
    """Rebuild the dropped keys and indexes exactly as the models define them; foreign keys last, validated."""
    for target in bulk:
        for item in _keys_and_indexes(target):
            if item in target.indexes:
                conn.execute(CreateIndex(item))
            elif not isinstance(item, ForeignKeyConstraint):
                conn.execute(AddConstraint(item))
    for target in bulk:
        for fk in target.foreign_key_constraints:
            # One join over the whole table checks every row; the constraint is as the migration created it.
            conn.execute(AddConstraint(fk))
        # Fresh statistics for the reconciliation's joins, which run next in this transaction.
        conn.execute(text(f"analyze {conn.dialect.identifier_preparer.quote(target.name)}"))
