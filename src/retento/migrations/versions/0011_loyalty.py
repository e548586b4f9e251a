"""loyalty programme: ledger, lots, tiers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('auto_enrol', sa.Boolean(), nullable=False),
    sa.Column('point_value', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expiry_days', sa.Integer(), nullable=False),
    sa.Column('expiring_soon_days', sa.Integer(), nullable=False),
    sa.Column('refund_policy', sa.String(length=10), nullable=False),
    sa.Column('negative_limit', sa.Integer(), nullable=False),
    sa.Column('tier_basis', sa.String(length=10), nullable=False),
    sa.Column('tier_window_days', sa.Integer(), nullable=False),
    sa.Column('hold_minutes', sa.Integer(), nullable=False),
    sa.Column('active_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_programmes'))
    )
    op.create_table('loyalty_stats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('computed_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('members', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.BigInteger(), nullable=False),
    sa.Column('tiers', sa.JSON(), nullable=False),
    sa.Column('flows', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_stats'))
    )
    op.create_table('loyalty_tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('multiplier', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('sla_class', sa.String(length=30), nullable=True),
    sa.Column('invite_only', sa.Boolean(), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('benefits', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_tiers')),
    sa.UniqueConstraint('code', name=op.f('uq_loyalty_tiers_code')),
    sa.UniqueConstraint('rank', name=op.f('uq_loyalty_tiers_rank'))
    )
    op.create_table('loyalty_clubs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('min_tier_id', sa.Integer(), nullable=True),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['min_tier_id'], ['loyalty_tiers.id'], name=op.f('fk_loyalty_clubs_min_tier_id_loyalty_tiers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_clubs')),
    sa.UniqueConstraint('name', name=op.f('uq_loyalty_clubs_name'))
    )
    op.create_table('loyalty_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('points_cost', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('min_tier_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['min_tier_id'], ['loyalty_tiers.id'], name=op.f('fk_loyalty_rewards_min_tier_id_loyalty_tiers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_rewards')),
    sa.UniqueConstraint('code', name=op.f('uq_loyalty_rewards_code'))
    )
    op.create_table('loyalty_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('rate', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('fixed_points', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('event', sa.String(length=30), nullable=True),
    sa.Column('min_spend', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('valid_from', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_until', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cap_points', sa.Integer(), nullable=True),
    sa.Column('cap_period_days', sa.Integer(), nullable=True),
    sa.Column('apply_multiplier', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_loyalty_rules_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_rules'))
    )
    op.create_table('loyalty_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('system_key', sa.String(length=20), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('debt', sa.BigInteger(), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=True),
    sa.Column('tier_since', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('grace_until', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('joined_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_activity_at', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('debt >= 0', name=op.f('ck_loyalty_accounts_debt_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_accounts_customer_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tier_id'], ['loyalty_tiers.id'], name=op.f('fk_loyalty_accounts_tier_id_loyalty_tiers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_accounts')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_loyalty_accounts_customer_id')),
    sa.UniqueConstraint('system_key', name=op.f('uq_loyalty_accounts_system_key'))
    )
    with op.batch_alter_table('loyalty_accounts', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_accounts_active', ['last_activity_at'], unique=False)
        batch_op.create_index('ix_loyalty_accounts_tier', ['tier_id'], unique=False)

    op.create_table('loyalty_club_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('club_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['club_id'], ['loyalty_clubs.id'], name=op.f('fk_loyalty_club_events_club_id_loyalty_clubs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_club_events'))
    )
    with op.batch_alter_table('loyalty_club_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_club_events_club_id'), ['club_id'], unique=False)

    op.create_table('loyalty_club_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('club_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['club_id'], ['loyalty_clubs.id'], name=op.f('fk_loyalty_club_members_club_id_loyalty_clubs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_club_members_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_club_members')),
    sa.UniqueConstraint('club_id', 'customer_id', name=op.f('uq_loyalty_club_members_club_id'))
    )
    with op.batch_alter_table('loyalty_club_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_club_members_customer_id'), ['customer_id'], unique=False)

    op.create_table('loyalty_journals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=14), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('source_type', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('idem_key', sa.String(length=200), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_loyalty_journals_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_journals_customer_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reverses_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_journals_reverses_id_loyalty_journals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_journals')),
    sa.UniqueConstraint('idem_key', name=op.f('uq_loyalty_journals_idem_key')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_loyalty_journals_reverses_id'))
    )
    with op.batch_alter_table('loyalty_journals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_journals_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_loyalty_journals_customer', ['customer_id', 'id'], unique=False)
        batch_op.create_index('ix_loyalty_journals_source', ['source_type', 'source_id'], unique=False)

    op.create_table('loyalty_tier_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('from_tier_id', sa.Integer(), nullable=True),
    sa.Column('to_tier_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('qualifying', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_loyalty_tier_changes_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_tier_changes_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_tier_id'], ['loyalty_tiers.id'], name=op.f('fk_loyalty_tier_changes_from_tier_id_loyalty_tiers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['to_tier_id'], ['loyalty_tiers.id'], name=op.f('fk_loyalty_tier_changes_to_tier_id_loyalty_tiers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_tier_changes'))
    )
    with op.batch_alter_table('loyalty_tier_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_tier_changes_at'), ['at'], unique=False)
        batch_op.create_index('ix_loyalty_tier_changes_customer', ['customer_id', 'at'], unique=False)

    op.create_table('loyalty_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('touchpoint_id', sa.Integer(), nullable=True),
    sa.Column('at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_attendance_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['loyalty_club_events.id'], name=op.f('fk_loyalty_attendance_event_id_loyalty_club_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['touchpoint_id'], ['touchpoints.id'], name=op.f('fk_loyalty_attendance_touchpoint_id_touchpoints'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_attendance')),
    sa.UniqueConstraint('event_id', 'customer_id', name=op.f('uq_loyalty_attendance_event_id'))
    )
    with op.batch_alter_table('loyalty_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_attendance_customer_id'), ['customer_id'], unique=False)

    op.create_table('loyalty_holds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('closing_journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', retento.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['closing_journal_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_holds_closing_journal_id_loyalty_journals')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_holds_customer_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['journal_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_holds_journal_id_loyalty_journals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_holds'))
    )
    with op.batch_alter_table('loyalty_holds', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_holds_due', ['status', 'expires_at'], unique=False)

    op.create_table('loyalty_lots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('clawed', sa.BigInteger(), nullable=False),
    sa.Column('qualifying', sa.Boolean(), nullable=False),
    sa.Column('source_type', sa.String(length=20), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('earned_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('remaining >= 0 AND remaining <= points', name=op.f('ck_loyalty_lots_remaining_in_range')),
    sa.ForeignKeyConstraint(['account_id'], ['loyalty_accounts.id'], name=op.f('fk_loyalty_lots_account_id_loyalty_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['journal_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_lots_journal_id_loyalty_journals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_lots'))
    )
    with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_lots_account_expiry', ['account_id', 'expires_at'], unique=False)
        batch_op.create_index('ix_loyalty_lots_due', ['expires_at', 'remaining'], unique=False)
        batch_op.create_index('ix_loyalty_lots_source', ['source_type', 'source_id'], unique=False)

    op.create_table('loyalty_postings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['loyalty_accounts.id'], name=op.f('fk_loyalty_postings_account_id_loyalty_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['journal_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_postings_journal_id_loyalty_journals'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_postings'))
    )
    with op.batch_alter_table('loyalty_postings', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_postings_account', ['account_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loyalty_postings_journal_id'), ['journal_id'], unique=False)

    op.create_table('loyalty_redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('returned', sa.BigInteger(), nullable=False),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_loyalty_redemptions_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_redemptions_customer_id_customers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['journal_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_redemptions_journal_id_loyalty_journals')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_loyalty_redemptions_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reward_id'], ['loyalty_rewards.id'], name=op.f('fk_loyalty_redemptions_reward_id_loyalty_rewards'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_redemptions')),
    sa.UniqueConstraint('journal_id', name=op.f('uq_loyalty_redemptions_journal_id'))
    )
    with op.batch_alter_table('loyalty_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_redemptions_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loyalty_redemptions_order_id'), ['order_id'], unique=False)

    op.create_table('loyalty_rule_uses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_rule_uses_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['journal_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_rule_uses_journal_id_loyalty_journals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['loyalty_rules.id'], name=op.f('fk_loyalty_rule_uses_rule_id_loyalty_rules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_rule_uses'))
    )
    with op.batch_alter_table('loyalty_rule_uses', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_rule_uses_cap', ['rule_id', 'customer_id', 'at'], unique=False)

    op.create_table('loyalty_allocations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('journal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['journal_id'], ['loyalty_journals.id'], name=op.f('fk_loyalty_allocations_journal_id_loyalty_journals'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lot_id'], ['loyalty_lots.id'], name=op.f('fk_loyalty_allocations_lot_id_loyalty_lots'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_allocations'))
    )
    with op.batch_alter_table('loyalty_allocations', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_allocations_journal', ['journal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loyalty_allocations_lot_id'), ['lot_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('loyalty_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_allocations_lot_id'))
        batch_op.drop_index('ix_loyalty_allocations_journal')

    op.drop_table('loyalty_allocations')
    with op.batch_alter_table('loyalty_rule_uses', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_rule_uses_cap')

    op.drop_table('loyalty_rule_uses')
    with op.batch_alter_table('loyalty_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_redemptions_order_id'))
        batch_op.drop_index(batch_op.f('ix_loyalty_redemptions_customer_id'))

    op.drop_table('loyalty_redemptions')
    with op.batch_alter_table('loyalty_postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_postings_journal_id'))
        batch_op.drop_index('ix_loyalty_postings_account')

    op.drop_table('loyalty_postings')
    with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_lots_source')
        batch_op.drop_index('ix_loyalty_lots_due')
        batch_op.drop_index('ix_loyalty_lots_account_expiry')

    op.drop_table('loyalty_lots')
    with op.batch_alter_table('loyalty_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_holds_due')

    op.drop_table('loyalty_holds')
    with op.batch_alter_table('loyalty_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_attendance_customer_id'))

    op.drop_table('loyalty_attendance')
    with op.batch_alter_table('loyalty_tier_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_tier_changes_customer')
        batch_op.drop_index(batch_op.f('ix_loyalty_tier_changes_at'))

    op.drop_table('loyalty_tier_changes')
    with op.batch_alter_table('loyalty_journals', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_journals_source')
        batch_op.drop_index('ix_loyalty_journals_customer')
        batch_op.drop_index(batch_op.f('ix_loyalty_journals_created_at'))

    op.drop_table('loyalty_journals')
    with op.batch_alter_table('loyalty_club_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_club_members_customer_id'))

    op.drop_table('loyalty_club_members')
    with op.batch_alter_table('loyalty_club_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_club_events_club_id'))

    op.drop_table('loyalty_club_events')
    with op.batch_alter_table('loyalty_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_accounts_tier')
        batch_op.drop_index('ix_loyalty_accounts_active')

    op.drop_table('loyalty_accounts')
    op.drop_table('loyalty_rules')
    op.drop_table('loyalty_rewards')
    op.drop_table('loyalty_clubs')
    op.drop_table('loyalty_tiers')
    op.drop_table('loyalty_stats')
    op.drop_table('loyalty_programmes')
