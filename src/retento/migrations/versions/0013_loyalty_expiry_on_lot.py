"""loyalty: expiry recorded on the lot (reserved for the loyalty-expiry work)

A lot records its expired points (``expired``) and the last journal that expired them
(``expired_journal_id``) instead of one allocation row per expired lot; the due index only
holds lots with points left. Existing allocations of ``expire`` journals move onto their lots.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
EXPIRE_ALLOCS = (
    "SELECT a.lot_id, a.journal_id, a.points FROM loyalty_allocations a "
    "JOIN loyalty_journals j ON j.id = a.journal_id WHERE j.kind = 'expire'"
)


def _sqlite_with_lots() -> bool:
    """SQLite holding lots: a batch rebuild would DROP the old table, which SQLite refuses
    (foreign keys are on) once allocations or holds point at its rows."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return False
    return bind.execute(sa.text('SELECT EXISTS (SELECT 1 FROM loyalty_lots)')).scalar() == 1


def _columns() -> set[str]:
    return {c['name'] for c in sa.inspect(op.get_bind()).get_columns('loyalty_lots')}


def upgrade() -> None:
    if _sqlite_with_lots() or 'expired' in _columns():
        # Plain ADD COLUMN with column constraints (SQLite cannot name a column-level foreign
        # key in a way it reflects back, so fresh databases take the batch path below). A
        # database downgraded on SQLite with lots kept the columns (see downgrade): reused.
        if 'expired' not in _columns():
            op.execute(
                'ALTER TABLE loyalty_lots ADD COLUMN expired BIGINT DEFAULT 0 NOT NULL '
                'CONSTRAINT ck_loyalty_lots_expired_in_range '
                'CHECK (expired >= 0 AND expired <= points)'
            )
            op.execute(
                'ALTER TABLE loyalty_lots ADD COLUMN expired_journal_id INTEGER '
                'CONSTRAINT fk_loyalty_lots_expired_journal_id_loyalty_journals '
                'REFERENCES loyalty_journals (id) ON DELETE RESTRICT'
            )
        op.drop_index('ix_loyalty_lots_due', table_name='loyalty_lots')
    else:
        with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('expired', sa.BigInteger(), server_default='0', nullable=False)
            )
            batch_op.add_column(sa.Column('expired_journal_id', BigId, nullable=True))
            batch_op.create_foreign_key(
                batch_op.f('fk_loyalty_lots_expired_journal_id_loyalty_journals'),
                'loyalty_journals', ['expired_journal_id'], ['id'], ondelete='RESTRICT',
            )
            batch_op.create_check_constraint(
                batch_op.f('ck_loyalty_lots_expired_in_range'),
                'expired >= 0 AND expired <= points',
            )
            batch_op.drop_index('ix_loyalty_lots_due')
    # Existing expiry allocations move onto their lots (a lot may have expired more than once:
    # the points add up, the last journal is kept), then the allocation rows go.
    op.execute(
        f"UPDATE loyalty_lots SET "
        f"expired = expired + (SELECT sum(e.points) FROM ({EXPIRE_ALLOCS}) e "
        f"WHERE e.lot_id = loyalty_lots.id), "
        f"expired_journal_id = (SELECT max(e.journal_id) FROM ({EXPIRE_ALLOCS}) e "
        f"WHERE e.lot_id = loyalty_lots.id) "
        f"WHERE id IN (SELECT e.lot_id FROM ({EXPIRE_ALLOCS}) e)"
    )
    op.execute(
        "DELETE FROM loyalty_allocations WHERE journal_id IN "
        "(SELECT id FROM loyalty_journals WHERE kind = 'expire')"
    )
    op.create_index(
        'ix_loyalty_lots_due', 'loyalty_lots', ['expires_at'], unique=False,
        postgresql_where=sa.text('remaining > 0'), sqlite_where=sa.text('remaining > 0'),
    )


def downgrade() -> None:
    # Back to one allocation row per expired lot (a lot that expired twice gets one row for
    # both, on its last expiry journal).
    op.execute(
        "INSERT INTO loyalty_allocations (journal_id, lot_id, points) "
        "SELECT expired_journal_id, id, expired FROM loyalty_lots "
        "WHERE expired > 0 AND expired_journal_id IS NOT NULL"
    )
    op.drop_index('ix_loyalty_lots_due', table_name='loyalty_lots')
    if _sqlite_with_lots():
        # SQLite cannot drop a column that a constraint uses without rebuilding the table,
        # which foreign keys forbid while rows point at lots: the columns stay, emptied (the
        # 0012 code never reads them; upgrade reuses them).
        op.execute('UPDATE loyalty_lots SET expired = 0, expired_journal_id = NULL')
    else:
        with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f('ck_loyalty_lots_expired_in_range'), type_='check'
            )
            batch_op.drop_constraint(
                batch_op.f('fk_loyalty_lots_expired_journal_id_loyalty_journals'),
                type_='foreignkey',
            )
            batch_op.drop_column('expired_journal_id')
            batch_op.drop_column('expired')
    op.create_index('ix_loyalty_lots_due', 'loyalty_lots', ['expires_at', 'remaining'], unique=False)
