"""Loyalty figures: the dashboard, the outstanding liability in money, CSV exports.

Liability, issued, redeemed and expired points come from the sharded system accounts (a few
dozen rows), never from summing wallets, so the dashboard stays fast at millions of members.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal, LoyaltyPosting, LoyaltyTier


@dataclass
class Liability:
    outstanding_points: int
    held_points: int
    point_value: Decimal
    outstanding_value: Decimal
    issued_points: int
    redeemed_points: int
    expired_points: int
    breakage_rate: float | None
    redemption_rate: float | None
    currency: str


def _system_balances(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(LoyaltyAccount.kind, func.coalesce(func.sum(LoyaltyAccount.balance), 0))
        .where(LoyaltyAccount.system_key.is_not(None))
        .group_by(LoyaltyAccount.kind)
    ).all()
    return {k: int(v) for k, v in rows}


def liability(session: Session, *, actor: User) -> Liability:
    """Outstanding points (wallets + holds) valued at the point value; breakage and redemption rates."""
    require(actor, "loyalty:read")
    prog = ledger.programme(session)
    b = _system_balances(session)
    issued = -b.get("expense", 0)
    redeemed = b.get("redemption", 0)
    expired = b.get("breakage", 0)
    held = b.get("hold", 0)
    outstanding = issued - redeemed - expired  # = sum of wallets + holds
    value = ledger.points_value(outstanding, prog.point_value)
    settled = redeemed + expired
    return Liability(
        outstanding_points=outstanding,
        held_points=held,
        point_value=prog.point_value,
        outstanding_value=value,
        issued_points=issued,
        redeemed_points=redeemed,
        expired_points=expired,
        breakage_rate=(expired / settled) if settled else None,
        redemption_rate=(redeemed / issued) if issued else None,
        currency=prog.currency,
    )


@dataclass
class Dashboard:
    members: int
    active: int
    active_rate: float | None
    liability: Liability
    tiers: list[tuple[str, int]]
    flows: list[tuple[str, str, int]]
    as_of: datetime | None = None


def compute_stats(session: Session, now=None):
    """Count members, active members, tier distribution and tier flows (the slow part)."""
    from retento.loyalty.models import LoyaltyStats, LoyaltyTierChange

    prog = ledger.programme(session)
    now = now or utcnow()
    wallets = LoyaltyAccount.customer_id.is_not(None)
    members = int(session.scalar(select(func.count()).where(wallets)) or 0)
    active = int(
        session.scalar(
            select(func.count()).where(
                LoyaltyAccount.last_activity_at >= now - timedelta(days=prog.active_days)
            )
        )
        or 0
    )
    dist = session.execute(
        select(LoyaltyAccount.tier_id, func.count()).where(wallets).group_by(LoyaltyAccount.tier_id)
    ).all()
    flow_rows = session.execute(
        select(LoyaltyTierChange.from_tier_id, LoyaltyTierChange.to_tier_id, func.count())
        .where(LoyaltyTierChange.at >= now - timedelta(days=prog.tier_window_days))
        .group_by(LoyaltyTierChange.from_tier_id, LoyaltyTierChange.to_tier_id)
    ).all()
    return LoyaltyStats(
        id=1,
        computed_at=now,
        members=members,
        active=active,
        tiers=[[tid, int(n)] for tid, n in dist],
        flows=[[a, b, int(n)] for a, b, n in flow_rows],
    )


def refresh_stats(session: Session) -> None:
    """The ``loyalty_stats`` job: store the counts in the one stats row."""
    from retento.loyalty.models import LoyaltyStats

    fresh = compute_stats(session)
    row = session.get(LoyaltyStats, 1)
    if row is None:
        session.add(fresh)
    else:
        for k in ("computed_at", "members", "active", "tiers", "flows"):
            setattr(row, k, getattr(fresh, k))
    session.flush()


def dashboard(
    session: Session, *, actor: User, live: bool = False, locale: str = "en"
) -> Dashboard:
    """Members, active rate, liability, redemption and breakage, tier distribution and flows
    (tiers named in ``locale``).

    Counts come from the stats row the job refreshes (``live`` or no row yet: counted now);
    liability, redemption and breakage are always live (a few system-account rows)."""
    require(actor, "loyalty:read")
    from retento.loyalty.models import LoyaltyStats

    st = None if live else session.get(LoyaltyStats, 1)
    if st is None:
        st = compute_stats(session)
    names = {t.id: t.name_in(locale) for t in session.scalars(select(LoyaltyTier))}
    return Dashboard(
        members=st.members,
        active=st.active,
        active_rate=(st.active / st.members) if st.members else None,
        liability=liability(session, actor=actor),
        tiers=[(names.get(tid, "—") if tid else "—", n) for tid, n in st.tiers],
        flows=[
            (names.get(a, "—") if a else "—", names.get(b, "—") if b else "—", n)
            for a, b, n in st.flows
        ],
        as_of=st.computed_at,
    )


Batches = Iterator[list[list[Any]]]


def member_batches(session: Session, actor: User) -> Batches:
    """Members (header first): customer, balance, debt, tier, joined, last activity."""
    require(actor, "data:export")
    from retento.customers.models import Customer

    yield [
        [
            "customer_external_id",
            "customer_id",
            "balance",
            "debt",
            "tier",
            "joined_at",
            "last_activity_at",
        ]
    ]
    stmt = (
        select(
            Customer.external_id,
            LoyaltyAccount.customer_id,
            LoyaltyAccount.balance,
            LoyaltyAccount.debt,
            LoyaltyTier.code,
            LoyaltyAccount.joined_at,
            LoyaltyAccount.last_activity_at,
        )
        .join(Customer, Customer.id == LoyaltyAccount.customer_id)
        .outerjoin(LoyaltyTier, LoyaltyTier.id == LoyaltyAccount.tier_id)
        .order_by(LoyaltyAccount.id)
        .execution_options(yield_per=2000)
    )
    for part in session.execute(stmt).partitions():
        yield [list(r) for r in part]


def posting_batches(session: Session, actor: User) -> Batches:
    """Every posting with its journal (for accounting), header first: one row per posting."""
    require(actor, "data:export")
    yield [
        [
            "journal_id",
            "created_at",
            "kind",
            "customer_id",
            "source_type",
            "source_id",
            "reason",
            "actor_id",
            "account_id",
            "account_kind",
            "amount",
        ]
    ]
    stmt = (
        select(
            LoyaltyJournal.id,
            LoyaltyJournal.created_at,
            LoyaltyJournal.kind,
            LoyaltyJournal.customer_id,
            LoyaltyJournal.source_type,
            LoyaltyJournal.source_id,
            LoyaltyJournal.reason,
            LoyaltyJournal.actor_id,
            LoyaltyPosting.account_id,
            LoyaltyAccount.kind,
            LoyaltyPosting.amount,
        )
        .join(LoyaltyJournal, LoyaltyJournal.id == LoyaltyPosting.journal_id)
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyPosting.account_id)
        .order_by(LoyaltyPosting.id)
        .execution_options(yield_per=5000)
    )
    for part in session.execute(stmt).partitions():
        yield [list(r) for r in part]


def liability_batches(session: Session, actor: User) -> Batches:
    """The liability report, header first (one row per figure)."""
    require(actor, "data:export")
    lia = liability(session, actor=actor)
    yield [["figure", "value"]]
    # Exact decimals as text (``cell`` would round a point value of 0.005 to two places).
    yield [[k, format(v, "f") if isinstance(v, Decimal) else v] for k, v in lia.__dict__.items()]


# ``retento loyalty export`` and ``GET /api/v1/loyalty/export/{what}``: written by the one CSV
# writer of every export (``dataio.exporter.csv_chunks``: UTF-8 with BOM, formulas neutralised).
EXPORTS = {"members": member_batches, "postings": posting_batches, "liability": liability_batches}
