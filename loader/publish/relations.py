"""The relations publish reads and writes: the target tables (Alembic's models), the dbt marts and the quarantine."""

from __future__ import annotations

from sqlalchemy import Table, column, table
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.sql.selectable import NamedFromClause

from loader.core.contract import (
    MART_ORDER,
    MART_SCHEMA,
    QUARANTINE_COLUMN_NAMES,
    QUARANTINE_SCHEMA,
    QuarantineTable,
)
from loader.core.models import Address, LedgerEntry, Order, OrderItem, Product, ProductCategory, User, table_of

users, addresses, categories = table_of(User), table_of(Address), table_of(ProductCategory)
products, orders, items = table_of(Product), table_of(Order), table_of(OrderItem)
ledger = table_of(LedgerEntry)
TARGET_TABLES: dict[str, Table] = {t.name: t for t in (users, addresses, categories, products, orders, items)}

# The marts' order, parents before children: the order of upserts and of key rebuilds; deletes run the other way.
# Categories are written apart (by name, before the rest) and deleted last, when no product names them.
WRITE_ORDER: tuple[Table, ...] = tuple(TARGET_TABLES[name] for name in MART_ORDER if name != "product_categories")


def relation(schema: str, name: str, *columns: str) -> TableClause:
    """A table outside the models (staging, dbt), with the columns a statement uses."""
    return table(name, *(column(c) for c in columns), schema=schema)


def mart(name: str, *columns: str) -> NamedFromClause:
    # Aliased: a mart shares its name with the target table it feeds, and SQL must tell them apart.
    return relation(MART_SCHEMA, name, *columns).alias(f"mart_{name}")


users_mart = mart("users", "legacy_user_id", "username", "email", "full_name", "phone", "registered_at")
addresses_mart = mart(
    "addresses", "legacy_user_id", "street", "city", "state", "postal_code", "country", "country_code", "address_raw"
)
categories_mart = mart("product_categories", "name")
products_mart = mart(
    "products", "legacy_product_id", "name", "description", "category_name", "price", "currency", "created_at"
)
orders_mart = mart("orders", "legacy_order_id", "legacy_user_id", "status", "ordered_at", "total_amount", "currency")
items_mart = mart("order_items", "legacy_order_id", "legacy_product_id", "quantity", "unit_price", "currency")


def quarantine(name: QuarantineTable) -> TableClause:
    """dbt's quarantine: `rejects` (rejected and merged legacy rows), `warnings` (repairs to migrated rows) or
    `corrections` (each per-row correction: applied, or why not)."""
    return relation(QUARANTINE_SCHEMA, name, *QUARANTINE_COLUMN_NAMES)


rejects = quarantine("rejects")
