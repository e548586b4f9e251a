"""complaint remedies: an idempotency key, so a double-clicked or retried remedy is recorded once

A double click on "Record" (or a client retrying after a timeout) recorded the remedy twice: the
compensation counted twice in the recovery cost and, with the loyalty programme on, a points
remedy posted its points twice. The form sends a key made when the page was drawn, the API the
``Idempotency-Key`` header; a second request with the key returns the first remedy.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-05 22:55:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaint_remedies") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=120), nullable=True))
        batch.create_unique_constraint(
            "uq_complaint_remedies_idempotency_key", ["complaint_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("complaint_remedies") as batch:
        batch.drop_constraint("uq_complaint_remedies_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
