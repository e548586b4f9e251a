"""retention_seqs: case numbers per (playbook, class) reserved without locking the playbook

An evaluation that opened many cases held the playbook's row lock from its first case to its
commit (8.8–11.2 s for 1,500 cases on PostgreSQL), because each case's number in its stratum was
counted under that lock; a manager applying the same playbook meanwhile waited and, past the
lock timeout, got 503. Numbers now come from this counter, one upsert each, on PostgreSQL in a
short transaction of its own. Counting also reused numbers after a case was deleted with its
alert; the counter never does. Filled from the cases already numbered.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-06 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_seqs",
        sa.Column(
            "playbook_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("value_class", sa.String(length=20), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("playbook_id", "value_class", name="pk_retention_seqs"),
    )
    op.execute(
        "INSERT INTO retention_seqs (playbook_id, value_class, next_seq) "
        "SELECT playbook_id, value_class, MAX(seq) + 1 FROM retention_cases "
        "GROUP BY playbook_id, value_class"
    )


def downgrade() -> None:
    op.drop_table("retention_seqs")
