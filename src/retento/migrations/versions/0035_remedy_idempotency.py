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
    op.add_column("complaint_remedies", sa.Column("idempotency_key", sa.String(length=120), nullable=True))
    # A unique index, not a table constraint: SQLite can then drop it and the column in place
    # (a batch copy of the table fails on the rows that reference it, foreign keys on).
    op.create_index("uq_complaint_remedies_idempotency_key", "complaint_remedies", ["complaint_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_complaint_remedies_idempotency_key", table_name="complaint_remedies")
    op.drop_column("complaint_remedies", "idempotency_key")
