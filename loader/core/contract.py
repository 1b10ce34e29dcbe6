"""The names that pass between the stages, written once: schemas, tables, their order, keys and locks.

Stage writes `STAGING_SCHEMA`, the transform (dbt or pandas) reads it and writes `MART_SCHEMA` and
`QUARANTINE_SCHEMA`, publish reads those and writes the Alembic-managed tables. Every module that needs one of
these names imports it from here; the dbt project states the same names in its YAML, and the tests check that the
two agree.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast, get_args

import yaml

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent.parent
DBT_PROJECT_DIR: Final = PROJECT_ROOT / "dbt_project"
SEEDS_DIR: Final = DBT_PROJECT_DIR / "seeds"
# The reason codes of the ledger, one row each: what SQL, pandas, the scorer and the docs all read (issue 13).
REASON_CODES_SEED: Final = "reason_codes"

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
MART_ORDER: Final[tuple[MartTable, ...]] = get_args(MartTable)

# rejects: every legacy row not migrated; warnings: what migrated rows carry; corrections: each per-row correction
# of the corrections files and whether it was applied.
QuarantineTable = Literal["rejects", "warnings", "corrections"]
QUARANTINE_TABLES: Final[tuple[QuarantineTable, ...]] = get_args(QuarantineTable)
# The columns of the quarantine tables, in order, with the types their SELECTs give (dbt's contract on the
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

# Per-row corrections (issue 14): one CSV per legacy table, `<legacy table>.csv`, in the corrections directory
# (CORRECTIONS_DIR, default PROJECT_ROOT/corrections). Stage copies them all into CORRECTIONS_TABLE in staging,
# beside the legacy tables of the same snapshot; both transform engines read them from there.
CORRECTIONS_DIR: Final = PROJECT_ROOT / "corrections"
CORRECTIONS_TABLE: Final = "corrections"
CORRECTION_FILE_COLUMNS: Final = ("legacy_id", "column", "raw_value", "corrected_value", "note", "author")
# The staging table stage writes them into, column by column with its type (the pandas engine and dbt read it).
CORRECTION_STAGED_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("legacy_table", "text not null"),
    ("legacy_id", "bigint not null"),
    ("column_name", "text not null"),
    ("raw_value", "text"),
    ("corrected_value", "text"),
    ("note", "text not null"),
    ("author", "text not null"),
    ("source_file", "text not null"),
    ("line", "integer not null"),
)
# What became of a correction: applied (the legacy row holds the raw value it names, and the corrected value reads
# by the column's rule), stale (the row no longer holds that raw value, or is gone, or its id is repeated) or
# unparseable (the corrected value does not read); the last two are reported and change nothing.
CorrectionStatus = Literal["applied", "stale", "unparseable"]
CORRECTION_STATUSES: Final[tuple[CorrectionStatus, ...]] = get_args(CorrectionStatus)
# The reason code of each (the quarantine's corrections model writes 'correction_' || status).
CORRECTION_REASONS: Final[dict[CorrectionStatus, str]] = {
    status: f"correction_{status}" for status in CORRECTION_STATUSES
}

# Advisory locks are per database, keyed by two int4s: the project's key, then which lock.
LOCK_CLASS: Final = 0x1E6AC7
RUN_LOCK: Final = 1
# Taken by publish for its transaction, so a publish called directly (as the benchmark does) never overlaps
# another one either.
PUBLISH_LOCK: Final = 2


# The ledger's outcomes a reason code can have (loader.core.models.LedgerOutcome; a test keeps the two equal).
ReasonOutcome = Literal["rejected", "merged", "warning", "corrected"]
REASON_OUTCOMES: Final[tuple[ReasonOutcome, ...]] = get_args(ReasonOutcome)


@dataclass(frozen=True)
class ReasonCode:
    """One row of the reason_codes seed: a code, its ledger outcome, the legacy column and rule it is about."""

    code: str
    outcome: ReasonOutcome
    # None where the code is about the whole row or about several columns (the ledger row names the column).
    legacy_column: str | None
    rule_id: str
    description: str


def reason_codes(seeds_dir: Path = SEEDS_DIR) -> dict[str, ReasonCode]:
    """The reason_codes seed by code, in the seed's order; a code written twice or an unknown outcome is refused."""
    codes: dict[str, ReasonCode] = {}
    # utf-8-sig: dbt reads a seed that an editor saved with a byte-order mark, and so must this.
    with (seeds_dir / f"{REASON_CODES_SEED}.csv").open(newline="", encoding="utf-8-sig") as seed:
        for row in csv.DictReader(seed):
            outcome = row["outcome"]
            if outcome not in REASON_OUTCOMES:
                raise ValueError(f"reason code {row['code']!r}: outcome {outcome!r} is none of {REASON_OUTCOMES}")
            if row["code"] in codes:
                raise ValueError(f"reason code {row['code']!r} is written twice in the seed")
            codes[row["code"]] = ReasonCode(
                code=row["code"],
                outcome=cast(ReasonOutcome, outcome),
                legacy_column=row["legacy_column"] or None,
                rule_id=row["rule_id"],
                description=row["description"],
            )
    return codes


def dbt_var(name: str, project_dir: Path = DBT_PROJECT_DIR) -> object:
    """A var of dbt_project.yml's `vars:` block as written there (no `--vars` overrides); KeyError if unset."""
    with (project_dir / "dbt_project.yml").open(encoding="utf-8") as project:
        variables = yaml.safe_load(project).get("vars") or {}
    if name not in variables:
        raise KeyError(f"dbt_project.yml sets no var {name!r}")
    return variables[name]
