"""customers: an optional date of birth

A customer may have a ``birth_date`` (a date, no time). It feeds the loyalty programme's
"birthday" earn rule: a daily job awards the birthday event to active members on their
birthday (29 February birthdays on 28 February in common years). Organisations have none;
existing rows get none. Erasure (privacy) clears it.

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-07 00:25:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("birth_date", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("customers", "birth_date")
