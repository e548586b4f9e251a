"""``retento loyalty check``: every account, journal and lot against the postings, in SQL."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyHold,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
)

SHOW = 20


@dataclass
class CheckReport:
    accounts: int = 0
    journals: int = 0
    lots: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_ledger(session: Session) -> CheckReport:
    """Find any account whose balance differs from its postings, any journal that does not sum
    to zero, any lot whose remaining differs from its allocations or leaves 0..points, any
    wallet whose balance differs from its lots minus debt, and holds against the hold accounts."""
    rep = CheckReport()
    rep.accounts = int(session.scalar(select(func.count()).select_from(LoyaltyAccount)) or 0)
    rep.journals = int(session.scalar(select(func.count()).select_from(LoyaltyJournal)) or 0)
    rep.lots = int(session.scalar(select(func.count()).select_from(LoyaltyLot)) or 0)

    sums = (
        select(LoyaltyPosting.account_id.label("aid"), func.sum(LoyaltyPosting.amount).label("s"))
        .group_by(LoyaltyPosting.account_id)
        .subquery()
    )
    for aid, bal, s in session.execute(
        select(LoyaltyAccount.id, LoyaltyAccount.balance, func.coalesce(sums.c.s, 0))
        .outerjoin(sums, sums.c.aid == LoyaltyAccount.id)
        .where(LoyaltyAccount.balance != func.coalesce(sums.c.s, 0))
        .limit(SHOW)
    ):
        rep.problems.append(f"account {aid}: balance {bal} but postings sum to {s}")

    for jid, s in session.execute(
        select(LoyaltyPosting.journal_id, func.sum(LoyaltyPosting.amount))
        .group_by(LoyaltyPosting.journal_id)
        .having(func.sum(LoyaltyPosting.amount) != 0)
        .limit(SHOW)
    ):
        rep.problems.append(f"journal {jid}: postings sum to {s}, not 0")

    allocs = (
        select(LoyaltyAllocation.lot_id.label("lid"), func.sum(LoyaltyAllocation.points).label("s"))
        .group_by(LoyaltyAllocation.lot_id)
        .subquery()
    )
    used = func.coalesce(allocs.c.s, 0)
    for lid, pts, rem, u in session.execute(
        select(LoyaltyLot.id, LoyaltyLot.points, LoyaltyLot.remaining, used)
        .outerjoin(allocs, allocs.c.lid == LoyaltyLot.id)
        .where(
            (LoyaltyLot.remaining != LoyaltyLot.points - used)
            | (LoyaltyLot.remaining < 0)
            | (LoyaltyLot.remaining > LoyaltyLot.points)
        )
        .limit(SHOW)
    ):
        rep.problems.append(
            f"lot {lid}: {pts} points, {u} allocated, but {rem} remaining (must be 0..points)"
        )

    lot_sums = (
        select(LoyaltyLot.account_id.label("aid"), func.sum(LoyaltyLot.remaining).label("s"))
        .group_by(LoyaltyLot.account_id)
        .subquery()
    )
    in_lots = func.coalesce(lot_sums.c.s, 0)
    for aid, bal, debt, s in session.execute(
        select(LoyaltyAccount.id, LoyaltyAccount.balance, LoyaltyAccount.debt, in_lots)
        .outerjoin(lot_sums, lot_sums.c.aid == LoyaltyAccount.id)
        .where(
            LoyaltyAccount.kind == "wallet",
            (LoyaltyAccount.balance != in_lots - LoyaltyAccount.debt) | (LoyaltyAccount.debt < 0),
        )
        .limit(SHOW)
    ):
        rep.problems.append(f"wallet {aid}: balance {bal} but lots hold {s} and debt is {debt}")

    held = int(
        session.scalar(
            select(func.coalesce(func.sum(LoyaltyHold.points), 0)).where(
                LoyaltyHold.status == "open"
            )
        )
        or 0
    )
    hold_bal = int(
        session.scalar(
            select(func.coalesce(func.sum(LoyaltyAccount.balance), 0)).where(
                LoyaltyAccount.kind == "hold"
            )
        )
        or 0
    )
    if held != hold_bal:
        rep.problems.append(f"open holds total {held} but the hold accounts hold {hold_bal}")
    total = int(session.scalar(select(func.coalesce(func.sum(LoyaltyAccount.balance), 0))) or 0)
    if total != 0:
        rep.problems.append(f"all balances sum to {total}, not 0")
    return rep
