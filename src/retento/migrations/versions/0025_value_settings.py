"""value settings: pyramid cut-offs and loyalty-stage rules a manager can edit

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 02:30:00.000000
"""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import retento.core.db

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "value_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vip_top_pct", sa.Float(), nullable=False),
        sa.Column("major_top_pct", sa.Float(), nullable=False),
        sa.Column("ordinary_top_pct", sa.Float(), nullable=False),
        sa.Column("small_profit_threshold", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("new_days", sa.Integer(), nullable=False),
        sa.Column("regular_per_year", sa.Float(), nullable=False),
        sa.Column("loyal_per_year", sa.Float(), nullable=False),
        sa.Column("long_tenure_days", sa.Integer(), nullable=False),
        sa.Column("recent_days", sa.Integer(), nullable=False),
        sa.Column("frequency_window_days", sa.Integer(), nullable=False),
        sa.Column("lapsed_days", sa.Integer(), nullable=False),
        sa.Column("wallet_window_days", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", retento.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_value_settings_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_value_settings")),
    )
    # The defaults: the literature's pyramid (5 % VIP, next 15 % major, the remaining 80 %
    # ordinary) and analytics.LoyaltyStageRules' thresholds, so a run before any edit is unchanged.
    op.bulk_insert(
        table,
        [
            {
                "id": 1,
                "vip_top_pct": 5.0,
                "major_top_pct": 20.0,
                "ordinary_top_pct": 100.0,
                "small_profit_threshold": Decimal("0.00"),
                "new_days": 90,
                "regular_per_year": 2.0,
                "loyal_per_year": 4.0,
                "long_tenure_days": 730,
                "recent_days": 180,
                "frequency_window_days": 365,
                "lapsed_days": 365,
                "wallet_window_days": 365,
                "updated_by_id": None,
                "updated_at": datetime.now(UTC),
                "version": 1,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("value_settings")
