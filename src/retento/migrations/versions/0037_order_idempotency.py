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
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=120), nullable=True))
        batch.create_unique_constraint("uq_orders_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("uq_orders_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
