"""surveys: question and option text in a second language (reserved)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 23:15:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
