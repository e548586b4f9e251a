"""customers, touchpoints, experience records: an idempotency key, so a retried create is one

A double click on "Create customer" (after "Create anyway"), on "Record a touchpoint" or on
"Save" of an experience record, or an API client retrying after a timeout, recorded the row
twice: a duplicate customer to merge by hand, a touchpoint or an experience counted twice in
the journey funnel and the churn features. The forms send a key drawn with the page, the API
the ``Idempotency-Key`` header; a second request with the key returns the first row.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-06 07:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

TABLES = ("customers", "touchpoints", "experience_records")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("idempotency_key", sa.String(length=120), nullable=True))
        # A unique index, not a table constraint: SQLite can then drop it and the column in
        # place (a batch copy of the table fails on the rows that reference it).
        op.create_index(f"uq_{table}_idempotency_key", table, ["idempotency_key"], unique=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(f"uq_{table}_idempotency_key", table_name=table)
        op.drop_column(table, "idempotency_key")
