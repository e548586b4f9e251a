"""Nightly expiry: each due lot's remainder goes to breakage, in set-based SQL batches.

Idempotent: a lot's ``remaining`` drops to zero in the same transaction that posts it, so a
second run finds nothing. Wallets are locked (in id order) before their lots are touched, the
same lock order as every other posting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
)

BATCH = 100_000

# PostgreSQL: one statement per batch. The due lots of the (already locked) wallets are read
# once into ``d``; the allocations, the per-wallet postings, the wallet balances and the lots'
# ``remaining`` are all written from it, so the four writes cannot disagree and the lots table
# is scanned once instead of four times. Every sub-statement sees the same snapshot. The id
# range (the batch is sorted) lets the lots be found through the (account_id, expires_at) index.
_PG_BATCH = text(
    """
    WITH d AS MATERIALIZED (
        SELECT l.id, l.account_id, l.remaining FROM loyalty_lots l
        WHERE l.account_id BETWEEN :lo AND :hi AND l.account_id = ANY(CAST(:ids AS bigint[]))
          AND l.remaining > 0 AND l.expires_at <= :now
    ),
    z AS (
        UPDATE loyalty_lots SET remaining = 0 FROM d WHERE loyalty_lots.id = d.id
    ),
    a AS (
        INSERT INTO loyalty_allocations (journal_id, lot_id, points)
        SELECT :j, d.id, d.remaining FROM d
    ),
    g AS MATERIALIZED (
        SELECT d.account_id, sum(d.remaining) AS s FROM d GROUP BY d.account_id
    ),
    p AS (
        INSERT INTO loyalty_postings (journal_id, account_id, amount)
        SELECT :j, g.account_id, -g.s FROM g
    ),
    u AS (
        UPDATE loyalty_accounts SET balance = loyalty_accounts.balance - g.s,
               last_activity_at = :now
        FROM g WHERE loyalty_accounts.id = g.account_id
    )
    SELECT coalesce(sum(g.s), 0) FROM g
    """
)


def _expire_batch_pg(session: Session, ids: list[int], now: datetime, breakage: int) -> int:
    """Expire the due lots of the locked wallets ``ids`` in one statement; returns the points."""
    j = session.execute(
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
    points = int(
        session.execute(
            _PG_BATCH, {"ids": ids, "lo": ids[0], "hi": ids[-1], "now": now, "j": j}
        ).scalar_one()
    )
    if points == 0:
        # Nothing was due after all (the lots changed before the wallets were locked).
        session.execute(delete(LoyaltyJournal).where(LoyaltyJournal.id == j))
        return 0
    session.execute(insert(LoyaltyPosting).values(journal_id=j, account_id=breakage, amount=points))
    accounts = LoyaltyAccount.__table__
    session.execute(
        update(accounts)
        .where(accounts.c.id == breakage)
        .values(balance=accounts.c.balance + points)
    )
    return points


def run_expiry(session: Session, now: datetime | None = None, batch: int = BATCH) -> int:
    """Expire every lot due at ``now``; returns the points moved to breakage."""
    now = now or utcnow()
    total = 0
    lots = LoyaltyLot.__table__
    due = and_(lots.c.remaining > 0, lots.c.expires_at <= now)
    breakage = ledger.system_account_id(session, "breakage", 0)
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
            return total
        last = ids[-1]
        if session.get_bind().dialect.name == "postgresql":
            total += _expire_batch_pg(session, ids, now, breakage)
            session.expire_all()
            continue
        in_batch = lots.c.account_id.in_(ids)
        # The wallets are locked, so no other transaction can change these lots meanwhile.
        mine = and_(due, in_batch)
        points = int(
            session.scalar(select(func.coalesce(func.sum(lots.c.remaining), 0)).where(mine))
        )
        if points == 0:
            continue
        j = LoyaltyJournal(
            kind="expire",
            customer_id=None,
            source_type="system",
            source_id=now.date().isoformat(),
            reason="Points expired",
            created_at=now,
        )
        session.add(j)
        session.flush()
        session.execute(
            insert(LoyaltyAllocation).from_select(
                ["journal_id", "lot_id", "points"],
                select(literal(j.id), lots.c.id, lots.c.remaining).where(mine),
            )
        )
        per_wallet = (
            select(literal(j.id), lots.c.account_id, -func.sum(lots.c.remaining))
            .where(mine)
            .group_by(lots.c.account_id)
        )
        session.execute(
            insert(LoyaltyPosting).from_select(["journal_id", "account_id", "amount"], per_wallet)
        )
        session.execute(
            insert(LoyaltyPosting).values(journal_id=j.id, account_id=breakage, amount=points)
        )
        # Balances move by exactly what was posted to each wallet in this journal.
        postings = LoyaltyPosting.__table__
        accounts = LoyaltyAccount.__table__
        moved = (
            select(postings.c.account_id, postings.c.amount)
            .where(postings.c.journal_id == j.id, postings.c.account_id != breakage)
            .subquery()
        )
        session.execute(
            update(accounts)
            .where(accounts.c.id == moved.c.account_id)
            .values(balance=accounts.c.balance + moved.c.amount, last_activity_at=now)
        )
        session.execute(
            update(accounts)
            .where(accounts.c.id == breakage)
            .values(balance=accounts.c.balance + points)
        )
        session.execute(update(lots).where(mine).values(remaining=0))
        total += points
        session.expire_all()
