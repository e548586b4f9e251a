"""Nightly expiry: each due lot's remainder goes to breakage, in set-based SQL batches.

Idempotent: a lot's ``remaining`` drops to zero in the same transaction that posts it, so a
second run finds nothing. Wallets are locked (in id order) before their lots are touched, the
same lock order as every other posting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, and_, any_, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
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

BATCH = 50_000


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
            # One array parameter instead of 50,000 bound values.
            in_batch = lots.c.account_id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
        else:
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
