"""migration_ledger: the outcome `corrected`, a person's correction of one legacy value, applied

The review loop's per-row corrections (corrections/<legacy table>.csv) are ledger entries of their own: the raw
value, the corrected value, the note and the author. Adding a value to an enum type is a change to the catalogue
only; the value is not used in this transaction, as PostgreSQL requires of a value added in one.

The downgrade deletes the `corrected` entries (the corrections files still say what they were) and rebuilds the
type without the value, which rewrites the ledger's partitions once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 22:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("alter type ledger_outcome add value if not exists 'corrected'")


def downgrade() -> None:
    op.execute("delete from migration_ledger where outcome = 'corrected'")
    op.execute("alter type ledger_outcome rename to ledger_outcome_with_corrected")
    op.execute("create type ledger_outcome as enum ('rejected', 'merged', 'warning')")
    op.execute(
        "alter table migration_ledger alter column outcome type ledger_outcome using outcome::text::ledger_outcome"
    )
    op.execute("drop type ledger_outcome_with_corrected")
