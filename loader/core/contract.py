"""The names that pass between the stages, written once: schemas, tables, their order, keys and locks.

Stage writes `STAGING_SCHEMA`, the transform (dbt or pandas) reads it and writes `MART_SCHEMA` and
`QUARANTINE_SCHEMA`, publish reads those and writes the Alembic-managed tables. Every module that needs one of
these names imports it from here; the dbt project states the same names in its YAML, and the tests check that the
two agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent.parent
DBT_PROJECT_DIR: Final = PROJECT_ROOT / "dbt_project"
SEEDS_DIR: Final = DBT_PROJECT_DIR / "seeds"

# The two databases' default names (the embedded server creates both).
DEFAULT_OLD_DB_NAME: Final = "old_bad_db"
DEFAULT_NEW_DB_NAME: Final = "new_good_db"
# Every SQLAlchemy URL the project builds uses psycopg 3.
DRIVER: Final = "postgresql+psycopg"

# Where stage copies the legacy tables in the target database, and the table recording that copy's snapshot.
STAGING_SCHEMA: Final = "staging"
SNAPSHOT_TABLE: Final = "legacy_snapshot"
# Where the transform writes: the marts publish upserts, and the quarantine (rejects, warnings) it records.
MART_SCHEMA: Final = "dbt_marts"
QUARANTINE_SCHEMA: Final = "dbt_quarantine"
# A one-row table in QUARANTINE_SCHEMA: the snapshot time of the staging a transform was built from.
TRANSFORM_STAMP: Final = "transform_stamp"

# The marts, parents before children: the order the transform writes them and publish upserts them.
MartTable = Literal["users", "addresses", "product_categories", "products", "orders", "order_items"]
MART_ORDER: Final[tuple[MartTable, ...]] = (
    "users",
    "addresses",
    "product_categories",
    "products",
    "orders",
    "order_items",
)

QuarantineTable = Literal["rejects", "warnings"]
QUARANTINE_TABLES: Final[tuple[QuarantineTable, ...]] = ("rejects", "warnings")
# The columns of both quarantine tables, in order, with the types their SELECTs give (dbt's contract on the
# quarantine models states the same; a test compares them).
QUARANTINE_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("legacy_table", "text"),
    ("legacy_id", "bigint"),
    ("outcome", "text"),
    ("stage", "text"),
    ("reason_code", "text"),
    ("column_name", "text"),
    ("raw_value", "text"),
    ("merged_into_legacy_id", "bigint"),
    ("evidence", "jsonb"),
    ("legacy_row", "jsonb"),
)
QUARANTINE_COLUMN_NAMES: Final = tuple(name for name, _ in QUARANTINE_COLUMNS)

# What each legacy table becomes: its target table and the column there that keeps the legacy id.
LegacyTableName = Literal["old_users", "old_products", "old_orders"]
LEGACY_TABLE_MARTS: Final[dict[LegacyTableName, tuple[MartTable, str]]] = {
    "old_users": ("users", "legacy_user_id"),
    "old_products": ("products", "legacy_product_id"),
    "old_orders": ("orders", "legacy_order_id"),
}
# The legacy tables, parents first: the order stage copies them and publish reconciles them.
LEGACY_TABLES: Final[tuple[LegacyTableName, ...]] = tuple(LEGACY_TABLE_MARTS)

# Advisory locks are per database, keyed by two int4s: the project's key, then which lock.
LOCK_CLASS: Final = 0x1E6AC7
RUN_LOCK: Final = 1
# Taken by publish for its transaction, so a publish called directly (as the benchmark does) never overlaps
# another one either.
PUBLISH_LOCK: Final = 2
