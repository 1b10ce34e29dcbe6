"""The legacy contract as SQLAlchemy tables: the seeder creates the legacy app's tables from them, and the
loader refuses a legacy column of another type family than its table's, on a real server."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.schema import CreateTable
from sqlalchemy.types import TypeEngine

from loader.core.contract import LEGACY_TABLES
from loader.core.legacy_schema import (
    LEGACY_METADATA,
    LEGACY_SCHEMA,
    POSTGRESQL,
    catalogue_family,
    column_contract,
    create_table_sql,
    type_family,
)
from loader.stage.copy import LegacySchemaError, check_legacy_schema, legacy_columns, staged_column
from tests.support.databases import Databases, run_module

# The legacy app's own DDL, as it created its tables before the contract became SQLAlchemy tables: the tables
# the seeder creates must be these, column for column and constraint for constraint.
LEGACY_APP_DDL = (
    "create table {}.old_users (id int primary key, username varchar(50) unique not null, email varchar(100) unique, "
    "full_name varchar(100), registration_date_str varchar(20), address_combined text, phone_number_str varchar(20))",
    "create table {}.old_products (id int primary key, product_name varchar(100) not null, description text, "
    "price_str varchar(20), category_name_redundant varchar(50), created_at_str varchar(20))",
    "create table {}.old_orders (id int primary key, user_identifier_text varchar(100), order_date_str varchar(20), "
    "status_text varchar(20), product_name_redundant varchar(100), quantity int, unit_price_str_redundant varchar(20), "
    "total_order_amount_str varchar(20))",
)

WHERE = "the legacy database"


Catalogue = dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]


def _catalogue(conn: psycopg.Connection, schema: str) -> Catalogue:
    """Each legacy table's columns (name, type, not null, default, identity) and constraints (name, definition)."""
    found: Catalogue = {}
    for table in LEGACY_TABLES:
        relation = sql.Identifier(schema, table).as_string(conn)
        columns = conn.execute(
            "select attname::text, format_type(atttypid, atttypmod), attnotnull, "
            "pg_get_expr(adbin, adrelid), attidentity::text from pg_attribute "
            "left join pg_attrdef on adrelid = attrelid and adnum = attnum "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
            (relation,),
        ).fetchall()
        constraints = conn.execute(
            "select conname::text, pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass "
            "order by conname",
            (relation,),
        ).fetchall()
        found[table] = (columns, constraints)
    return found


def _legacy_tables(conn: psycopg.Connection) -> None:
    """The legacy tables as the seeder creates them, empty, in public."""
    for table in LEGACY_SCHEMA:
        conn.execute(create_table_sql(table))


def test_the_legacy_tables_are_the_contracts_names_parents_first() -> None:
    assert tuple(LEGACY_SCHEMA) == LEGACY_TABLES
    assert set(LEGACY_METADATA.tables) == set(LEGACY_TABLES)


def test_the_seeder_creates_the_legacy_apps_tables_in_the_configured_schema(databases: Databases) -> None:
    schema = 'Legacy "App"'
    run_module(
        "seeder",
        "--configured-database",
        databases.old_name,
        "--size",
        "20",
        env=databases.env(OLD_DB_SCHEMA=schema),
    )
    with databases.old() as conn:
        conn.execute("create schema as_written")
        for statement in LEGACY_APP_DDL:
            conn.execute(statement.format("as_written"))
        seeded = _catalogue(conn, schema)
        assert seeded == _catalogue(conn, "as_written")
        # Nothing in public: every statement named the configured schema.
        assert conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone() == (0,)


@pytest.mark.parametrize(
    ("table", "column", "legacy_type", "shown"),
    [
        ("old_orders", "quantity", "text", "text"),
        ("old_orders", "quantity", "numeric(10,2)", "numeric(10,2)"),
        ("old_orders", "quantity", "double precision", "double precision"),
        ("old_users", "id", "varchar(20)", "character varying(20)"),
        ("old_products", "id", "timestamp", "timestamp without time zone"),
        ("old_products", "id", "boolean", "boolean"),
    ],
)
def test_a_legacy_column_of_another_type_family_is_refused_in_one_line(
    databases: Databases, table: str, column: str, legacy_type: str, shown: str
) -> None:
    with databases.old() as conn:
        _legacy_tables(conn)
        conn.execute(
            sql.SQL("alter table {} alter column {} type {} using null").format(
                sql.Identifier(table), sql.Identifier(column), sql.SQL(legacy_type)
            )
        )
        with pytest.raises(LegacySchemaError) as refused:
            check_legacy_schema(conn, WHERE)
    message = str(refused.value)
    assert message.startswith(f"legacy column {table}.{column} is {shown}, but the pipeline reads it as integer")
    assert "\n" not in message


