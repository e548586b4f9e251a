"""record versions for optimistic concurrency; one primary contact

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Every editable business record gets ``version`` (core.versioning); existing rows start at 1.
VERSIONED = ('customers', 'products', 'orders', 'touchpoints', 'complaints', 'users', 'surveys')


def upgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('version', sa.Integer(), server_default='1', nullable=False)
            )

    # Before the index can exist, customers with several primary contacts keep only the oldest
    # one (lowest id) as primary: deterministic, and the one most likely entered first.
    contacts = sa.table(
        'customer_contacts',
        sa.column('id', sa.Integer()),
        sa.column('customer_id', sa.Integer()),
        sa.column('is_primary', sa.Boolean()),
    )
    first = sa.alias(contacts, 'first')
    oldest_primary = (
        sa.select(sa.func.min(first.c.id))
        .where(first.c.customer_id == contacts.c.customer_id, first.c.is_primary == sa.true())
        .scalar_subquery()
    )
    op.execute(
        contacts.update()
        .where(contacts.c.is_primary == sa.true(), contacts.c.id != oldest_primary)
        .values(is_primary=False)
    )
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.create_index(
            'uq_customer_contacts_primary',
            ['customer_id'],
            unique=True,
            postgresql_where=sa.text('is_primary'),
            sqlite_where=sa.text('is_primary'),
        )


def downgrade() -> None:
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.drop_index('uq_customer_contacts_primary')
    for table in reversed(VERSIONED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
