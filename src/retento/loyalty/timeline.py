"""Loyalty activity on the customer timeline: every ledger journal that moved the member's points
(earned, redeemed with the reward, expired, adjusted, clawed back ...) with the points it moved,
and every tier change. Registered with ``retento.customers.timeline`` when the package is
imported (``loyalty/__init__.py``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from retento.customers.timeline import (
    TimelineEntry,
    TimelineSource,
    TimelineWindow,
    newest_first,
    register_timeline_source,
)
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyJournal,
    LoyaltyPosting,
    LoyaltyRedemption,
    LoyaltyReward,
    LoyaltyTier,
    LoyaltyTierChange,
)
from retento.loyalty.reason_labels import JOURNAL_KIND_LABELS, journal_reason
from retento.web.i18n import N_, translate
from retento.web.labels import label_msgid


@cache
def _statements(bounded: bool) -> tuple[Any, Any, Any]:
    """(the member's journals, other journals that moved the wallet, tier changes), each with
    what it did to the wallet, newest first and cut to ``limit``; the wallet is the parameter
    ``account_id``, the customer ``customer_id``.

    service.history reads the first two as one ``OR``; split, each walks its own index
    (journals by customer, postings by account) instead of every journal of the ledger."""
    account_id = bindparam("account_id", type_=LoyaltyPosting.account_id.type)
    customer_id = bindparam("customer_id", type_=LoyaltyJournal.customer_id.type)
    limit = bindparam("limit", type_=Integer())
    moved = (
        select(func.coalesce(func.sum(LoyaltyPosting.amount), 0))
        .where(
            LoyaltyPosting.journal_id == LoyaltyJournal.id, LoyaltyPosting.account_id == account_id
        )
        .scalar_subquery()
    )
    base = (
        select(
            LoyaltyJournal.id,
            LoyaltyJournal.kind,
            LoyaltyJournal.reason,
            LoyaltyJournal.created_at,
            moved.label("points"),
            LoyaltyReward,
        )
        .outerjoin(LoyaltyRedemption, LoyaltyRedemption.journal_id == LoyaltyJournal.id)
        .outerjoin(LoyaltyReward, LoyaltyReward.id == LoyaltyRedemption.reward_id)
        .order_by(LoyaltyJournal.created_at.desc(), LoyaltyJournal.id.desc())
        .limit(limit)
    )
    own = base.where(LoyaltyJournal.customer_id == customer_id)
    # Journals of nobody in particular (the nightly expiry run posts many wallets in one
    # journal) or of another customer (a merge) that moved this wallet.
    others = base.where(
        LoyaltyJournal.id.in_(
            select(LoyaltyPosting.journal_id).where(LoyaltyPosting.account_id == account_id)
        ),
        or_(LoyaltyJournal.customer_id.is_(None), LoyaltyJournal.customer_id != customer_id),
    )
    from_tier, to_tier = aliased(LoyaltyTier), aliased(LoyaltyTier)
    changes = (
        select(
            LoyaltyTierChange.id, LoyaltyTierChange.at, LoyaltyTierChange.reason, from_tier, to_tier
        )
        .outerjoin(from_tier, from_tier.id == LoyaltyTierChange.from_tier_id)
        .outerjoin(to_tier, to_tier.id == LoyaltyTierChange.to_tier_id)
        .where(LoyaltyTierChange.customer_id == customer_id)
        .order_by(LoyaltyTierChange.at.desc(), LoyaltyTierChange.id.desc())
        .limit(limit)
    )
    if bounded:
        until = bindparam("until", type_=LoyaltyJournal.created_at.type)
        own = own.where(LoyaltyJournal.created_at <= until)
        others = others.where(LoyaltyJournal.created_at <= until)
        changes = changes.where(LoyaltyTierChange.at <= until)
    return own, others, changes


@cache
def _wallet_statement() -> Any:
    return select(LoyaltyAccount.id).where(
        LoyaltyAccount.customer_id
        == bindparam("customer_id", type_=LoyaltyAccount.customer_id.type)
    )


def _tier_name(tier: LoyaltyTier | None, loc: str) -> str:
    return tier.name_in(loc) if tier is not None else translate(loc, N_("no tier"))


def loyalty_entries(
    session: Session, customer_id: int, window: TimelineWindow
) -> list[TimelineEntry]:
    """The member's points journals and tier changes, newest first (nothing for non-members)."""
    account_id = session.scalar(_wallet_statement(), {"customer_id": customer_id})
    if account_id is None:
        return []
    own, others, changes = _statements(window.until is not None)
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "account_id": account_id,
        "limit": window.limit,
    }
    if window.until is not None:
        values["until"] = window.until
    loc = window.locale
    href = f"/loyalty/members/{customer_id}"
    # (at, 0 for journals / 1 for tier changes, id): ties are ordered the same on every page.
    keyed: list[tuple[Any, int, int, TimelineEntry]] = []
    journals = [*session.execute(own, values), *session.execute(others, values)]
    for r in journals:
        points = int(r.points or 0)
        title = translate(loc, JOURNAL_KIND_LABELS.get(r.kind, r.kind))
        note = journal_reason(loc, r.reason, r.LoyaltyReward, r.kind, session)
        facts = (translate(loc, N_("%(n)s points"), n=f"{points:+,}"),)
        note = None if note == title else note or None
        entry = TimelineEntry(r.created_at, "loyalty", title, href, facts, note, r.kind)
        keyed.append((r.created_at, 0, r.id, entry))
    for r in session.execute(changes, values):
        if r[3] is None:  # the member's first tier
            text = translate(loc, N_("Reached loyalty tier %(tier)s"), tier=_tier_name(r[4], loc))
        elif r[4] is None:  # fell out of every tier
            text = translate(loc, N_("Left loyalty tier %(tier)s"), tier=_tier_name(r[3], loc))
        else:
            text = translate(
                loc,
                N_("Loyalty tier %(from_tier)s → %(to_tier)s"),
                from_tier=_tier_name(r[3], loc),
                to_tier=_tier_name(r[4], loc),
            )
        facts = (translate(loc, label_msgid("loyalty_tier_reason", r.reason)),)
        keyed.append(
            (r.at, 1, r.id, TimelineEntry(r.at, "loyalty", text, href, facts, None, "tier"))
        )
    return newest_first(keyed, window.limit)


register_timeline_source(
    TimelineSource(
        kind="loyalty",
        label=N_("Loyalty"),
        load=loyalty_entries,
        permission="loyalty:read",
        icon="◆",
        order=30,
    )
)
