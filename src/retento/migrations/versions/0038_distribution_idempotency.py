"""survey distributions: an idempotency key, so a double-clicked or retried send is queued once

Six identical requests sent at once (a double click on "Create invitations", a client retrying
after a timeout) recorded six distributions and queued six work items; the segment's customers
were invited once (an open invitation is not repeated) but the list showed six mailings. The
distribute form sends a key drawn with the page, the API the ``Idempotency-Key`` header; a
second request with the key returns the first distribution. ``request_hash`` is the SHA-256 of
the survey and the request body: the same key with another body is refused (409).

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-06 01:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "survey_distributions", sa.Column("idempotency_key", sa.String(length=120), nullable=True)
    )
    op.add_column(
        "survey_distributions", sa.Column("request_hash", sa.String(length=64), nullable=True)
    )
    # A unique index, not a table constraint: SQLite can then drop it and the columns in place
    # (a batch copy of the table fails on the invitations that reference it, foreign keys on).
    op.create_index(
        "uq_survey_distributions_idempotency_key",
        "survey_distributions",
        ["idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_survey_distributions_idempotency_key", table_name="survey_distributions")
    op.drop_column("survey_distributions", "request_hash")
    op.drop_column("survey_distributions", "idempotency_key")
