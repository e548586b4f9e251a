"""loyalty: pending (return-window) points and member notices

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loyalty_programmes', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('pending_days', sa.Integer(), server_default='0', nullable=False)
        )
    with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('available_at', retento.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('basis', sa.Numeric(precision=14, scale=2), nullable=True))

    op.create_table('loyalty_notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('expires_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', retento.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_loyalty_notices_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lot_id'], ['loyalty_lots.id'], name=op.f('fk_loyalty_notices_lot_id_loyalty_lots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['mail_outbox.id'], name=op.f('fk_loyalty_notices_message_id_mail_outbox'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_notices')),
    sa.UniqueConstraint('lot_id', 'expires_at', name=op.f('uq_loyalty_notices_lot_id'))
    )
    with op.batch_alter_table('loyalty_notices', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_notices_customer', ['customer_id', 'expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('loyalty_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_notices_customer')
    op.drop_table('loyalty_notices')
    with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
        batch_op.drop_column('basis')
        batch_op.drop_column('available_at')
    with op.batch_alter_table('loyalty_programmes', schema=None) as batch_op:
        batch_op.drop_column('pending_days')
