"""legacy ids as bigint; the ledger takes a row without an id, and the evidence for an inferred value

A legacy table may key its rows with bigint, and an id over 2^31 must reach the target unchanged: the legacy id
columns of the target tables and of the ledger become bigint. A legacy row rejected because it has no id at all
(reason legacy_id_missing) is recorded with a NULL legacy_id, its raw_row saying which row it was. `evidence`
keeps what an inferred value rests on (rule M4: the reading of an ambiguous amount and the price it agrees with).

The downgrade narrows the ids back to integer and makes legacy_id required again, so it fails, and changes
nothing, if an id over 2^31 or a ledger entry without an id is stored: it never cuts or drops one. It drops
`evidence`, which the older schema has no place for.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_ID_COLUMNS = (
    ("users", "legacy_user_id"),
    ("products", "legacy_product_id"),
    ("orders", "legacy_order_id"),
    ("order_items", "legacy_order_id"),
    ("migration_ledger", "legacy_id"),
    ("migration_ledger", "merged_into_legacy_id"),
)


def upgrade() -> None:
    # On the partitioned ledger, each change reaches every partition.
    for table, column in LEGACY_ID_COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    op.alter_column("migration_ledger", "legacy_id", nullable=True, existing_type=sa.BigInteger())
    op.add_column("migration_ledger", sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column("migration_ledger", "evidence")
    op.alter_column("migration_ledger", "legacy_id", nullable=False, existing_type=sa.BigInteger())
    # No USING with a clamp: an id over 2^31 makes the downgrade fail ("integer out of range") rather than change.
    for table, column in LEGACY_ID_COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
