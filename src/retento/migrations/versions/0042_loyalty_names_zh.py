"""loyalty tiers and rewards: a Chinese name beside the name

Tier and reward names were one text, so a Chinese page (and a Chinese customer's tier notice)
showed "Gold" and "Tea mug". Like complaint categories, a tier and a reward now carry an
optional ``name_zh``, shown in Chinese; empty, the name is shown in both languages (existing
rows keep showing what they showed).

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-06 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

TABLES = ("loyalty_tiers", "loyalty_rewards")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("name_zh", sa.String(length=100), nullable=True))


def downgrade() -> None:
    # In place, not a batch copy: SQLite drops a plain column itself, and copying a tier that
    # members' accounts reference would fail with foreign keys on.
    for table in reversed(TABLES):
        op.drop_column(table, "name_zh")
