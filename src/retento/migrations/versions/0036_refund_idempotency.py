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
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=120), nullable=True))
        batch.create_unique_constraint(
            "uq_refunds_idempotency_key", ["order_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.drop_constraint("uq_refunds_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
