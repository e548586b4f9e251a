"""retention: warning rules, alerts, playbooks, tasks, control groups (reserved)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
