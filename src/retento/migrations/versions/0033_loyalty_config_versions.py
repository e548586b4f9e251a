"""record versions for the loyalty programme's settings, tiers, earning rules and rewards

Two managers editing one earning rule (or tier, reward, the programme settings) in two tabs:
the second save silently overwrote the first. Like every other editable record (0008) they now
carry ``version`` (core.versioning): a stale form gets the conflict page, a stale API write 409.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 22:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

VERSIONED = ("loyalty_programmes", "loyalty_tiers", "loyalty_rules", "loyalty_rewards")


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    # Not a batch (SQLite would copy the table and drop the old one, which the rows that
    # reference it refuse with foreign keys on): SQLite >= 3.35 drops the column in place.
    for table in reversed(VERSIONED):
        op.drop_column(table, "version")
