"""retention: one open win-back case per customer (retention_open_cases)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 02:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

import retento.core.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_open_cases",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", retento.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_retention_open_cases_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["retention_cases.id"],
            name="fk_retention_open_cases_case_id_retention_cases",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name="pk_retention_open_cases"),
        sa.UniqueConstraint("case_id", name="uq_retention_open_cases_case_id"),
    )
    # Existing data: each customer's earliest pending case is the open one. Later duplicates
    # (raised before this rule) stay pending and settle as before, unclaimed.
    op.execute(
        """
        INSERT INTO retention_open_cases (customer_id, case_id, claimed_at)
        SELECT c.customer_id, MIN(c.id), MIN(c.assigned_at)
        FROM retention_cases c
        WHERE c.outcome = 'pending'
        GROUP BY c.customer_id
        """
    )


def downgrade() -> None:
    op.drop_table("retention_open_cases")
