"""scoring: churn risk, reasons, value at risk and top reason per scored customer

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customer_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('churn_risk', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('churn_reasons', sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column('value_at_risk', sa.Numeric(precision=14, scale=2), nullable=True)
        )
        batch_op.add_column(sa.Column('churn_top_reason', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_customer_scores_run_risk', ['run_id', 'churn_risk'], unique=False)
        batch_op.create_index(
            'ix_customer_scores_run_var', ['run_id', 'value_at_risk'], unique=False
        )
        batch_op.create_index(
            'ix_customer_scores_run_reason_var',
            ['run_id', 'churn_top_reason', 'value_at_risk'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('customer_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_scores_run_reason_var')
        batch_op.drop_index('ix_customer_scores_run_var')
        batch_op.drop_index('ix_customer_scores_run_risk')
        batch_op.drop_column('churn_top_reason')
        batch_op.drop_column('value_at_risk')
        batch_op.drop_column('churn_reasons')
        batch_op.drop_column('churn_risk')
