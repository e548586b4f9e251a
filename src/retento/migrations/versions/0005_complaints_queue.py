"""complaints queue: next warning time with partial indexes for open queues; shared rate limit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Only open complaints sit in a queue; partial indexes keep the queue indexes small (≈15 % of
# the table) and let PostgreSQL and SQLite walk them in due order without sorting.
OPEN = "status IN ('accepted', 'in_progress', 'awaiting_customer')"


def upgrade() -> None:
    op.create_table('complaint_rate_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_rate_hits'))
    )
    with op.batch_alter_table('complaint_rate_hits', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_rate_hits_key_at', ['key', 'at'], unique=False)
        batch_op.create_index('ix_complaint_rate_hits_at', ['at'], unique=False)

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_warn_at', retento.core.db.UTCDateTime(timezone=True), nullable=True))

    # The earliest warning time of a running clock of an open complaint (NULL otherwise).
    op.execute(
        "UPDATE complaints SET next_warn_at = CASE"
        " WHEN status NOT IN ('accepted', 'in_progress', 'awaiting_customer') THEN NULL"
        " WHEN first_responded_at IS NULL AND first_response_warn_at IS NOT NULL"
        "  AND (resolution_warn_at IS NULL OR first_response_warn_at < resolution_warn_at)"
        "  THEN first_response_warn_at"
        " ELSE resolution_warn_at END"
    )

    op.create_index(
        'ix_complaints_open_assignee_due', 'complaints', ['assignee_id', 'resolution_due_at', 'id'],
        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        'ix_complaints_open_team_due', 'complaints', ['team_manager_id', 'resolution_due_at', 'id'],
        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        'ix_complaints_open_due', 'complaints', ['resolution_due_at', 'id'],
        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        'ix_complaints_next_warn', 'complaints', ['next_warn_at'],
        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index('ix_complaints_next_warn', table_name='complaints')
    op.drop_index('ix_complaints_open_due', table_name='complaints')
    op.drop_index('ix_complaints_open_team_due', table_name='complaints')
    op.drop_index('ix_complaints_open_assignee_due', table_name='complaints')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('next_warn_at')
    with op.batch_alter_table('complaint_rate_hits', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_rate_hits_at')
        batch_op.drop_index('ix_complaint_rate_hits_key_at')
    op.drop_table('complaint_rate_hits')
