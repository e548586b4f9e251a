"""record versions for complaint categories, business calendars and SLA policies

Two managers editing one SLA policy (or category, calendar) in two tabs: the second save
silently overwrote the first, and the open complaints' due times followed whichever came last.
Like every other editable record (0008, 0033) they now carry ``version`` (core.versioning): a
stale form gets the conflict page, a stale API write 409.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05 22:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

VERSIONED = ("complaint_categories", "business_calendars", "sla_policies")


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    # Not a batch (SQLite would copy the table and drop the old one, which the rows that
    # reference it refuse with foreign keys on): SQLite >= 3.35 drops the column in place.
    for table in reversed(VERSIONED):
        op.drop_column(table, "version")
