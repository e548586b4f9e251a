"""journey: experience records (mode, rating, note) linked to touchpoints and survey answers

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 02:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experience_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=True),
        sa.Column("survey_response_id", sa.Integer(), nullable=True),
        sa.Column("survey_answer_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "rating >= 1 AND rating <= 5", name="ck_experience_records_rating_range"
        ),
        sa.CheckConstraint(
            "mode IN ('sense', 'feel', 'think', 'act', 'relate')",
            name="ck_experience_records_mode_known",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_experience_records_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name="fk_experience_records_touchpoint_id_touchpoints",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_response_id"],
            ["survey_responses.id"],
            name="fk_experience_records_survey_response_id_survey_responses",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_answer_id"],
            ["survey_answers.id"],
            name="fk_experience_records_survey_answer_id_survey_answers",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name="fk_experience_records_created_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_experience_records"),
        sa.UniqueConstraint("external_id", name="uq_experience_records_external_id"),
    )
    op.create_index(
        "ix_experience_records_customer_time", "experience_records", ["customer_id", "occurred_at"]
    )
    op.create_index("ix_experience_records_mode_stage", "experience_records", ["mode", "stage"])
    op.create_index("ix_experience_records_occurred_at", "experience_records", ["occurred_at"])
    op.create_index("ix_experience_records_touchpoint_id", "experience_records", ["touchpoint_id"])
    op.create_index(
        "ix_experience_records_survey_response_id", "experience_records", ["survey_response_id"]
    )
    op.create_index(
        "ix_experience_records_survey_answer_id", "experience_records", ["survey_answer_id"]
    )
    # A survey question may measure one experience mode; its answers feed the experience
    # dashboard. Nullable: most questions measure none.
    with op.batch_alter_table("survey_questions") as batch:
        batch.add_column(sa.Column("experience_mode", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_questions") as batch:
        batch.drop_column("experience_mode")
    for name in (
        "ix_experience_records_survey_answer_id",
        "ix_experience_records_survey_response_id",
        "ix_experience_records_touchpoint_id",
        "ix_experience_records_occurred_at",
        "ix_experience_records_mode_stage",
        "ix_experience_records_customer_time",
    ):
        op.drop_index(name, table_name="experience_records")
    op.drop_table("experience_records")
