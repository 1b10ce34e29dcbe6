"""The dbt marts' enforced contracts and the Alembic models describe the same columns in the same types."""

from __future__ import annotations

import yaml
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from loader.core.contract import (
    CORRECTIONS_TABLE,
    DBT_PROJECT_DIR,
    LEGACY_TABLES,
    SNAPSHOT_TABLE,
    STAGING_SCHEMA,
    dbt_var,
)
from loader.core.models import Base

MARTS_YML = DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml"
# Where a mart column stands for a target column under another name: the target holds a surrogate key that
# the publish step looks up from the legacy key the mart carries.
LOOKED_UP = {
    "addresses": {"legacy_user_id": "user_id"},
    "products": {"category_name": "category_id"},
    "orders": {"legacy_user_id": "user_id"},
    "order_items": {"legacy_product_id": "product_id"},
}
# Target columns no mart feeds: surrogate keys and what the legacy data never held.
NOT_MIGRATED = {
    "users": {"user_id", "password_hash"},
    "addresses": {"address_id"},
    "product_categories": {"category_id"},
    "products": {"product_id"},
    "orders": {"order_id"},
    "order_items": {"order_item_id", "order_id"},
}
# dbt's spelling of a type -> PostgreSQL's, as SQLAlchemy compiles the model's type.
DBT_TO_POSTGRES = {
    "timestamp": "TIMESTAMP WITHOUT TIME ZONE",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "text": "TEXT",
}


def _postgres_type(dbt_type: str) -> str:
    if dbt_type in DBT_TO_POSTGRES:
        return DBT_TO_POSTGRES[dbt_type]
    name, _, size = dbt_type.partition("(")
    return f"{'VARCHAR' if name == 'varchar' else name.upper()}({size.replace(',', ', ')}" if size else name.upper()


def _marts() -> dict[str, dict[str, str]]:
    models = yaml.safe_load(MARTS_YML.read_text())["models"]
    return {model["name"]: {column["name"]: column["data_type"] for column in model["columns"]} for model in models}


def test_every_target_table_has_a_mart_with_matching_column_types() -> None:
    marts = _marts()
    assert set(marts) == set(NOT_MIGRATED)
    dialect = postgresql.dialect()
    for name, mart_columns in marts.items():
        table = Base.metadata.tables[name]
        assert isinstance(table, Table)
        renamed = LOOKED_UP.get(name, {})
        fed = set()
        for column, dbt_type in mart_columns.items():
            if column in renamed:
                fed.add(renamed[column])
                continue
            assert column in table.c, f"mart {name}.{column} has no target column"
            expected = table.c[column].type.compile(dialect=dialect)
            if table.c[column].type.__class__.__name__ == "Enum":
                expected = "VARCHAR(20)"  # the mart carries the enum's label; publish casts it
            assert _postgres_type(dbt_type) == expected, f"{name}.{column}: mart {dbt_type}, target {expected}"
            fed.add(column)
        assert fed | NOT_MIGRATED[name] == set(table.c.keys()), f"{name}: columns no mart feeds"


def test_every_varchar_width_the_transform_checks_is_the_targets() -> None:
    """Rules L1 and L2 read widths from the marts' contracts (both engines): each is its target column's length."""
    from loader.transform.pandas_engine.project import contract_width, load_project

    project = load_project()
    checked = {("users", "username"), ("users", "email"), ("users", "full_name"), ("users", "phone")}
    checked |= {("products", "name")}
    for mart, column in checked:
        target = Base.metadata.tables[mart].c[column].type
        assert contract_width(project, mart, column) == getattr(target, "length", None), f"{mart}.{column}"


def test_the_staging_schema_dbt_reads_is_the_one_stage_writes() -> None:
    # dbt_project.yml names it for the models' sources; loader.core.contract for stage, publish and the pandas engine.
    assert dbt_var("legacy_staging_schema") == STAGING_SCHEMA
    sources = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_legacy__sources.yml").read_text())
    tables = {table["name"] for source in sources["sources"] for table in source["tables"]}
    assert tables == {*LEGACY_TABLES, SNAPSHOT_TABLE, CORRECTIONS_TABLE}
