"""loyalty measurements: the tier's Chinese name beside its name

A stored measurement keeps the customer's tier name for the reasons in words ("stays out of
habit (tier Gold, …)"); the Chinese reason quoted the English name although the tier has a
Chinese one (0042). It now keeps ``tier_name_zh`` as well, written by each run; rows stored
before it have none and quote the name until the next run (nightly, or "Measure now").

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-06 22:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "loyalty_measurements", sa.Column("tier_name_zh", sa.String(length=100), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("loyalty_measurements", "tier_name_zh")
