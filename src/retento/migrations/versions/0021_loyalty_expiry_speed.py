"""loyalty: storage settings for the expiry job

- ``loyalty_accounts`` keeps half of each page free (``fillfactor = 50``, PostgreSQL): a balance
  update that changes no indexed column (the expiry job's, a member's redemption only if
  ``last_activity_at`` were not indexed) then writes its new row version into the same page, a
  HOT update with no index entries, even when every wallet of a page changes in one batch. Rows
  written before this migration keep their full pages until the table is rewritten (``VACUUM
  FULL loyalty_accounts`` in a maintenance window); new and moved rows get the room at once.
- ``ix_loyalty_lots_source`` is dropped: no query reads lots by source (they are found by
  wallet and expiry, or by journal), and every lot update that is not HOT (the expiry job's
  zeroing of ``remaining`` leaves the partial due index) paid for an entry in it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 23:15:00.000000
"""

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE loyalty_accounts SET (fillfactor = 50)')
    op.drop_index('ix_loyalty_lots_source', table_name='loyalty_lots')


def downgrade() -> None:
    op.create_index(
        'ix_loyalty_lots_source', 'loyalty_lots', ['source_type', 'source_id'], unique=False
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE loyalty_accounts RESET (fillfactor)')
