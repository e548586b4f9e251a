"""insights: saved segments (clustering results) usable as filters

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 02:30:00.000000

``insight_runs``: one run of an Insights analysis (segments, basket, sequences) with its
parameters and result (the latest basket run feeds the cross-sell panels).
``insight_segments``: saved segmentations (unique name, versioned for optimistic edits).
``insight_segment_members``: one row per (segmentation, customer) with the customer's cluster.
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name="fk_insight_runs_created_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_insight_runs"),
    )
    op.create_index("ix_insight_runs_created_by_id", "insight_runs", ["created_by_id"])
    op.create_index("ix_insight_runs_kind_status", "insight_runs", ["kind", "status", "id"])

    op.create_table(
        "insight_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["insight_runs.id"],
            name="fk_insight_segments_run_id_insight_runs",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name="fk_insight_segments_created_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_insight_segments"),
        sa.UniqueConstraint("name", name="uq_insight_segments_name"),
    )
    op.create_index("ix_insight_segments_created_by_id", "insight_segments", ["created_by_id"])

    op.create_table(
        "insight_segment_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["insight_segments.id"],
            name="fk_insight_segment_members_segment_id_insight_segments",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_insight_segment_members_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_insight_segment_members"),
        sa.UniqueConstraint(
            "segment_id", "customer_id", name="uq_insight_segment_members_segment_id"
        ),
    )
    op.create_index(
        "ix_insight_segment_members_cluster",
        "insight_segment_members",
        ["segment_id", "cluster", "customer_id"],
    )
    op.create_index(
        "ix_insight_segment_members_customer", "insight_segment_members", ["customer_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_insight_segment_members_customer", table_name="insight_segment_members")
    op.drop_index("ix_insight_segment_members_cluster", table_name="insight_segment_members")
    op.drop_table("insight_segment_members")
    op.drop_index("ix_insight_segments_created_by_id", table_name="insight_segments")
    op.drop_table("insight_segments")
    op.drop_index("ix_insight_runs_kind_status", table_name="insight_runs")
    op.drop_index("ix_insight_runs_created_by_id", table_name="insight_runs")
    op.drop_table("insight_runs")
