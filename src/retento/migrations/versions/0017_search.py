"""customers: substring/fuzzy search indexes (reserved)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
