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
        to zero, any lot whose remaining differs from its points minus allocations and expired points
    or leaves 0..points, any wallet whose expired lots disagree with its expire postings, any
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
    lot = LoyaltyLot
    for lid, pts, rem, u, exp in session.execute(
        select(lot.id, lot.points, lot.remaining, used, lot.expired)
        .outerjoin(allocs, allocs.c.lid == lot.id)
        .where(
            (lot.remaining != lot.points - used - lot.expired)
            | (lot.remaining < 0)
            | (lot.remaining > lot.points)
            | (lot.expired < 0)
            | (lot.expired > lot.points)
        )
        .limit(SHOW)
    ):
        rep.problems.append(
            f"lot {lid}: {pts} points, {u} allocated, {exp} expired, but {rem} remaining "
            "(must be points - allocated - expired, within 0..points)"
        )
    _check_expiry(session, rep)

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


def _check_expiry(session: Session, rep: CheckReport) -> None:
    """Expiry is recorded on the lots: each wallet's expired points must equal what the expire
    journals took from it, and a lot's expiry journal must exist, be an expiry, and come with
    expired points (and the other way round)."""
    lot = LoyaltyLot
    expire_ids = select(LoyaltyJournal.id).where(LoyaltyJournal.kind == "expire")
    posted = (
        select(
            LoyaltyPosting.account_id.label("aid"), (-func.sum(LoyaltyPosting.amount)).label("s")
        )
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyPosting.account_id)
        .where(LoyaltyAccount.kind == "wallet", LoyaltyPosting.journal_id.in_(expire_ids))
        .group_by(LoyaltyPosting.account_id)
        .subquery()
    )
    on_lots = (
        select(lot.account_id.label("aid"), func.sum(lot.expired).label("s"))
        .where(lot.expired != 0)
        .group_by(lot.account_id)
        .subquery()
    )
    for aid, a, b in session.execute(
        select(
            func.coalesce(posted.c.aid, on_lots.c.aid),
            func.coalesce(posted.c.s, 0),
            func.coalesce(on_lots.c.s, 0),
        )
        .select_from(posted.join(on_lots, posted.c.aid == on_lots.c.aid, full=True))
        .where(func.coalesce(posted.c.s, 0) != func.coalesce(on_lots.c.s, 0))
        .limit(SHOW)
    ):
        rep.problems.append(
            f"wallet {aid}: expire journals took {a} points but its lots record {b} expired"
        )
    bad = (
        select(lot.id, lot.expired, lot.expired_journal_id, LoyaltyJournal.kind)
        .outerjoin(LoyaltyJournal, LoyaltyJournal.id == lot.expired_journal_id)
        .where(
            ((lot.expired > 0) & lot.expired_journal_id.is_(None))
            | (lot.expired_journal_id.is_not(None) & (lot.expired <= 0))
            | (
                lot.expired_journal_id.is_not(None)
                & (func.coalesce(LoyaltyJournal.kind, "") != "expire")
            )
        )
        .limit(SHOW)
    )
    for lid, exp, jid, kind in session.execute(bad):
        rep.problems.append(
            f"lot {lid}: {exp} points expired by journal {jid} ({kind or 'none'}), "
            "which is not an expiry with points"
        )
