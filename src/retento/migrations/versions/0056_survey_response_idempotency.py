"""survey_responses: an idempotency key, so a resent paper-entry grid records its rows once

The paper / on-site entry grid (``/surveys/{id}/entry``) and ``POST
/api/v1/surveys/{id}/responses/bulk`` had no key: a double click, a page sent again after Back
or an API client retrying after a timeout recorded every questionnaire twice, inflating the
survey's response counts, NPS and CSAT. The grid now sends a key drawn with the page, the API
the ``Idempotency-Key`` header; each row's response is recorded with ``"<key>:<row>"``, and a
second request with the key answers with what the first recorded.

Revision ID: 0056
Revises: 0055
Create Date: 2026-12-07 15:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0056"
down_revision = "0055"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "survey_responses", sa.Column("idempotency_key", sa.String(length=120), nullable=True)
    )
    # A unique index, not a table constraint: SQLite can then drop it and the column in place
    # (as 0040 does; a batch copy of the table would fail on the rows that reference it).
    op.create_index(
        "uq_survey_responses_idempotency_key",
        "survey_responses",
        ["idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_survey_responses_idempotency_key", table_name="survey_responses")
    op.drop_column("survey_responses", "idempotency_key")
