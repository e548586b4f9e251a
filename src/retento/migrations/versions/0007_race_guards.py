"""race guards (refunds, complaint transitions, follow-up answers)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# A complaint's resolution clock is paused at most once at a time: the database refuses a
# second open pause even if a code path forgets the complaint's row lock (docs/security.md).
OPEN_PAUSE = "ended_at IS NULL"


def upgrade() -> None:
    # Parallel "await customer" requests before this revision could open several pauses at
    # once; they all started within moments of each other, so the earliest one is kept.
    op.execute(
        "DELETE FROM complaint_sla_pauses WHERE ended_at IS NULL AND id NOT IN"
        " (SELECT MIN(id) FROM complaint_sla_pauses WHERE ended_at IS NULL GROUP BY complaint_id)"
    )
    op.create_index(
        'ux_complaint_sla_pauses_one_open', 'complaint_sla_pauses', ['complaint_id'],
        unique=True,
        postgresql_where=sa.text(OPEN_PAUSE), sqlite_where=sa.text(OPEN_PAUSE),
    )


def downgrade() -> None:
    op.drop_index('ux_complaint_sla_pauses_one_open', table_name='complaint_sla_pauses')
