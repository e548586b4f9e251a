"""surveys: question and option text in a second language (reserved)

A survey keeps its own language (``surveys.language``, English or Chinese) and its texts in the
existing columns; the texts in the other language live beside them as ``translations`` JSON on
the survey (name, description, thank-you text), its sections (title, description) and its
questions (text, help text, option labels). Existing surveys get no translations: they keep
their one language, the one already recorded in ``surveys.language``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 23:15:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("surveys") as batch:
        batch.add_column(sa.Column("thank_you", sa.Text(), nullable=True))
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))
    with op.batch_alter_table("survey_sections") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))
    with op.batch_alter_table("survey_questions") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), nullable=True))
    # A survey saved without a language was written in English (the column's default).
    op.execute("UPDATE surveys SET language = 'en' WHERE language IS NULL OR language = ''")


def downgrade() -> None:
    with op.batch_alter_table("survey_questions") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("survey_sections") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("surveys") as batch:
        batch.drop_column("thank_you")
        batch.drop_column("translations")
