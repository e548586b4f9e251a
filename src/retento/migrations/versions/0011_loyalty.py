"""loyalty programme: ledger, lots, tiers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
