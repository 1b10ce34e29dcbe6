"""addresses: the country's ISO 3166-1 alpha-2 code, and the country as written

`country_code` (varchar(2), two capital letters, NULL where no country was written or its spelling is unknown)
holds the code the seed country_names gives (rule A1); `country` keeps its type but now holds the country as the
legacy address wrote it, for audit, where it held the seed's name for the spellings the seed knew.

The upgrade fills nothing in: the code, and the country as written, come from the transform, so the first
publish after it rewrites every address that names a country, and the mass-change gate asks a person to confirm
that run (README, "Schema upgrades"). Until then `country_code` is NULL. Adding a nullable column is a change to
the catalogue only; the check constraint reads the table once, under a short exclusive lock.

The downgrade drops `country_code` and its check; `country` keeps what the last publish wrote (the country as
written) until a publish of the older version writes its names back.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("addresses", sa.Column("country_code", sa.String(length=2), nullable=True))
    op.create_check_constraint(op.f("ck_addresses_country_code_alpha_2"), "addresses", "country_code ~ '^[A-Z]{2}$'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_addresses_country_code_alpha_2"), "addresses", type_="check")
    op.drop_column("addresses", "country_code")
