"""refunds: an idempotency key, so a double-clicked or retried refund is paid back once

A double click on "Record refund" (or a client retrying after a timeout) recorded the refund
twice whenever both fitted in what remained paid: 10.00 refunded became 20.00, revenue and
loyalty points were taken back twice. The order page's form sends a key drawn with the page,
the API the ``Idempotency-Key`` header; a second request with the key returns the first refund.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-05 23:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("refunds", sa.Column("idempotency_key", sa.String(length=120), nullable=True))
    # A unique index, not a table constraint: SQLite can then drop it and the column in place
    # (a batch copy of the table fails on the rows that reference it, foreign keys on).
    op.create_index("uq_refunds_idempotency_key", "refunds", ["order_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_refunds_idempotency_key", table_name="refunds")
    op.drop_column("refunds", "idempotency_key")
