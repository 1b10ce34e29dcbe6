"""The legacy schema, as the legacy app created it: the pipeline's input contract, written once.

SQLAlchemy Core tables on a metadata of their own (the target's models are another schema, in another database).
The loader checks a legacy database against them before copying anything; the seeder creates its tables from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.elements import quoted_name
from sqlalchemy.types import TypeEngine

from loader.core.contract import LEGACY_TABLES, LegacyTableName

# The schema that holds the legacy tables unless OLD_DB_SCHEMA names another one. Every statement on the legacy
# side names it, so a role whose search_path starts elsewhere can neither stage a stray table of the same name
# nor have the seeder drop one.
DEFAULT_LEGACY_SCHEMA = "public"

# The names PostgreSQL gave the legacy app's inline `primary key` and `unique` constraints, so tables created
# from these definitions have the very constraints (names included) the legacy app's DDL made.
LEGACY_NAMING_CONVENTION: Final = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
}

LEGACY_METADATA: Final = MetaData(naming_convention=LEGACY_NAMING_CONVENTION)

# What the legacy server speaks; the DDL and type names are compiled for it. (SQLAlchemy's dialect constructors
# carry no annotations.)
POSTGRESQL: Final = postgresql.dialect()  # type: ignore[no-untyped-call]


def _legacy_table(name: LegacyTableName, *columns: Column[Any]) -> Table:
    return Table(name, LEGACY_METADATA, *columns)


def _id() -> Column[int]:
    # Not autoincrement: the legacy app chose its ids, and a serial here would add a sequence the app never had.
    return Column("id", Integer, primary_key=True, autoincrement=False)


# In the legacy app's column order, which COPY and the seeder's rows follow.
old_users: Final = _legacy_table(
    "old_users",
    _id(),
    Column("username", String(50), unique=True, nullable=False),
    Column("email", String(100), unique=True),
    Column("full_name", String(100)),
    Column("registration_date_str", String(20)),
    Column("address_combined", Text),
    Column("phone_number_str", String(20)),
)

old_products: Final = _legacy_table(
    "old_products",
    _id(),
    Column("product_name", String(100), nullable=False),
    Column("description", Text),
    Column("price_str", String(20)),
    Column("category_name_redundant", String(50)),
    Column("created_at_str", String(20)),
)

old_orders: Final = _legacy_table(
    "old_orders",
    _id(),
    Column("user_identifier_text", String(100)),
    Column("order_date_str", String(20)),
    Column("status_text", String(20)),
    Column("product_name_redundant", String(100)),
    Column("quantity", Integer),
    Column("unit_price_str_redundant", String(20)),
    Column("total_order_amount_str", String(20)),
)

# Every legacy table, parents first (LEGACY_TABLES' order); a name there without a table fails at import.
LEGACY_SCHEMA: Final[Mapping[LegacyTableName, Table]] = {name: LEGACY_METADATA.tables[name] for name in LEGACY_TABLES}

Family = Literal["integer", "numeric", "float", "text", "timestamp", "date", "boolean"]

# The catalogue's base type names (pg_type.typname) of each family but text, which is every type of the string
# category (typcategory 'S': text, varchar, bpchar, name, ...).
CATALOGUE_FAMILIES: Final[Mapping[str, Family]] = {
    "int2": "integer",
    "int4": "integer",
    "int8": "integer",
    "numeric": "numeric",
    "float4": "float",
    "float8": "float",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "date": "date",
    "bool": "boolean",
}


def catalogue_family(type_name: str, category: str) -> Family | None:
    """The family of a type as the catalogue names it (its typname and typcategory); None for any other."""
    if category == "S":
        return "text"
    return CATALOGUE_FAMILIES.get(type_name)


def type_family(column_type: TypeEngine[Any]) -> Family:
    """The family of a SQLAlchemy type: what a legacy column documented in that type may be instead."""
    # Float before Numeric: SQLAlchemy has made Float a Numeric in some versions.
    families: tuple[tuple[type[TypeEngine[Any]], Family], ...] = (
        (Integer, "integer"),
        (Float, "float"),
        (Numeric, "numeric"),
        (String, "text"),
        (DateTime, "timestamp"),
        (Date, "date"),
        (Boolean, "boolean"),
    )
    for kind, family in families:
        if isinstance(column_type, kind):
            return family
    raise ValueError(f"legacy contract: no type family for {column_type!r}")


@dataclass(frozen=True)
class ColumnContract:
    """What the pipeline expects of one legacy column: its type family, and for text its documented width."""

    name: str
    family: Family
    width: int | None  # characters, for text; None for text of any length and for every other family
    documented: str  # the documented type as PostgreSQL spells it: integer, varchar(50), text, ...

    def describe(self) -> str:
        if self.family == "text":
            return f"text ({self.documented})" if self.width is not None else "text"
        return self.documented


def column_contract(column: Column[Any]) -> ColumnContract:
    family = type_family(column.type)
    width = column.type.length if isinstance(column.type, String) else None
    # format_type's spelling (no space after a comma), so it compares with what the catalogue reports.
    documented = column.type.compile(dialect=POSTGRESQL).lower().replace(", ", ",")
    return ColumnContract(column.name, family, width, documented)


def required_columns(table: str) -> tuple[str, ...]:
    """The table's columns, in the legacy app's order."""
    return tuple(column.name for column in LEGACY_METADATA.tables[table].columns)


def column_contracts(table: str) -> dict[str, ColumnContract]:
    """The contract of each of the table's columns, by name, in the legacy app's order."""
    return {column.name: column_contract(column) for column in LEGACY_METADATA.tables[table].columns}


def create_table_sql(table: str, schema: str = DEFAULT_LEGACY_SCHEMA) -> str:
    """The table's CREATE TABLE in `schema` (quoted, so taken as named), for a psycopg connection to run."""
    in_schema = LEGACY_METADATA.tables[table].to_metadata(
        MetaData(naming_convention=LEGACY_NAMING_CONVENTION), schema=quoted_name(schema, quote=True)
    )
    return str(CreateTable(in_schema).compile(dialect=POSTGRESQL)).strip()


def quote_identifier(name: str) -> str:
    """A name as SQL reads it whatever it holds: double-quoted, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema: str, table: str) -> str:
    """`"schema"."table"`, as to_regclass reads it: never taken for an expression, never found on search_path."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"
