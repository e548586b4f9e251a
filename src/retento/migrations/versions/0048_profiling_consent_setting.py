"""value settings: "Profiling needs the customer's consent"

One organisation setting on the value-settings row: when on, scoring runs neither compute nor
keep scores for customers whose ``consent_profiling`` is off, and everything that reads scores
(the 360 page, the at-risk list, warning rules, automated playbook actions, segments by score,
Insights) leaves them out. Off for existing installations, so nothing changes until a manager
turns it on.

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-07 01:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("value_settings") as batch:
        batch.add_column(
            sa.Column(
                "profiling_needs_consent",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("value_settings") as batch:
        batch.drop_column("profiling_needs_consent")
