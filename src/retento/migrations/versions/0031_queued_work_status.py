"""queued work: survey distributions and playbook actions are done by the worker (issue 15)

A distribution is created 'queued' by the request and filled by a worker (its invitations and
e-mails); a win-back case's action (e-mail, offer, task) is carried out by a worker. Rows that
exist already were done in the request: they are 'done'.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 09:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_distributions") as batch:
        batch.add_column(sa.Column("status", sa.String(20), nullable=False, server_default="done"))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("retention_cases") as batch:
        batch.add_column(
            sa.Column("action_status", sa.String(20), nullable=False, server_default="done")
        )
        batch.add_column(sa.Column("action_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("retention_cases") as batch:
        batch.drop_column("action_error")
        batch.drop_column("action_status")
    with op.batch_alter_table("survey_distributions") as batch:
        batch.drop_column("finished_at")
        batch.drop_column("error")
        batch.drop_column("status")
