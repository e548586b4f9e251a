"""scoring: churn risk, reasons and model per scored customer (reserved)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
