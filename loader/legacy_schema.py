"""The legacy schema, as the legacy app created it: the pipeline's input contract, written once.

The loader checks a legacy database against it before copying anything; the seeder creates its tables from it.
"""

from __future__ import annotations

# table -> ((column, definition), ...), in the legacy app's column order.
LEGACY_SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "old_users": (
        ("id", "int primary key"),
        ("username", "varchar(50) unique not null"),
        ("email", "varchar(100) unique"),
        ("full_name", "varchar(100)"),
        ("registration_date_str", "varchar(20)"),
        ("address_combined", "text"),
        ("phone_number_str", "varchar(20)"),
    ),
    "old_products": (
        ("id", "int primary key"),
        ("product_name", "varchar(100) not null"),
        ("description", "text"),
        ("price_str", "varchar(20)"),
        ("category_name_redundant", "varchar(50)"),
        ("created_at_str", "varchar(20)"),
    ),
    "old_orders": (
        ("id", "int primary key"),
        ("user_identifier_text", "varchar(100)"),
        ("order_date_str", "varchar(20)"),
        ("status_text", "varchar(20)"),
        ("product_name_redundant", "varchar(100)"),
        ("quantity", "int"),
        ("unit_price_str_redundant", "varchar(20)"),
        ("total_order_amount_str", "varchar(20)"),
    ),
}


def required_columns(table: str) -> tuple[str, ...]:
    return tuple(name for name, _ in LEGACY_SCHEMA[table])


def create_table_sql(table: str) -> str:
    columns = ",\n    ".join(f"{name} {definition}" for name, definition in LEGACY_SCHEMA[table])
    return f"create table {table} (\n    {columns}\n)"
