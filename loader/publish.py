"""Publish: upsert the dbt marts into the Alembic tables, set-based, in one transaction.

Every statement is an INSERT … SELECT or DELETE … WHERE NOT EXISTS run inside PostgreSQL; no row passes
through Python. Rows are keyed by their legacy ids, so surrogate ids stay the same from run to run, and an
update only touches a row whose values changed (IS DISTINCT FROM), so a second run writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import (
    Connection,
    Table,
    cast,
    column,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql import Select
from sqlalchemy.sql.expression import Alias, TableClause

from loader.cli_errors import PipelineError
from loader.models import (
    Address,
    LedgerEntry,
    Order,
    OrderItem,
    Product,
    ProductCategory,
    User,
)
from loader.stage import STAGING_SCHEMA

MART_SCHEMA = "dbt_marts"
QUARANTINE_SCHEMA = "dbt_quarantine"
# One key for every run of this pipeline against one target database.
ADVISORY_LOCK_KEY = 0x1E6AC7
DeletePolicy = Literal["delete", "keep"]

LEGACY_TABLE_MARTS = {
    "old_users": ("users", "legacy_user_id"),
    "old_products": ("products", "legacy_product_id"),
    "old_orders": ("orders", "legacy_order_id"),
}


def _relation(schema: str, name: str, *columns: str) -> TableClause:
    return table(name, *(column(c) for c in columns), schema=schema)


def mart(name: str, *columns: str) -> Alias:
    # Aliased: a mart shares its name with the target table it feeds, and SQL must tell them apart.
    return _relation(MART_SCHEMA, name, *columns).alias(f"mart_{name}")


QUARANTINE_COLUMNS = (
    "legacy_table",
    "legacy_id",
    "outcome",
    "stage",
    "reason_code",
    "column_name",
    "raw_value",
    "merged_into_legacy_id",
    "legacy_row",
)


@dataclass
class PublishResult:
    written: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    ledger_rows: int = 0


class GateFailed(PipelineError):
    """A check before commit failed; nothing was published."""


def _upsert(conn: Connection, target: Table, key: str, source: Select[tuple[object, ...]]) -> int:
    """INSERT … SELECT … ON CONFLICT (key) DO UPDATE of the changed rows only; returns rows written."""
    names = [c.name for c in source.selected_columns]
    statement = pg_insert(target).from_select(names, source)
    changing = [name for name in names if name != key]
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: statement.excluded[name] for name in changing},
        where=or_(*(target.c[name].is_distinct_from(statement.excluded[name]) for name in changing)),
    )
    return int(conn.execute(statement).rowcount)


def _delete_missing(conn: Connection, target: Table, key: str, source: Alias, source_key: str) -> int:
    """Delete target rows whose legacy key no longer comes out of the marts."""
    still_there = select(literal(1)).select_from(source).where(source.c[source_key] == target.c[key]).exists()
    statement = delete(target).where(~still_there)
    return int(conn.execute(statement).rowcount)


def check_conservation(conn: Connection) -> list[str]:
    """Every staged legacy row is migrated or in rejects, exactly once; returns what does not add up."""
    rejects = _relation(QUARANTINE_SCHEMA, "rejects", "legacy_table", "legacy_id")
    problems = []
    for legacy_table, (mart_name, key) in LEGACY_TABLE_MARTS.items():
        staged = _relation(STAGING_SCHEMA, legacy_table, "id")
        migrated = mart(mart_name, key)
        counts = conn.execute(
            select(
                select(func.count()).select_from(staged).scalar_subquery(),
                select(func.count()).select_from(migrated).scalar_subquery(),
                select(func.count())
                .select_from(rejects)
                .where(rejects.c.legacy_table == legacy_table)
                .scalar_subquery(),
            )
        ).one()
        read, done, rejected = (int(n) for n in counts)
        if read != done + rejected:
            problems.append(f"{legacy_table}: {read} rows staged but {done} migrated + {rejected} rejected or merged")
    return problems


def publish(conn: Connection, run_id: int, delete_policy: DeletePolicy = "delete") -> PublishResult:
    """Write the marts into the target tables within the caller's transaction; raise GateFailed if they don't add up."""
    locked = conn.execute(select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY))).scalar_one()
    if not locked:
        raise PipelineError("another run is publishing to this target database; wait for it to finish and retry")
    problems = check_conservation(conn)
    if problems:
        raise GateFailed("conservation check failed, nothing was published: " + "; ".join(problems))
    # Foreign keys and secondary unique keys are checked at commit, once every table is in its final state.
    conn.execute(text("set constraints all deferred"))

    users_mart = mart("users", "legacy_user_id", "username", "email", "full_name", "phone", "registered_at")
    addresses_mart = mart(
        "addresses", "legacy_user_id", "street", "city", "state", "postal_code", "country", "address_raw"
    )
    categories_mart = mart("product_categories", "name")
    products_mart = mart(
        "products", "legacy_product_id", "name", "description", "category_name", "price", "currency", "created_at"
    )
    orders_mart = mart(
        "orders", "legacy_order_id", "legacy_user_id", "status", "ordered_at", "total_amount", "currency"
    )
    items_mart = mart("order_items", "legacy_order_id", "legacy_product_id", "quantity", "unit_price", "currency")
    users, addresses, categories = User.__table__, Address.__table__, ProductCategory.__table__
    products, orders, items = Product.__table__, Order.__table__, OrderItem.__table__

    result = PublishResult()
    if delete_policy == "delete":
        # Children first; the foreign keys are deferred, but deleting in this order keeps the counts honest.
        result.deleted["order_items"] = _delete_missing(conn, items, "legacy_order_id", items_mart, "legacy_order_id")
        result.deleted["orders"] = _delete_missing(conn, orders, "legacy_order_id", orders_mart, "legacy_order_id")
        address_keys = select(users.c.user_id).join(
            addresses_mart, addresses_mart.c.legacy_user_id == users.c.legacy_user_id
        )
        result.deleted["addresses"] = int(
            conn.execute(delete(addresses).where(addresses.c.user_id.not_in(address_keys))).rowcount
        )
        result.deleted["users"] = _delete_missing(conn, users, "legacy_user_id", users_mart, "legacy_user_id")
        result.deleted["products"] = _delete_missing(
            conn, products, "legacy_product_id", products_mart, "legacy_product_id"
        )

    result.written["product_categories"] = int(
        conn.execute(
            pg_insert(categories)
            .from_select(["name"], select(categories_mart.c.name))
            .on_conflict_do_nothing(index_elements=["name"])
        ).rowcount
    )
    result.written["users"] = _upsert(conn, users, "legacy_user_id", select(*users_mart.c))
    result.written["addresses"] = _upsert(
        conn,
        addresses,
        "user_id",
        select(users.c.user_id, *(c for c in addresses_mart.c if c.name != "legacy_user_id")).join(
            users, users.c.legacy_user_id == addresses_mart.c.legacy_user_id
        ),
    )
    result.written["products"] = _upsert(
        conn,
        products,
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
    )
    result.written["orders"] = _upsert(
        conn,
        orders,
        "legacy_order_id",
        select(
            orders_mart.c.legacy_order_id,
            users.c.user_id,
            cast(orders_mart.c.status, orders.c.status.type).label("status"),
            orders_mart.c.ordered_at,
            orders_mart.c.total_amount,
            orders_mart.c.currency,
        ).join(users, users.c.legacy_user_id == orders_mart.c.legacy_user_id),
    )
    result.written["order_items"] = _upsert(
        conn,
        items,
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
    )
    if delete_policy == "delete":
        used = exists().where(products.c.category_id == categories.c.category_id)
        result.deleted["product_categories"] = int(conn.execute(delete(categories).where(~used)).rowcount)

    result.ledger_rows = _append_ledger(conn, run_id)
    return result


def _append_ledger(conn: Connection, run_id: int) -> int:
    """Append this run's rejects, merges and warnings to the ledger, which keeps every run."""
    ledger = LedgerEntry.__table__
    total = 0
    for name in ("rejects", "warnings"):
        source = _relation(QUARANTINE_SCHEMA, name, *QUARANTINE_COLUMNS)
        rows = select(
            literal(run_id).label("run_id"),
            source.c.legacy_table,
            source.c.legacy_id,
            cast(source.c.outcome, ledger.c.outcome.type).label("outcome"),
            source.c.stage,
            source.c.reason_code,
            source.c.column_name,
            source.c.raw_value,
            source.c.merged_into_legacy_id,
            source.c.legacy_row.label("raw_row"),
        )
        total += int(
            conn.execute(pg_insert(ledger).from_select([c.name for c in rows.selected_columns], rows)).rowcount
        )
    return total


def rejected_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Per legacy table, how many rows the marts' run rejected and merged."""
    rejects = _relation(QUARANTINE_SCHEMA, "rejects", "legacy_table", "outcome")
    counts: dict[str, dict[str, int]] = {table_name: {"rejected": 0, "merged": 0} for table_name in LEGACY_TABLE_MARTS}
    rows = conn.execute(
        select(rejects.c.legacy_table, rejects.c.outcome, func.count()).group_by(
            rejects.c.legacy_table, rejects.c.outcome
        )
    )
    for legacy_table, outcome, n in rows:
        counts.setdefault(legacy_table, {})[outcome] = int(n)
    return counts
