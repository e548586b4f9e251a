"""Tiers: qualification on points earned (or money spent) in a rolling window — never on the
balance — with immediate upgrades, downgrades after a grace period, and invite-only tiers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, Named
from retento.core.hooks import emit
from retento.core.locking import key_share_row
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyAccount, LoyaltyLot, LoyaltyTier, LoyaltyTierChange
from retento.web.i18n import N_, installation_locale, translate


def tiers(session: Session) -> list[LoyaltyTier]:
    return list(session.scalars(select(LoyaltyTier).order_by(LoyaltyTier.rank)))


# A lot's points that count towards a tier (net of refunds), on the lots of qualifying_lots.
QUALIFYING_POINTS = LoyaltyLot.points - LoyaltyLot.clawed


def qualifying(session: Session, w: LoyaltyAccount, now: datetime) -> int:
    """Points earned (net of refunds) or money spent in the window ending at ``now``."""
    prog = ledger.programme(session)
    start = now - timedelta(days=prog.tier_window_days)
    if prog.tier_basis == "spend":
        from retento.orders.models import Order

        total = session.scalar(
            select(func.coalesce(func.sum(Order.revenue), 0)).where(
                Order.customer_id == w.customer_id,
                Order.ordered_at > start,
                Order.ordered_at <= now,
                Order.status != "cancelled",
            )
        )
        return int(total or 0)
    total = session.scalar(
        select(func.coalesce(func.sum(QUALIFYING_POINTS), 0)).where(
            LoyaltyLot.account_id == w.id, *qualifying_lots(start, now)
        )
    )
    return int(total or 0)


def qualifying_lots(start: Any, now: Any) -> tuple[Any, ...]:
    """Conditions on a wallet's lots that count towards its tier in the window ``(start, now]``
    (datetimes or bound parameters), with the points basis."""
    return (
        LoyaltyLot.qualifying.is_(True),
        LoyaltyLot.earned_at > start,
        LoyaltyLot.earned_at <= now,
    )


def eligible_tier(all_tiers: list[LoyaltyTier], q: int) -> LoyaltyTier | None:
    best = None
    for t in all_tiers:
        if not t.invite_only and t.threshold <= q:
            best = t
    return best


def evaluate(
    session: Session, w: LoyaltyAccount, now: datetime | None = None, *, actor_id: int | None
) -> LoyaltyTierChange | None:
    """Upgrade at once; below the tier's threshold start a grace period, downgrade when it ends."""
    all_tiers = tiers(session)
    if not all_tiers:
        return None
    now = now or utcnow()
    cur = w.tier
    if cur is not None and cur.invite_only:
        return None  # invited members keep their tier until a manager changes it
    q = qualifying(session, w, now)
    best = eligible_tier(all_tiers, q)
    cur_rank = cur.rank if cur is not None else -(10**9)
    best_rank = best.rank if best is not None else -(10**9)
    if best_rank > cur_rank:
        return change_tier(session, w, best, "upgrade", q, now, actor_id=actor_id)
    if best_rank == cur_rank:
        w.grace_until = None
        return None
    if w.grace_until is None:
        w.grace_until = now + timedelta(days=cur.grace_days if cur is not None else 0)
        if w.grace_until > now:
            return None
    if now >= w.grace_until:
        return change_tier(session, w, best, "downgrade", q, now, actor_id=actor_id)
    return None


def change_tier(
    session: Session,
    w: LoyaltyAccount,
    tier: LoyaltyTier | None,
    reason: str,
    q: int,
    now: datetime,
    *,
    actor_id: int | None,
) -> LoyaltyTierChange:
    """Move the member to ``tier``; recorded in the history, as a touchpoint and a notice."""
    hold_tiers(session, [tier])
    ch = _change_row(w.customer_id, w.tier_id, tier, reason, q, now, actor_id)
    session.add(ch)
    w.tier_id = tier.id if tier is not None else None
    w.tier = tier
    w.tier_since = now
    w.grace_until = None
    session.flush()
    _touch(session, w, tier, reason, now, actor_id)
    emit("loyalty.tier_changed", session, change=ch)
    return ch


@dataclass(frozen=True)
class TierMove:
    """One change for ``change_tiers``: the member's wallet and tier before, the new tier."""

    wallet_id: int
    customer_id: int
    from_tier_id: int | None
    tier: LoyaltyTier | None
    reason: str
    qualifying: int


