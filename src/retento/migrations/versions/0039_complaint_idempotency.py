"""complaints: an idempotency key, so a double-clicked or retried complaint is recorded once

A double click on "Send" on the public complaint form (or the agent's intake form, or an API
client retrying after a timeout) recorded the complaint twice: two tracking codes, two
acknowledgement e-mails, two SLA clocks in the queue. Both forms send a key drawn with the page,
the API the ``Idempotency-Key`` header; a second request with the key returns the first
complaint.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 05:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("complaints", sa.Column("idempotency_key", sa.String(length=120), nullable=True))
    # A unique index, not a table constraint: SQLite can then drop it and the column in place.
    op.create_index(
        "uq_complaints_idempotency_key", "complaints", ["idempotency_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_complaints_idempotency_key", table_name="complaints")
    op.drop_column("complaints", "idempotency_key")
