"""runs: record which command ran, and the statuses of stage-only and transform-only runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status in ('running', 'published', 'planned', 'failed')"
NEW_STATUSES = "status in ('running', 'published', 'planned', 'staged', 'transformed', 'failed')"
COMMANDS = "command in ('migrate', 'stage', 'transform', 'publish')"


def upgrade() -> None:
    # Runs recorded before this revision were all whole migrations or publishes; 'migrate' is the fair default.
    op.add_column(
        "migration_runs",
        sa.Column("command", sa.String(length=20), server_default="migrate", nullable=False),
    )
    op.create_check_constraint(op.f("ck_migration_runs_command_known"), "migration_runs", COMMANDS)
    op.drop_constraint(op.f("ck_migration_runs_status_known"), "migration_runs", type_="check")
    op.create_check_constraint(op.f("ck_migration_runs_status_known"), "migration_runs", NEW_STATUSES)


def downgrade() -> None:
    # Stage-only and transform-only runs have no status in the old schema; they ended, so they count as failed
    # publishes rather than being dropped from the record.
    op.execute("update migration_runs set status = 'failed' where status in ('staged', 'transformed')")
    op.drop_constraint(op.f("ck_migration_runs_status_known"), "migration_runs", type_="check")
    op.create_check_constraint(op.f("ck_migration_runs_status_known"), "migration_runs", OLD_STATUSES)
    op.drop_constraint(op.f("ck_migration_runs_command_known"), "migration_runs", type_="check")
    op.drop_column("migration_runs", "command")