def change_tiers(
    session: Session, moves: list[TierMove], now: datetime, *, actor_id: int | None
) -> list[LoyaltyTierChange]:
    """``change_tier`` for many members at once (the wallets locked by the caller; a member may
    move more than once, in list order): the same history rows, touchpoints and notices, with
    the wallets moved by one UPDATE per tier they end in and one flush for the rows; then
    ``loyalty.tier_changed`` for each change in list order. For a bulk caller whose later work
    does not wait for what a subscriber does (a file import's upgrades)."""
    if not moves:
        return []
    from sqlalchemy import update
    from sqlalchemy.orm.util import identity_key

    from retento.customers.models import Customer

    hold_tiers(session, [m.tier for m in moves])
    changes = [
        _change_row(m.customer_id, m.from_tier_id, m.tier, m.reason, m.qualifying, now, actor_id)
        for m in moves
    ]
    session.add_all(changes)
    final: dict[int, int | None] = {}
    for m in moves:
        final[m.wallet_id] = m.tier.id if m.tier is not None else None
    by_tier: dict[int | None, list[int]] = {}
    for wid, tid in final.items():
        by_tier.setdefault(tid, []).append(wid)
    A = LoyaltyAccount.__table__
    for tid, wids in sorted(by_tier.items(), key=lambda kv: kv[0] or 0):
        for start in range(0, len(wids), 1000):
            session.execute(
                update(A)
                .where(A.c.id.in_(sorted(wids[start : start + 1000])))
                .values(tier_id=tid, tier_since=now, grace_until=None)
                .execution_options(synchronize_session=False)
            )
    for wid in final:  # the ORM copies are stale (change_tier sets them)
        obj = session.identity_map.get(identity_key(LoyaltyAccount, wid))
        if obj is not None:
            session.expire(obj)
    locale = installation_locale()
    session.add_all(_touchpoint(m.customer_id, m.tier, m.reason, now, locale) for m in moves)
    session.flush()
    cids = sorted({m.customer_id for m in moves})
    customers: dict[int, Any] = {}
    for start in range(0, len(cids), 1000):
        customers.update(
            (c.id, c)
            for c in session.scalars(
                select(Customer).where(Customer.id.in_(cids[start : start + 1000]))
            )
        )
    for m in moves:
        c = customers.get(m.customer_id)
        if c is not None:
            _notice(session, c, m.tier, now)
    session.flush()
    for ch in changes:
        emit("loyalty.tier_changed", session, change=ch)
    return changes


def hold_tiers(session: Session, targets: Iterable[LoyaltyTier | None]) -> None:
    """Each tier members are about to be moved into read ``FOR KEY SHARE`` (id order), as
    ``set_tier`` does: a delete of the tier waits for this change and then sees its members
    (``programme.delete_tier``); one deleted meanwhile is a 409 naming the tier, not a failed
    foreign key."""
    # The names read first: a row deleted meanwhile cannot load an expired attribute again.
    names = {t.id: Named(t.name, zh_CN=t.name_zh or "") for t in targets if t is not None}
    for tid in sorted(names):
        if key_share_row(session, LoyaltyTier, tid) is None:
            raise Conflict(
                Msg(
                    "The loyalty tier %(tier)s was deleted meanwhile; try again.",
                    tier=names[tid],
                ),
                field="tier_id",
            )


def _change_row(
    customer_id: int,
    from_tier_id: int | None,
    tier: LoyaltyTier | None,
    reason: str,
    q: int,
    now: datetime,
    actor_id: int | None,
) -> LoyaltyTierChange:
    return LoyaltyTierChange(
        customer_id=customer_id,
        from_tier_id=from_tier_id,
        to_tier_id=tier.id if tier is not None else None,
        reason=reason,
        qualifying=q,
        actor_id=actor_id,
        at=now,
    )


# The touchpoint's note and the customer's notice, by the reason of the change.
TIER_NOTES = {
    "upgrade": N_("Loyalty tier raised to %(tier)s"),
    "downgrade": N_("Loyalty tier lowered to %(tier)s"),
    "invite": N_("Invited into the loyalty tier %(tier)s"),
    "manual": N_("Loyalty tier set to %(tier)s"),
}
NO_TIER_NOTE = N_("Loyalty tier removed")
TIER_SUBJECT = N_("Your membership tier: %(tier)s")
TIER_BODY = N_("Your membership tier is now %(tier)s.")
TIER_GREETING = N_("Dear %(name)s,")
NO_TIER_SUBJECT = N_("Your membership tier has ended")
NO_TIER_BODY = N_("You no longer hold a membership tier.")


