"""stored loyalty measurements (index, type, trap) per customer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_measurement_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('running', sa.Boolean(), nullable=True),
    sa.Column('as_of', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('triggered_by', sa.String(length=80), nullable=False),
    sa.Column('customers', sa.BigInteger(), nullable=False),
    sa.Column('trap', sa.BigInteger(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('reference', sa.JSON(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_measurement_runs')),
    sa.UniqueConstraint('running', name=op.f('uq_loyalty_measurement_runs_running'))
    )
    op.create_index(op.f('ix_loyalty_measurement_runs_status'), 'loyalty_measurement_runs', ['status'], unique=False)
    op.create_table('loyalty_measurements',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('computed_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('segment', sa.String(length=40), nullable=True),
    sa.Column('loyalty_type', sa.String(length=12), nullable=False),
    sa.Column('rule', sa.String(length=4), nullable=False),
    sa.Column('loyalty_index', sa.Float(), nullable=True),
    sa.Column('behavioural', sa.Float(), nullable=True),
    sa.Column('intentional', sa.Float(), nullable=True),
    sa.Column('emotional', sa.Float(), nullable=True),
    sa.Column('attitude', sa.Float(), nullable=True),
    sa.Column('satisfaction_trap', sa.Boolean(), nullable=False),
    sa.Column('trap_signal', sa.String(length=8), nullable=False),
    sa.Column('price_sensitivity', sa.Float(), nullable=True),
    sa.Column('switching_cost', sa.Float(), nullable=True),
    sa.Column('no_alternative', sa.Boolean(), nullable=False),
    sa.Column('affiliated', sa.Boolean(), nullable=False),
    sa.Column('orders_per_year', sa.Float(), nullable=True),
    sa.Column('frequency_ratio', sa.Float(), nullable=True),
    sa.Column('n_orders', sa.Integer(), nullable=False),
    sa.Column('orders_recent', sa.Integer(), nullable=False),
    sa.Column('days_since_first_order', sa.Float(), nullable=True),
    sa.Column('days_since_last_order', sa.Float(), nullable=True),
    sa.Column('median_gap_days', sa.Float(), nullable=True),
    sa.Column('discount_share', sa.Float(), nullable=True),
    sa.Column('points_redeemed_share', sa.Float(), nullable=True),
    sa.Column('tier_rank', sa.Float(), nullable=True),
    sa.Column('tier_name', sa.String(length=100), nullable=True),
    sa.Column('tenure_days', sa.Float(), nullable=True),
    sa.Column('satisfaction', sa.Float(), nullable=True),
    sa.Column('repurchase_intent', sa.Float(), nullable=True),
    sa.Column('recommend', sa.Float(), nullable=True),
    sa.Column('complaints', sa.Integer(), nullable=False),
    sa.Column('complaints_open', sa.Integer(), nullable=False),
    sa.Column('complaints_breached', sa.Integer(), nullable=False),
    sa.Column('followup_csat', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_measurements_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['loyalty_measurement_runs.id'], name=op.f('fk_loyalty_measurements_run_id_loyalty_measurement_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_loyalty_measurements'))
    )
    op.create_index('ix_loyalty_measurements_index', 'loyalty_measurements', ['loyalty_index', 'customer_id'], unique=False)
    op.create_index(op.f('ix_loyalty_measurements_run_id'), 'loyalty_measurements', ['run_id'], unique=False)
    op.create_index('ix_loyalty_measurements_trap_index', 'loyalty_measurements', ['satisfaction_trap', 'loyalty_index', 'customer_id'], unique=False)
    op.create_index('ix_loyalty_measurements_type_index', 'loyalty_measurements', ['loyalty_type', 'loyalty_index', 'customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_loyalty_measurements_type_index', table_name='loyalty_measurements')
    op.drop_index('ix_loyalty_measurements_trap_index', table_name='loyalty_measurements')
    op.drop_index(op.f('ix_loyalty_measurements_run_id'), table_name='loyalty_measurements')
    op.drop_index('ix_loyalty_measurements_index', table_name='loyalty_measurements')
    op.drop_table('loyalty_measurements')
    op.drop_index(op.f('ix_loyalty_measurement_runs_status'), table_name='loyalty_measurement_runs')
    op.drop_table('loyalty_measurement_runs')
