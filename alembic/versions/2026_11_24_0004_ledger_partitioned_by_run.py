"""migration_ledger partitioned by run: publish attaches each run's entries as a partition of their own

Filling a fresh table and attaching it builds the ledger's indexes and checks its foreign key once per run,
where inserting into one big table maintained them row by row (two thirds of the append's time). The entries
already recorded move into one partition that covers every run so far.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "ledger_id, run_id, recorded_at, legacy_table, legacy_id, outcome, stage, reason_code, column_name, raw_value, "
    "merged_into_legacy_id, raw_row"
)
OLD = "migration_ledger_0003"
NEW = "migration_ledger_0004"


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("ledger_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("legacy_table", sa.String(length=63), nullable=False),
        sa.Column("legacy_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            postgresql.ENUM("rejected", "merged", "warning", name="ledger_outcome", create_type=False),
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("reason_code", sa.String(length=50), nullable=False),
        sa.Column("column_name", sa.String(length=63), nullable=True),
        sa.Column("raw_value", sa.Text(), nullable=True),
        sa.Column("merged_into_legacy_id", sa.Integer(), nullable=True),
        sa.Column("raw_row", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["migration_runs.run_id"], name=op.f("fk_migration_ledger_run_id_migration_runs")
        ),
    ]


def _set_aside(table: str, suffix: str, indexes: Sequence[str]) -> None:
    """Rename the ledger and its schema-wide names (indexes, identity sequence) out of the new one's way."""
    op.execute(f"alter table migration_ledger rename to {table}")
    for index in indexes:
        op.execute(f"alter index {index} rename to {index}_{suffix}")
    op.execute(f"alter sequence migration_ledger_ledger_id_seq rename to {table}_ledger_id_seq")


def _copy_rows_from(table: str, before_copy: str = "") -> None:
    """Every entry, ids kept, and the identity sequence set past them: the next entries number on."""
    op.execute(
        f"""
        do $$
        declare
            last_run bigint;
        begin
            select max(run_id) into last_run from {table};
            if last_run is null then
                return;
            end if;
            {before_copy}
            insert into migration_ledger ({COLUMNS}) overriding system value select {COLUMNS} from {table};
            perform setval(pg_get_serial_sequence('migration_ledger', 'ledger_id'), max(ledger_id)) from {table};
        end
        $$
        """
    )
    op.drop_table(table)


def upgrade() -> None:
    _set_aside(
        OLD,
        "0003",
        ["pk_migration_ledger", "ix_migration_ledger_legacy_table_legacy_id_run_id", "ix_migration_ledger_run_id"],
    )
    op.create_table(
        "migration_ledger",
        *_columns(),
        sa.PrimaryKeyConstraint("ledger_id", "run_id", name=op.f("pk_migration_ledger")),
        postgresql_partition_by="RANGE (run_id)",
    )
    op.create_index(
        op.f("ix_migration_ledger_legacy_table_legacy_id_run_id"),
        "migration_ledger",
        ["legacy_table", "legacy_id", "run_id"],
        unique=False,
    )
    # One partition for all the runs recorded so far; publish adds one per run after them.
    _copy_rows_from(
        OLD,
        before_copy=(
            "execute format('create table %I partition of migration_ledger for values from (minvalue) to (%s)', "
            "'migration_ledger_runs_to_' || last_run, last_run + 1);"
        ),
    )


def downgrade() -> None:
    _set_aside(NEW, "0004", ["pk_migration_ledger", "ix_migration_ledger_legacy_table_legacy_id_run_id"])
    op.create_table(
        "migration_ledger", *_columns(), sa.PrimaryKeyConstraint("ledger_id", name=op.f("pk_migration_ledger"))
    )
    op.create_index(
        op.f("ix_migration_ledger_legacy_table_legacy_id_run_id"),
        "migration_ledger",
        ["legacy_table", "legacy_id", "run_id"],
        unique=False,
    )
    op.create_index(op.f("ix_migration_ledger_run_id"), "migration_ledger", ["run_id"], unique=False)
    # Dropping the partitioned table drops its partitions with it.
    _copy_rows_from(NEW)
