"""Nightly expiry: each due lot's remainder goes to breakage, in set-based SQL batches.

Expiry is recorded on the lot itself (``expired += remaining``, ``expired_journal_id``,
``remaining = 0``): one new row version per lot and no allocation row. Each wallet still gets
one posting (a wallet's balance is the sum of its postings); the run's one journal gets a
single breakage posting at the end, so it sums to zero. A zeroed lot leaves the partial due index
(``remaining > 0``), so the index only ever holds lots with points left.

Idempotent: a lot's ``remaining`` drops to zero in the same transaction that posts it, so a
second run finds nothing. Wallets are locked (in id order) before their lots are touched, the
same lock order as every other posting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal, LoyaltyLot, LoyaltyPosting

BATCH = 100_000

# PostgreSQL: one statement per batch. The due lots of the (already locked) wallets are read
# once into ``d``; the lots, the per-wallet postings and the wallet balances are all written
# from it, so the writes cannot disagree and the lots table is scanned once. Every sub-statement
# sees the same snapshot. The id range (the batch is sorted) lets the lots be found through the
# (account_id, expires_at) index.
_PG_BATCH = text(
    """
    WITH d AS MATERIALIZED (
        SELECT l.id, l.account_id, l.remaining FROM loyalty_lots l
        WHERE l.account_id BETWEEN :lo AND :hi AND l.account_id = ANY(CAST(:ids AS bigint[]))
          AND l.remaining > 0 AND l.expires_at <= :now
    ),
    z AS (
        UPDATE loyalty_lots
        SET remaining = 0, expired = loyalty_lots.expired + d.remaining, expired_journal_id = :j
        FROM d WHERE loyalty_lots.id = d.id
    ),
    g AS MATERIALIZED (
        SELECT d.account_id, sum(d.remaining) AS s FROM d GROUP BY d.account_id
    ),
    p AS (
        INSERT INTO loyalty_postings (journal_id, account_id, amount)
        SELECT :j, g.account_id, -g.s FROM g
    ),
    u AS (
        UPDATE loyalty_accounts SET balance = loyalty_accounts.balance - g.s
        FROM g WHERE loyalty_accounts.id = g.account_id
    )
    SELECT coalesce(sum(g.s), 0) FROM g
    """
)


def _journal(session: Session, now: datetime) -> int:
    return session.execute(
        insert(LoyaltyJournal)
        .values(
            kind="expire",
            customer_id=None,
            source_type="system",
            source_id=now.date().isoformat(),
            reason="Points expired",
            created_at=now,
        )
        .returning(LoyaltyJournal.id)
    ).scalar_one()


def _to_breakage(session: Session, j: int, breakage: int, points: int) -> None:
    session.execute(insert(LoyaltyPosting).values(journal_id=j, account_id=breakage, amount=points))
    accounts = LoyaltyAccount.__table__
    session.execute(
        update(accounts)
        .where(accounts.c.id == breakage)
        .values(balance=accounts.c.balance + points)
    )


def _expire_batch_pg(session: Session, j: int, ids: list[int], now: datetime) -> int:
    """Expire the due lots of the locked wallets ``ids`` in one statement; returns the points."""
    return int(
        session.execute(
            _PG_BATCH, {"ids": ids, "lo": ids[0], "hi": ids[-1], "now": now, "j": j}
        ).scalar_one()
    )


def _expire_batch(
    session: Session, j: int, ids: list[int], now: datetime, due: ColumnElement[bool]
) -> int:
    """``_PG_BATCH`` in portable statements (SQLite, for development); returns the points."""
    lots = LoyaltyLot.__table__
    # The wallets are locked, so no other transaction can change these lots meanwhile.
    mine = and_(due, lots.c.account_id.in_(ids))
    per_wallet = (
        select(literal(j), lots.c.account_id, -func.sum(lots.c.remaining))
        .where(mine)
        .group_by(lots.c.account_id)
    )
    session.execute(
        insert(LoyaltyPosting).from_select(["journal_id", "account_id", "amount"], per_wallet)
    )
    # Balances move by exactly what was posted to each wallet of this batch.
    postings = LoyaltyPosting.__table__
    accounts = LoyaltyAccount.__table__
    moved = (
        select(postings.c.account_id, postings.c.amount)
        .where(postings.c.journal_id == j, postings.c.account_id.in_(ids))
        .subquery()
    )
    session.execute(
        update(accounts)
        .where(accounts.c.id == moved.c.account_id)
        .values(balance=accounts.c.balance + moved.c.amount)
    )
    points = -int(
        session.scalar(select(func.coalesce(func.sum(moved.c.amount), 0)).select_from(moved))
    )
    # Last: the sums above read the lots' remaining points before they are zeroed (every
    # right-hand side of the SET sees the old row).
    session.execute(
        update(lots)
        .where(mine)
        .values(remaining=0, expired=lots.c.expired + lots.c.remaining, expired_journal_id=j)
    )
    return points


def run_expiry(session: Session, now: datetime | None = None, batch: int = BATCH) -> int:
    """Expire every lot due at ``now``; returns the points moved to breakage.

    One ``expire`` journal per run: one posting per wallet, written batch by batch, and one
    posting to breakage at the end. Taking the breakage shard only after the last wallet lock
    keeps the lock order of every other posting (wallet, then system shard): a member posting
    that holds its wallet and waits for that shard can never wait on this job in a cycle.
    """
    now = now or utcnow()
    total = 0
    lots = LoyaltyLot.__table__
    due = and_(lots.c.remaining > 0, lots.c.expires_at <= now)
    breakage = ledger.system_account_id(session, "breakage", 0)
    pg = session.get_bind().dialect.name == "postgresql"
    j = _journal(session, now)
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(LoyaltyAccount.id)
                .where(
                    LoyaltyAccount.id.in_(
                        select(lots.c.account_id).where(due, lots.c.account_id > last)
                    )
                )
                .order_by(LoyaltyAccount.id)
                .limit(batch)
                .with_for_update()
            )
        )
        if not ids:
            break
        last = ids[-1]
        if pg:
            total += _expire_batch_pg(session, j, ids, now)
        else:
            total += _expire_batch(session, j, ids, now, due)
    if total:
        _to_breakage(session, j, breakage, total)
    else:
        # Nothing was due (or the lots changed before their wallets were locked).
        session.execute(delete(LoyaltyJournal).where(LoyaltyJournal.id == j))
    session.expire_all()
    return total
