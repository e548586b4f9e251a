"""retention: warning rules, alerts, playbooks, win-back cases (treated/control), tasks

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('retention_playbooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value_class', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('script_en', sa.Text(), nullable=False),
    sa.Column('script_zh', sa.Text(), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('control_share', sa.Float(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('offer_points', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_playbooks')),
    sa.UniqueConstraint('value_class', 'reason', name='uq_retention_playbooks_class_reason')
    )
    op.create_table('retention_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('classes', sa.JSON(), nullable=False),
    sa.Column('updated_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rules')),
    sa.UniqueConstraint('code', name=op.f('uq_retention_rules_code'))
    )
    op.create_table('retention_config',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('default_owner_id', sa.Integer(), nullable=True),
    sa.Column('auto_apply', sa.Boolean(), nullable=False),
    sa.Column('notify_owner', sa.Boolean(), nullable=False),
    sa.Column('updated_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['default_owner_id'], ['users.id'], name=op.f('fk_retention_config_default_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_config'))
    )
    op.create_table('retention_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=30), nullable=False),
    sa.Column('cause_key', sa.String(length=120), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('reason_code', sa.String(length=40), nullable=False),
    sa.Column('reason_params', sa.JSON(), nullable=False),
    sa.Column('value_class', sa.String(length=20), nullable=False),
    sa.Column('risk', sa.Float(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_retention_alerts_closed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_retention_alerts_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_retention_alerts_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_alerts')),
    sa.UniqueConstraint('customer_id', 'rule', 'cause_key', name='uq_retention_alerts_cause')
    )
    with op.batch_alter_table('retention_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_retention_alerts_owner_status', ['owner_id', 'status'], unique=False)
        batch_op.create_index('ix_retention_alerts_status_created', ['status', 'created_at'], unique=False)

    op.create_table('retention_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('playbook_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('value_class', sa.String(length=20), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('arm', sa.String(length=10), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('risk', sa.Float(), nullable=True),
    sa.Column('assigned_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_ends_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reached', sa.Boolean(), nullable=True),
    sa.Column('offer_accepted', sa.Boolean(), nullable=True),
    sa.Column('email_sent', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('came_back_at', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revenue', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['retention_alerts.id'], name=op.f('fk_retention_cases_alert_id_retention_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_retention_cases_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['playbook_id'], ['retention_playbooks.id'], name=op.f('fk_retention_cases_playbook_id_retention_playbooks'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_cases')),
    sa.UniqueConstraint('alert_id', name=op.f('uq_retention_cases_alert_id'))
    )
    with op.batch_alter_table('retention_cases', schema=None) as batch_op:
        batch_op.create_index('ix_retention_cases_customer_outcome', ['customer_id', 'outcome'], unique=False)
        batch_op.create_index('ix_retention_cases_outcome_window', ['outcome', 'window_ends_at'], unique=False)
        batch_op.create_index('ix_retention_cases_playbook_class', ['playbook_id', 'value_class'], unique=False)

    op.create_table('retention_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('script', sa.Text(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('done_at', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['retention_cases.id'], name=op.f('fk_retention_tasks_case_id_retention_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_retention_tasks_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_retention_tasks_done_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_retention_tasks_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_tasks')),
    sa.UniqueConstraint('case_id', name=op.f('uq_retention_tasks_case_id'))
    )
    with op.batch_alter_table('retention_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_tasks_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_retention_tasks_owner_status_due', ['owner_id', 'status', 'due_on'], unique=False)


def downgrade() -> None:
    op.drop_table('retention_tasks')
    op.drop_table('retention_cases')
    op.drop_table('retention_alerts')
    op.drop_table('retention_config')
    op.drop_table('retention_rules')
    op.drop_table('retention_playbooks')