def tier_note(reason: str, tier_name: str | None, locale: str) -> str:
    """The touchpoint's note for a change to ``tier_name`` (``None``: no tier any more)."""
    if tier_name is None:
        return translate(locale, NO_TIER_NOTE)
    return translate(locale, TIER_NOTES.get(reason, TIER_NOTES["manual"]), tier=tier_name)


def _touch(session, w, tier, reason, now, actor_id) -> None:
    from retento.customers.models import Customer

    session.add(_touchpoint(w.customer_id, tier, reason, now, installation_locale()))
    c = session.get(Customer, w.customer_id)
    if c is None:
        return
    _notice(session, c, tier, now)
    session.flush()


def _touchpoint(customer_id: int, tier: LoyaltyTier | None, reason: str, now, locale: str):
    """The touchpoint recording a change to ``tier`` (notes in the installation's language)."""
    from retento.touchpoints.models import Touchpoint

    return Touchpoint(
        customer_id=customer_id,
        occurred_at=now,
        channel="other",
        stage="after_sales",
        direction="outbound",
        outcome="positive" if reason in ("upgrade", "invite") else "neutral",
        owner_id=None,
        note=tier_note(reason, tier.name_in(locale) if tier is not None else None, locale),
    )


def _notice(session: Session, c, tier: LoyaltyTier | None, now: datetime) -> None:
    """Queue the customer's e-mail notice of a change to ``tier`` (with e-mail consent only)."""
    from retento.mail.compose import CONSENT_NOTE, customer_email, customer_locale, emailable
    from retento.mail.service import queue_email

    if not emailable(c):
        return
    loc = customer_locale(c)
    if tier is None:
        subject, body = translate(loc, NO_TIER_SUBJECT), translate(loc, NO_TIER_BODY)
    else:
        subject = translate(loc, TIER_SUBJECT, tier=tier.name_in(loc))
        body = translate(loc, TIER_BODY, tier=tier.name_in(loc))
    queue_email(
        session,
        customer_email(
            c,
            loc,
            subject,
            [translate(loc, TIER_GREETING, name=c.name), body, translate(loc, CONSENT_NOTE)],
            kind="loyalty_tier",
            related_type="customer",
            related_id=c.id,
        ),
        actor=None,
        now=now,
    )


def set_tier(
    session: Session, customer_id: int, tier_id: int | None, *, actor_id: int | None
) -> LoyaltyTierChange | None:
    """A manager places a member in a tier (the way into invite-only tiers).

    Placing a member in the tier they are in changes nothing (``None``): a double click or a
    retry recorded a "change" from the tier to itself, restarted the tier's time (its grace)
    and told the customer again, as a touchpoint and a notice."""
    w = ledger.wallet(session, customer_id)  # locked: parallel requests see each other's tier
    # FOR KEY SHARE: a delete of the tier waits for this placement and then sees the member
    # (``programme.delete_tier``); one already deleting it is waited for, and the tier is gone.
    tier = key_share_row(session, LoyaltyTier, tier_id) if tier_id is not None else None
    if tier_id is not None and tier is None:
        raise InvalidInput(Msg("Tier %(id)s does not exist.", id=tier_id), field="tier_id")
    if w.tier_id == tier_id:
        return None
    now = utcnow()
    return change_tier(
        session,
        w,
        tier,
        "invite" if tier and tier.invite_only else "manual",
        qualifying(session, w, now),
        now,
        actor_id=actor_id,
    )


def review_all(session: Session, now: datetime | None = None, batch: int = 1000) -> int:
    """Nightly: re-evaluate members with a tier (downgrades and grace); returns changes made."""
    now = now or utcnow()
    changed = 0
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(LoyaltyAccount.id)
                .where(LoyaltyAccount.kind == "wallet", LoyaltyAccount.id > last)
                .where(LoyaltyAccount.tier_id.is_not(None))
                .order_by(LoyaltyAccount.id)
                .limit(batch)
            )
        )
        if not ids:
            return changed
        last = ids[-1]
        for w in session.scalars(
            select(LoyaltyAccount)
            .where(LoyaltyAccount.id.in_(ids))
            .order_by(LoyaltyAccount.id)
            .with_for_update(of=LoyaltyAccount)
        ):
            if evaluate(session, w, now, actor_id=None) is not None:
                changed += 1
