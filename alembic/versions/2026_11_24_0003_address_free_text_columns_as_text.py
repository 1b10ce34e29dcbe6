"""addresses: street, city and country as text, so a long legacy address is never cut

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDTHS = {"street": 200, "city": 100, "country": 60}


def upgrade() -> None:
    for column, width in WIDTHS.items():
        op.alter_column("addresses", column, type_=sa.Text(), existing_type=sa.String(width))


def downgrade() -> None:
    # No USING left(…): a value longer than the old width makes the downgrade fail rather than lose its end.
    for column, width in WIDTHS.items():
        op.alter_column("addresses", column, type_=sa.String(width), existing_type=sa.Text())
