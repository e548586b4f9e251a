"""loyalty earning rules: a Chinese name beside the name

Like tiers and rewards (0042), an earning rule now carries an optional ``name_zh``, shown on
Chinese pages; empty, the name is shown in both languages (existing rules keep showing what
they showed).

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-06 15:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("loyalty_rules", sa.Column("name_zh", sa.String(length=100), nullable=True))


def downgrade() -> None:
    # In place, not a batch copy: SQLite drops a plain column itself, and copying a rule that
    # rule uses reference would fail with foreign keys on.
    op.drop_column("loyalty_rules", "name_zh")
