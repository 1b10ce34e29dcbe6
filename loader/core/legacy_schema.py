"""The legacy schema, as the legacy app created it: the pipeline's input contract, written once.

The loader checks a legacy database against it before copying anything; the seeder creates its tables from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# The schema that holds the legacy tables unless OLD_DB_SCHEMA names another one. Every statement on the legacy
# side names it, so a role whose search_path starts elsewhere can neither stage a stray table of the same name
# nor have the seeder drop one.
DEFAULT_LEGACY_SCHEMA = "public"

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

Family = Literal["integer", "text"]


@dataclass(frozen=True)
class ColumnContract:
    """What the pipeline expects of one legacy column: its type family, and for text its documented width."""

    name: str
    family: Family
    width: int | None  # characters; None for text of any length

    def describe(self) -> str:
        if self.family == "integer":
            return "an integer (int)"
        return f"text (varchar({self.width}))" if self.width is not None else "text"


def _contract(name: str, definition: str) -> ColumnContract:
    type_name = definition.split()[0]
    if type_name == "int":
        return ColumnContract(name, "integer", None)
    width = re.fullmatch(r"varchar\((\d+)\)", type_name)
    if width:
        return ColumnContract(name, "text", int(width.group(1)))
    if type_name == "text":
        return ColumnContract(name, "text", None)
    raise ValueError(f"legacy contract: no type family for column {name} ({definition})")


def required_columns(table: str) -> tuple[str, ...]:
    return tuple(name for name, _ in LEGACY_SCHEMA[table])


def column_contracts(table: str) -> dict[str, ColumnContract]:
    """The contract of each of the table's columns, by name."""
    return {name: _contract(name, definition) for name, definition in LEGACY_SCHEMA[table]}


def create_table_sql(table: str, schema: str = DEFAULT_LEGACY_SCHEMA) -> str:
    columns = ",\n    ".join(f"{name} {definition}" for name, definition in LEGACY_SCHEMA[table])
    return f"create table {quote_identifier(schema)}.{table} (\n    {columns}\n)"


def quote_identifier(name: str) -> str:
    """A name as SQL reads it whatever it holds: double-quoted, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema: str, table: str) -> str:
    """`"schema"."table"`, as to_regclass reads it: never taken for an expression, never found on search_path."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"
