"""server-side sessions, login throttling, token last use

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
