"""loyalty: storage settings for the expiry job (HOT updates of wallets and lots)

A PostgreSQL update is HOT (the new row version goes into the same page, no index entry is
written) when no indexed column changes and the page has room. The nightly expiry writes one
version of every due lot and of its wallet; in the worst case every row of a page changes in one
batch, so a page needs room for a second version of each of its rows.

- ``loyalty_accounts`` and ``loyalty_lots`` keep half of each page free (``fillfactor = 50``,
  PostgreSQL; the tables take about twice the space). Rows written before this migration keep
  their full pages until the table is rewritten (``VACUUM FULL`` in a maintenance window); new
  and moved rows get the room at once.
- ``ix_loyalty_lots_due`` (expires_at) is no longer partial on ``remaining > 0``: a predicate
  column counts as indexed, so every spend and expiry of a lot was a non-HOT update with an entry
  in each lot index. It serves the "expiring soon" windows, which filter ``remaining`` anyway;
  the expiry job finds lots by wallet range.
- ``ix_loyalty_lots_source`` is dropped: no query reads lots by source (they are found by wallet
  and expiry, or by journal).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 23:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE loyalty_accounts SET (fillfactor = 50)')
        op.execute('ALTER TABLE loyalty_lots SET (fillfactor = 50)')
    op.drop_index('ix_loyalty_lots_source', table_name='loyalty_lots')
    op.drop_index('ix_loyalty_lots_due', table_name='loyalty_lots')
    op.create_index('ix_loyalty_lots_due', 'loyalty_lots', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_loyalty_lots_due', table_name='loyalty_lots')
    op.create_index(
        'ix_loyalty_lots_due',
        'loyalty_lots',
        ['expires_at'],
        unique=False,
        postgresql_where=sa.text('remaining > 0'),
        sqlite_where=sa.text('remaining > 0'),
    )
    op.create_index(
        'ix_loyalty_lots_source', 'loyalty_lots', ['source_type', 'source_id'], unique=False
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE loyalty_lots RESET (fillfactor)')
        op.execute('ALTER TABLE loyalty_accounts RESET (fillfactor)')
