"""retention: an offer playbook may name a loyalty reward (voucher) (reserved)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 23:50:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
