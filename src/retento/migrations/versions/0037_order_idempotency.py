"""orders: an idempotency key, so a double-clicked or retried new order is recorded once

A double click on "Save order" (or a client retrying after a timeout) recorded the order twice:
revenue counted twice, the loyalty points earned twice. The new-order form sends a key drawn
with the page, the API the ``Idempotency-Key`` header; a second request with the key returns
the first order.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-05 23:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("idempotency_key", sa.String(length=120), nullable=True))
    # A unique index, not a table constraint: SQLite can then drop it and the column in place
    # (a batch copy of the table fails on the rows that reference it, foreign keys on).
    op.create_index("uq_orders_idempotency_key", "orders", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_orders_idempotency_key", table_name="orders")
    op.drop_column("orders", "idempotency_key")