def test_wider_text_other_integers_and_extra_columns_are_accepted_and_noted(databases: Databases) -> None:
    with databases.old() as conn:
        _legacy_tables(conn)
        conn.execute("alter table old_users alter column username type text")
        conn.execute("alter table old_users alter column full_name type varchar(300)")
        conn.execute("alter table old_users alter column phone_number_str type varchar(10)")
        conn.execute("alter table old_users alter column id type bigint")
        conn.execute("alter table old_orders alter column quantity type smallint")
        conn.execute("alter table old_products alter column category_name_redundant type char(60)")
        # Contract text of another family: every type has a text form, and the transform parses text.
        conn.execute("alter table old_products alter column price_str type numeric(10,2) using null")
        conn.execute("alter table old_orders add column note jsonb")
        shape = check_legacy_schema(conn, WHERE)

    staged = {(table, column.name): column.type_sql for table, columns in shape.columns.items() for column in columns}
    assert staged[("old_users", "username")] == "text"
    assert staged[("old_users", "full_name")] == "character varying(300)"
    assert staged[("old_users", "phone_number_str")] == "character varying(10)"
    assert staged[("old_users", "id")] == "bigint"
    assert staged[("old_orders", "quantity")] == "smallint"
    assert staged[("old_products", "category_name_redundant")] == "character(60)"
    assert staged[("old_products", "price_str")] == "text"
    assert staged[("old_orders", "note")] == "text"
    notes = "\n".join(shape.notes)
    assert "old_users.username is text, wider than the contract's text (varchar(50))" in notes
    assert "old_users.full_name is character varying(300), wider than the contract's text (varchar(100))" in notes
    assert "old_products.category_name_redundant is character(60), wider" in notes
    assert "old_users.id is bigint, the contract says integer: staged as bigint" in notes
    assert "old_orders.quantity is smallint, the contract says integer" in notes
    assert "old_products.price_str is numeric(10,2), the contract says text (varchar(20)): staged as its text form" in (
        notes
    )
    # A narrower text column, and the columns as documented, need no note.
    assert len(shape.notes) == 6, shape.notes


def test_an_int_where_bigint_is_documented_is_accepted(databases: Databases) -> None:
    with databases.old() as conn:
        conn.execute("create table legacy (id int, code varchar(5))")
        found_id, found_code = legacy_columns(conn, "legacy")
    documented_bigint = column_contract(Column("id", BigInteger))
    kept, note = staged_column("legacy", found_id, documented_bigint)
    assert kept == found_id
    assert note == "legacy.id is integer, the contract says bigint: staged as integer"
    # Text narrower than documented fits wherever the documented width does: no note.
    assert staged_column("legacy", found_code, column_contract(Column("code", String(8)))) == (found_code, "")


FAMILIES: list[tuple[TypeEngine[Any], str]] = [
    (SmallInteger(), "integer"),
    (Integer(), "integer"),
    (BigInteger(), "integer"),
    (Numeric(12, 2), "numeric"),
    (Double(), "float"),
    (String(20), "text"),
    (String(), "text"),
    (Text(), "text"),
    (CHAR(3), "text"),
    (DateTime(), "timestamp"),
    (DateTime(timezone=True), "timestamp"),
    (Date(), "date"),
    (Boolean(), "boolean"),
]


def test_each_sqlalchemy_type_and_the_catalogues_reading_of_it_are_of_one_family(databases: Databases) -> None:
    columns = [Column(f"c{i}", column_type) for i, (column_type, _) in enumerate(FAMILIES)]
    table = Table("families", MetaData(), *columns)
    with databases.old() as conn:
        conn.execute(str(CreateTable(table).compile(dialect=POSTGRESQL)))
        found = legacy_columns(conn, "families")
    for (column_type, family), column in zip(FAMILIES, found, strict=True):
        assert type_family(column_type) == family, column_type
        assert catalogue_family(column.type_name, column.category) == family, (column_type, column)
    with pytest.raises(ValueError, match="no type family"):
        type_family(LargeBinary())
