"""create target tables: users, addresses, categories, products, orders, items, runs, ledger

Revision ID: 0001
Revises:
Create Date: 2026-11-24 09:40:23.144980
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "migration_runs",
        sa.Column("run_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "status in ('running', 'published', 'planned', 'failed')", name=op.f("ck_migration_runs_status_known")
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_migration_runs")),
    )
    op.create_table(
        "product_categories",
        sa.Column("category_id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.CheckConstraint("name <> '' and name = btrim(name)", name=op.f("ck_product_categories_name_trimmed")),
        sa.PrimaryKeyConstraint("category_id", name=op.f("pk_product_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_product_categories_name")),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("legacy_user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=100), nullable=True),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("registered_at", sa.DateTime(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", deferrable=True, initially="IMMEDIATE", name=op.f("uq_users_email")),
        sa.UniqueConstraint("legacy_user_id", name=op.f("uq_users_legacy_user_id")),
        sa.UniqueConstraint("username", deferrable=True, initially="IMMEDIATE", name=op.f("uq_users_username")),
    )
    op.create_table(
        "addresses",
        sa.Column("address_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=50), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=60), nullable=True),
        sa.Column("address_raw", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_addresses_user_id_users"),
            ondelete="CASCADE",
            initially="IMMEDIATE",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("address_id", name=op.f("pk_addresses")),
        sa.UniqueConstraint("user_id", name=op.f("uq_addresses_user_id")),
    )
    op.create_table(
        "migration_ledger",
        sa.Column("ledger_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("legacy_table", sa.String(length=63), nullable=False),
        sa.Column("legacy_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Enum("rejected", "merged", "warning", name="ledger_outcome"), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("reason_code", sa.String(length=50), nullable=False),
        sa.Column("column_name", sa.String(length=63), nullable=True),
        sa.Column("raw_value", sa.Text(), nullable=True),
        sa.Column("merged_into_legacy_id", sa.Integer(), nullable=True),
        sa.Column("raw_row", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["migration_runs.run_id"], name=op.f("fk_migration_ledger_run_id_migration_runs")
        ),
        sa.PrimaryKeyConstraint("ledger_id", name=op.f("pk_migration_ledger")),
    )
    op.create_index(
        op.f("ix_migration_ledger_legacy_table_legacy_id_run_id"),
        "migration_ledger",
        ["legacy_table", "legacy_id", "run_id"],
        unique=False,
    )
    op.create_index(op.f("ix_migration_ledger_run_id"), "migration_ledger", ["run_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("order_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("legacy_order_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "processing", "shipped", "delivered", "cancelled", "returned", name="order_status"),
            nullable=False,
        ),
        sa.Column("ordered_at", sa.DateTime(), nullable=False),
        sa.Column("total_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_orders_currency_code")),
        sa.CheckConstraint("total_amount >= 0", name=op.f("ck_orders_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_orders_user_id_users"), initially="IMMEDIATE", deferrable=True
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
        sa.UniqueConstraint("legacy_order_id", name=op.f("uq_orders_legacy_order_id")),
    )
    op.create_index(op.f("ix_orders_user_id"), "orders", ["user_id"], unique=False)
    op.create_table(
        "products",
        sa.Column("product_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("legacy_product_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_products_currency_code")),
        sa.CheckConstraint("(price is null) = (currency is null)", name=op.f("ck_products_price_has_currency")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_products_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["product_categories.category_id"],
            name=op.f("fk_products_category_id_product_categories"),
            initially="IMMEDIATE",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_products")),
        sa.UniqueConstraint("legacy_product_id", name=op.f("uq_products_legacy_product_id")),
    )
    op.create_index(op.f("ix_products_category_id"), "products", ["category_id"], unique=False)
    op.create_table(
        "order_items",
        sa.Column("order_item_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("legacy_order_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_order_items_currency_code")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_items_quantity_positive")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_order_items_unit_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.order_id"],
            name=op.f("fk_order_items_order_id_orders"),
            ondelete="CASCADE",
            initially="IMMEDIATE",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.product_id"],
            name=op.f("fk_order_items_product_id_products"),
            initially="IMMEDIATE",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("order_item_id", name=op.f("pk_order_items")),
        sa.UniqueConstraint("legacy_order_id", name=op.f("uq_order_items_legacy_order_id")),
    )
    op.create_index(op.f("ix_order_items_order_id"), "order_items", ["order_id"], unique=False)
    op.create_index(op.f("ix_order_items_product_id"), "order_items", ["product_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_items_product_id"), table_name="order_items")
    op.drop_index(op.f("ix_order_items_order_id"), table_name="order_items")
    op.drop_table("order_items")
    op.drop_index(op.f("ix_products_category_id"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_orders_user_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_migration_ledger_run_id"), table_name="migration_ledger")
    op.drop_index(op.f("ix_migration_ledger_legacy_table_legacy_id_run_id"), table_name="migration_ledger")
    op.drop_table("migration_ledger")
    op.drop_table("addresses")
    op.drop_table("users")
    op.drop_table("product_categories")
    op.drop_table("migration_runs")
    # drop_table leaves enum types behind; without this a downgrade then upgrade fails on CREATE TYPE.
    sa.Enum(name="ledger_outcome").drop(op.get_bind(), checkfirst=False)
    sa.Enum(name="order_status").drop(op.get_bind(), checkfirst=False)
