"""stored loyalty measurements (index, type, trap) per customer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
