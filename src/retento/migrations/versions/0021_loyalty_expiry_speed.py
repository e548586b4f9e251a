"""loyalty: storage settings for the expiry job (reserved)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 23:15:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
