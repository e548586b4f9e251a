"""loyalty: expiry recorded on the lot (reserved for the loyalty-expiry work)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
