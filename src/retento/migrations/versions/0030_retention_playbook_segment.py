"""retention: a playbook may be limited to one cluster of a saved segmentation (Insights)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 02:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key: a deleted segmentation leaves a filter that matches nobody (fails closed).
    with op.batch_alter_table("retention_playbooks") as batch:
        batch.add_column(sa.Column("segment_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("segment_cluster", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("retention_playbooks") as batch:
        batch.drop_column("segment_cluster")
        batch.drop_column("segment_id")
