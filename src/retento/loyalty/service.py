"""Member operations: redeem (at the counter or against an order), holds, adjustments,
reversals, and the member's view (balance, lots, history, tier progress)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, Named, NotFound, Term, range_error
from retento.core.locking import lock_row
from retento.loyalty import ledger
from retento.loyalty.ledger import (
    MAX_POINTS,
    Replay,
    consume,
    expire_wallet_now,
    open_journal,
    open_lots,
    restore,
    spendable,
)
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyHold,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyRedemption,
    LoyaltyReward,
    LoyaltyTierChange,
)
from retento.loyalty.reason_labels import JOURNAL_KIND_LABELS
from retento.loyalty.tiers import QUALIFYING_POINTS, evaluate, qualifying, qualifying_lots, tiers
from retento.web.i18n import N_


def _points(n: int, field: str = "points") -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0 or n > MAX_POINTS:
        raise InvalidInput(
            Msg("Points must be a whole number from 1 to %(max)s.", max=MAX_POINTS), field=field
        )
    return n


def _api_key(actor: User | None, key: str | None) -> str | None:
    if not key:
        return None
    key = key.strip()
    if not key or len(key) > 120 or not key.isprintable():
        raise InvalidInput(
            "Idempotency-Key must be 1 to 120 printable characters.", field="Idempotency-Key"
        )
    return f"api:{actor.id if actor else 0}:{key}"


def _member(session: Session, customer_id: int) -> LoyaltyAccount:
    w = ledger.get_wallet(session, customer_id, lock=True)
    if w is None:
        raise NotFound("Member", customer_id, field="customer_id")
    return w


def _check_customer_scope(actor: User, customer_id: int, verb: str) -> None:
    require(actor, verb)


def redeem(
    session: Session,
    customer_id: int,
    *,
    actor: User,
    points: int | None = None,
    reward_id: int | None = None,
    order_id: int | None = None,
    note: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LoyaltyRedemption:
    """Spend points on a reward (counter) or as payment on an order; never below zero.

    The wallet row is locked and the balance re-checked under the lock, so parallel
    redemptions of one balance succeed exactly as far as the points go.
    """
    require(actor, "loyalty:redeem")
    key = _api_key(actor, idempotency_key)
    req = ledger.request_hash(
        {"op": "redeem", "c": customer_id, "p": points, "r": reward_id, "o": order_id}
    )
    w = _member(session, customer_id)
    done = ledger.find_journal(session, key)
    if done is not None:
        return _redemption_of(session, ledger._same_request(done, req))
    reward = None
    if reward_id is not None:
        # Fresh under the lock: the stock (and the versioned UPDATE taking one) must not start
        # from a copy another transaction has changed since.
        reward = session.scalar(
            select(LoyaltyReward)
            .where(LoyaltyReward.id == reward_id)
            .with_for_update(of=LoyaltyReward)
            .execution_options(populate_existing=True)
        )
        if reward is None or not reward.active:
            raise InvalidInput(
                Msg("Reward %(id)s is not available.", id=reward_id), field="reward_id"
            )
        if points is not None and points != reward.points_cost:
            raise InvalidInput("Points must match the reward's cost.", field="points")
        points = reward.points_cost
        # The reward and the tier by their names in the reader's language (their Chinese
        # names on Chinese pages and in the API's Chinese answers).
        name = Named(reward.name, zh_CN=reward.name_zh or "")
        if reward.stock is not None and reward.stock <= 0:
            raise Conflict(Msg("Reward '%(name)s' is out of stock.", name=name), field="reward_id")
        need = reward.min_tier
        if need is not None and (w.tier is None or w.tier.rank < need.rank):
            raise Conflict(
                Msg(
                    "Reward '%(name)s' is for %(tier)s members and above.",
                    name=name,
                    tier=Named(need.name, zh_CN=need.name_zh or ""),
                ),
                field="reward_id",
            )
    if points is None:
        raise InvalidInput("Give the points or a reward.", field="points")
    _points(points)
    if order_id is not None:
        from retento.orders.models import Order

        o = session.get(Order, order_id)
        if o is None or o.customer_id != customer_id:
            raise InvalidInput(
                Msg("Order %(id)s is not this customer's.", id=order_id), field="order_id"
            )
    now = now or utcnow()
    # One query for the wallet's lots: the due ones expire first, the rest are spent from.
    due, live = ledger.split_lots(ledger.live_lots(session, w.id), now)
    expire_wallet_now(session, w, now, actor_id=actor.id, due=due)
    available = sum(lot.remaining for lot in live) - w.debt
    if points > available:
        raise Conflict(
            Msg(
                "Not enough points: %(available)s available, %(points)s needed.",
                available=available,
                points=points,
            ),
            field="points",
        )
    try:
        p = open_journal(
            session,
            kind="redeem",
            customer_id=customer_id,
            source_type="reward" if reward else ("order" if order_id else "manual"),
            source_id=reward.id if reward else order_id,
            reason=note or (f"Reward {reward.name}" if reward else "Points redeemed"),
            actor_id=actor.id,
            idem_key=key,
            req_hash=req,
            wallet_account=w,
            at=now,
        )
    except Replay as r:
        return _redemption_of(session, r.journal)
    taken = consume(p, points, live)
    assert taken == points
    p.to_wallet(-points)
    p.to_system("redemption", points)
    p.commit()
    if reward is not None and reward.stock is not None:
        reward.stock -= 1
    red = LoyaltyRedemption(
        customer_id=customer_id,
        reward_id=reward.id if reward else None,
        order_id=order_id,
        points=points,
        returned=0,
        journal_id=p.journal.id,
        agent_id=actor.id,
        created_at=now,
    )
    session.add(red)
    session.flush()
    record(session, actor, "create", "loyalty_redemption", red.id, None, snapshot(red))
    return red


def _redemption_of(session: Session, j: LoyaltyJournal) -> LoyaltyRedemption:
    red = session.scalar(select(LoyaltyRedemption).where(LoyaltyRedemption.journal_id == j.id))
    if red is None:
        raise Conflict(
            "This Idempotency-Key was used for another operation.", field="Idempotency-Key"
        )
    return red


def adjust(
    session: Session,
    customer_id: int,
    points: int,
    *,
    actor: User,
    reason: str,
    idempotency_key: str | None = None,
    expires_at: datetime | None = None,
) -> LoyaltyJournal:
    """A manager's manual correction: credit (a new lot) or debit (from the lots, never below 0)."""
    require(actor, "loyalty:adjust")
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise InvalidInput("Points must be a non-zero whole number.", field="points")
    if abs(points) > MAX_POINTS:
        # The size is the problem, not the form of the number: say the allowed range.
        raise range_error("points", N_("Points"), -MAX_POINTS, MAX_POINTS).refuse()
    if not reason or not reason.strip():
        raise InvalidInput("Give a reason for the adjustment.", field="reason")
    key = _api_key(actor, idempotency_key)
    req = ledger.request_hash({"op": "adjust", "c": customer_id, "p": points, "r": reason})
    w = ledger.wallet(session, customer_id) if points > 0 else _member(session, customer_id)
    done = ledger.find_journal(session, key)
    if done is not None:
        return ledger._same_request(done, req)
    now = utcnow()
    live: list[LoyaltyLot] = []
    if points < 0:
        due, live = ledger.split_lots(ledger.live_lots(session, w.id), now)
        expire_wallet_now(session, w, now, actor_id=actor.id, due=due)
        available = sum(lot.remaining for lot in live) - w.debt
        if -points > available:
            raise Conflict(Msg("Only %(n)s points can be taken off.", n=available), field="points")
    try:
        p = open_journal(
            session,
            kind="adjust",
            customer_id=customer_id,
            source_type="manual",
            source_id=None,
            reason=reason.strip(),
            actor_id=actor.id,
            idem_key=key,
            req_hash=req,
            wallet_account=w,
            at=now,
        )
    except Replay as r:
        return r.journal
    if points > 0:
        ledger.new_lot(
            p,
            points,
            expires_at=expires_at or ledger.default_expiry(session, now),
            qualifying=False,
        )
    else:
        consume(p, -points, live)
        p.to_wallet(points)
    p.to_system("expense", -points)
    j = p.commit()
    if w.tier_id is None:
        # A member enrolled by this credit gets the tier its qualifying points reach (the entry
        # tier, threshold 0), as one enrolled by an order does; the nightly review looks at
        # members with a tier only, so it would otherwise stay without one until an order.
        evaluate(session, w, now, actor_id=actor.id)
    record(session, actor, "create", "loyalty_journal", j.id, None, snapshot(j, {"points": points}))
    return j


def recorded_adjustment(
    session: Session, idempotency_key: str | None, *, actor: User
) -> tuple[int, int, str] | None:
    """What the adjustment first sent with ``idempotency_key`` (by ``actor``) recorded:
    (customer id, points, reason), or None; for a form sent again with other values."""
    require(actor, "loyalty:read")
    try:
        key = _api_key(actor, idempotency_key)
    except InvalidInput:
        return None
    j = ledger.find_journal(session, key)
    if j is None or j.kind != "adjust" or j.customer_id is None:
        return None
    w = ledger.get_wallet(session, j.customer_id)
    points = sum(x.amount for x in j.postings if w is not None and x.account_id == w.id)
    return j.customer_id, points, j.reason


def recorded_redemption(
    session: Session, idempotency_key: str | None, *, actor: User
) -> tuple[int, int, LoyaltyReward | None] | None:
    """What the redemption first sent with ``idempotency_key`` (by ``actor``) recorded:
    (customer id, points, the reward or None), or None; for a form sent again with other
    values."""
    require(actor, "loyalty:read")
    try:
        key = _api_key(actor, idempotency_key)
    except InvalidInput:
        return None
    j = ledger.find_journal(session, key)
    if j is None or j.kind != "redeem":
        return None
    red = session.scalar(select(LoyaltyRedemption).where(LoyaltyRedemption.journal_id == j.id))
    if red is None:
        return None
    reward = session.get(LoyaltyReward, red.reward_id) if red.reward_id is not None else None
    return red.customer_id, red.points, reward


REVERSIBLE = ("earn", "event", "adjust", "redeem")


def reverse(session: Session, journal_id: int, *, actor: User, reason: str) -> LoyaltyJournal:
    """Correct a journal by its exact opposite (the original stays); points already spent from
    an earning cannot be reversed (adjust instead)."""
    require(actor, "loyalty:adjust")
    j = session.get(LoyaltyJournal, journal_id)
    if j is None:
        raise NotFound("Journal", journal_id)
    if j.kind not in REVERSIBLE or j.customer_id is None:
        raise Conflict(
            Msg(
                "A %(kind)s journal cannot be reversed.",
                kind=Term(j.kind, JOURNAL_KIND_LABELS.get(j.kind)),
            ),
            field="journal_id",
        )
    w = _member(session, j.customer_id)
    if session.scalar(select(LoyaltyJournal.id).where(LoyaltyJournal.reverses_id == j.id)):
        raise Conflict(Msg("Journal %(id)s is already reversed.", id=j.id), field="journal_id")
    postings = list(
        session.scalars(select(LoyaltyPosting).where(LoyaltyPosting.journal_id == j.id))
    )
    delta = sum(x.amount for x in postings if x.account_id == w.id)
    now = utcnow()
    p = open_journal(
        session,
        kind="reversal",
        customer_id=j.customer_id,
        source_type=j.source_type,
        source_id=j.source_id,
        reason=reason or f"Reversal of journal {j.id}",
        actor_id=actor.id,
        idem_key=f"reversal:{j.id}",
        wallet_account=w,
        at=now,
    )
    p.journal.reverses_id = j.id
    if delta > 0:
        own = list(
            session.scalars(
                select(LoyaltyLot).where(LoyaltyLot.journal_id == j.id, LoyaltyLot.remaining > 0)
            )
        )
        for lot in own:
            lot.clawed = lot.points  # a reversed earning no longer counts for tiers
        taken = consume(p, delta, own)
        if taken < delta:
            raise Conflict(
                Msg("%(n)s of these points were already spent; adjust instead.", n=delta - taken),
                field="journal_id",
            )
    elif delta < 0:
        back = restore(p, j.id, -delta)
        if back < -delta:
            ledger.new_lot(
                p, -delta - back, expires_at=ledger.default_expiry(session, now), qualifying=False
            )
            # new_lot posted these to the wallet already; the negated postings below post all.
            p.to_wallet(-(-delta - back))
        if j.kind == "redeem":
            red = session.scalar(
                select(LoyaltyRedemption).where(LoyaltyRedemption.journal_id == j.id)
            )
            # The reward's row locked and read fresh: two reversals at once each give their
            # unit back (a plain read-then-write lost one; the versioned UPDATE refused one).
            reward = (
                lock_row(session, LoyaltyReward, red.reward_id)
                if red is not None and red.reward_id is not None
                else None
            )
            if reward is not None and reward.stock is not None:
                reward.stock += 1
    for x in postings:
        p.add(x.account_id, -x.amount)
    # Wallet lots were handled above: the wallet entry's balance change equals -delta.
    p.session.flush()
    out = p.commit()
    record(session, actor, "create", "loyalty_journal", out.id, None, snapshot(out))
    return out


# --- holds -----------------------------------------------------------------------------------


def reserve(
    session: Session,
    customer_id: int,
    points: int,
    *,
    actor: User,
    reference: str | None = None,
    idempotency_key: str | None = None,
    minutes: int | None = None,
) -> LoyaltyHold:
    """Reserve points for a checkout; confirm or void later, or the hold times out."""
    require(actor, "loyalty:redeem")
    _points(points)
    key = _api_key(actor, idempotency_key)
    req = ledger.request_hash({"op": "hold", "c": customer_id, "p": points, "ref": reference})
    w = _member(session, customer_id)
    done = ledger.find_journal(session, key)
    if done is not None:
        return _hold_of(session, ledger._same_request(done, req))
    now = utcnow()
    expire_wallet_now(session, w, now, actor_id=actor.id)
    available = spendable(session, w, now)
    if points > available:
        raise Conflict(
            Msg(
                "Not enough points: %(available)s available, %(points)s needed.",
                available=available,
                points=points,
            ),
            field="points",
        )
    try:
        p = open_journal(
            session,
            kind="hold",
            customer_id=customer_id,
            source_type="hold",
            source_id=reference,
            reason=f"Hold {reference or ''}".strip(),
            actor_id=actor.id,
            idem_key=key,
            req_hash=req,
            wallet_account=w,
            at=now,
        )
    except Replay as r:
        return _hold_of(session, r.journal)
    consume(p, points, open_lots(session, w.id, now))
    p.to_wallet(-points)
    p.to_system("hold", points)
    p.commit()
    mins = minutes if minutes is not None else ledger.programme(session).hold_minutes
    h = LoyaltyHold(
        customer_id=customer_id,
        points=points,
        status="open",
        reference=(reference or None),
        journal_id=p.journal.id,
        created_at=now,
        expires_at=now + timedelta(minutes=max(1, mins)),
    )
    session.add(h)
    session.flush()
    return h


def _hold_of(session: Session, j: LoyaltyJournal) -> LoyaltyHold:
    h = session.scalar(select(LoyaltyHold).where(LoyaltyHold.journal_id == j.id))
    if h is None:
        raise Conflict(
            "This Idempotency-Key was used for another operation.", field="Idempotency-Key"
        )
    return h


# A hold's status in a message: the code in English, its label elsewhere.
HOLD_STATUS_LABELS = {
    "open": N_("open"),
    "confirmed": N_("confirmed"),
    "voided": N_("voided"),
    "expired": N_("expired"),
}


def _hold_is(h: LoyaltyHold) -> Msg:
    label = HOLD_STATUS_LABELS.get(h.status, h.status)
    return Msg("Hold %(id)s is %(status)s.", id=h.id, status=Term(h.status, label))


def _locked_hold(session: Session, hold_id: int) -> tuple[LoyaltyHold, LoyaltyAccount]:
    h = session.get(LoyaltyHold, hold_id)
    if h is None:
        raise NotFound("Hold", hold_id)
    w = _member(session, h.customer_id)  # wallet first, then the hold: the one lock order
    session.refresh(h, with_for_update=True)
    return h, w


def confirm_hold(session: Session, hold_id: int, *, actor: User) -> LoyaltyHold:
    """Spend the held points (idempotent: confirming twice is a no-op)."""
    require(actor, "loyalty:redeem")
    h, w = _locked_hold(session, hold_id)
    if h.status == "confirmed":
        return h
    if h.status != "open":
        raise Conflict(_hold_is(h), field="hold_id")
    p = open_journal(
        session,
        kind="hold_confirm",
        customer_id=h.customer_id,
        source_type="hold",
        source_id=h.id,
        reason=f"Hold {h.id} confirmed",
        actor_id=actor.id,
        idem_key=f"hold:{h.id}:close",
        wallet_account=w,
    )
    p.to_system("hold", -h.points)
    p.to_system("redemption", h.points)
    p.commit()
    red = LoyaltyRedemption(
        customer_id=h.customer_id,
        points=h.points,
        returned=0,
        journal_id=h.journal_id,
        agent_id=actor.id,
    )
    session.add(red)
    h.status, h.closing_journal_id, h.closed_at = "confirmed", p.journal.id, utcnow()
    session.flush()
    return h


def void_hold(
    session: Session, hold_id: int, *, actor: User | None, status: str = "voided"
) -> LoyaltyHold:
    """Give the held points back to the lots they came from (idempotent)."""
    if actor is not None:
        require(actor, "loyalty:redeem")
    h, w = _locked_hold(session, hold_id)
    if h.status in ("voided", "expired"):
        return h
    if h.status != "open":
        raise Conflict(_hold_is(h), field="hold_id")
    p = open_journal(
        session,
        kind="hold_void",
        customer_id=h.customer_id,
        source_type="hold",
        source_id=h.id,
        reason=f"Hold {h.id} {status}",
        actor_id=actor.id if actor else None,
        idem_key=f"hold:{h.id}:close",
        wallet_account=w,
    )
    back = restore(p, h.journal_id, h.points)
    if back < h.points:
        ledger.new_lot(
            p,
            h.points - back,
            expires_at=ledger.default_expiry(session, utcnow()),
            qualifying=False,
        )
    p.to_wallet(back)
    p.to_system("hold", -h.points)
    p.commit()
    h.status, h.closing_journal_id, h.closed_at = status, p.journal.id, utcnow()
    session.flush()
    return h


def expire_holds(session: Session, now: datetime | None = None) -> int:
    """Time out open holds past their expiry; returns how many."""
    now = now or utcnow()
    ids = list(
        session.scalars(
            select(LoyaltyHold.id)
            .where(LoyaltyHold.status == "open", LoyaltyHold.expires_at <= now)
            .order_by(LoyaltyHold.id)
            .limit(5000)
        )
    )
    for hid in ids:
        void_hold(session, hid, actor=None, status="expired")
    return len(ids)


# --- member view -----------------------------------------------------------------------------


@dataclass
class MemberView:
    wallet: LoyaltyAccount
    available: int
    qualifying: int
    next_tier: object | None
    to_next: int
    expiring_soon: int  # points expiring in (now, expiring_by]: ``expiring.points`` or 0
    expiring_by: datetime  # the end of the programme's "expiring soon" window
    held: int
    # What expires soon and its first and last date (``ledger.expiring``: the same computation
    # as the retention alert ``points_expiring``), None if nothing does.
    expiring: ledger.Expiring | None = None


def member_view(session: Session, customer_id: int, *, actor: User) -> MemberView | None:
    """Balance, tier progress and what expires soon; ``None`` if the customer is not a member."""
    require(actor, "loyalty:read")
    w = ledger.get_wallet(session, customer_id)
    if w is None:
        return None
    now = utcnow()
    prog = ledger.programme(session)
    by = now + timedelta(days=prog.expiring_soon_days)
    # What can be spent, what counts towards the tier and what is held, in one statement over
    # the wallet's lots (the 360 page shows this for every member).
    lots, points, held = session.execute(
        _member_sums(),
        {
            "account_id": w.id,
            "customer_id": customer_id,
            "now": now,
            "start": now - timedelta(days=prog.tier_window_days),
        },
    ).one()
    soon = ledger.expiring(session, [customer_id], now, by).get(customer_id)
    q = qualifying(session, w, now) if prog.tier_basis == "spend" else int(points or 0)
    nxt = None
    for t in tiers(session):
        if not t.invite_only and t.threshold > q and (w.tier is None or t.rank > w.tier.rank):
            nxt = t
            break
    return MemberView(
        wallet=w,
        available=max(0, int(lots or 0) - w.debt),  # as ledger.spendable
        qualifying=q,
        next_tier=nxt,
        to_next=(nxt.threshold - q) if nxt is not None else 0,
        expiring_soon=soon.points if soon else 0,
        expiring_by=by,
        held=int(held or 0),
        expiring=soon,
    )


@cache
def _member_sums() -> Any:
    """member_view's sums over one wallet's lots, built once: points spendable at ``now`` (ledger.spendable_lots), points qualifying in ``(start, now]`` with the
    points basis (tiers.qualifying_lots) and the customer's open holds."""

    def param(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    now = param("now", LoyaltyLot.expires_at)
    held = (
        select(func.coalesce(func.sum(LoyaltyHold.points), 0))
        .where(
            LoyaltyHold.customer_id == param("customer_id", LoyaltyHold.customer_id),
            LoyaltyHold.status == "open",
        )
        .scalar_subquery()
    )
    return select(
        func.sum(LoyaltyLot.remaining).filter(*ledger.spendable_lots(now)),
        func.sum(QUALIFYING_POINTS).filter(
            *qualifying_lots(param("start", LoyaltyLot.earned_at), now)
        ),
        held,
    ).where(LoyaltyLot.account_id == param("account_id", LoyaltyLot.account_id))


def lots(
    session: Session, customer_id: int, *, actor: User, open_only: bool = True, limit: int = 200
) -> list[LoyaltyLot]:
    require(actor, "loyalty:read")
    w = ledger.get_wallet(session, customer_id)
    if w is None:
        return []
    stmt = select(LoyaltyLot).where(LoyaltyLot.account_id == w.id)
    if open_only:
        stmt = stmt.where(LoyaltyLot.remaining > 0)
    return list(session.scalars(stmt.order_by(LoyaltyLot.expires_at, LoyaltyLot.id).limit(limit)))


def history(
    session: Session, customer_id: int, *, actor: User, limit: int = 50, offset: int = 0
) -> list[tuple[LoyaltyJournal, int]]:
    """The member's journals, newest first, each with its effect on the wallet."""
    require(actor, "loyalty:read")
    w = ledger.get_wallet(session, customer_id)
    if w is None:
        return []
    moved = (
        select(LoyaltyPosting.journal_id.label("jid"), func.sum(LoyaltyPosting.amount).label("n"))
        .where(LoyaltyPosting.account_id == w.id)
        .group_by(LoyaltyPosting.journal_id)
        .subquery()
    )
    rows = session.execute(
        select(LoyaltyJournal, func.coalesce(moved.c.n, 0))
        .outerjoin(moved, moved.c.jid == LoyaltyJournal.id)
        # Journals about the member, and journals of nobody in particular that still moved
        # the wallet (the nightly expiry run posts many wallets in one journal).
        .where(
            or_(
                LoyaltyJournal.customer_id == customer_id,
                LoyaltyJournal.id.in_(
                    select(LoyaltyPosting.journal_id).where(LoyaltyPosting.account_id == w.id)
                ),
            )
        )
        .order_by(LoyaltyJournal.id.desc())
        .limit(min(max(limit, 1), 500))
        .offset(max(offset, 0))
    ).all()
    return [(j, int(n)) for j, n in rows]


def redeemed_rewards(
    session: Session, journal_ids: list[int], *, actor: User
) -> dict[int, LoyaltyReward]:
    """Journal id → the reward it redeemed or granted, for those of ``journal_ids`` that did."""
    require(actor, "loyalty:read")
    if not journal_ids:
        return {}
    rows = session.execute(
        select(LoyaltyRedemption.journal_id, LoyaltyReward)
        .join(LoyaltyReward, LoyaltyReward.id == LoyaltyRedemption.reward_id)
        .where(LoyaltyRedemption.journal_id.in_(journal_ids))
    ).all()
    return {jid: reward for jid, reward in rows}


def tier_history(session: Session, customer_id: int, *, actor: User) -> list[LoyaltyTierChange]:
    require(actor, "loyalty:read")
    return list(
        session.scalars(
            select(LoyaltyTierChange)
            .where(LoyaltyTierChange.customer_id == customer_id)
            .order_by(LoyaltyTierChange.at.desc(), LoyaltyTierChange.id.desc())
            .limit(100)
        )
    )


def expiring_count(session: Session, *, actor: User, days: int | None = None) -> int:
    """How many members have points expiring within ``days`` (the programme's "soon" by
    default), as ``expiring_soon`` lists them: a list cut at its limit says how many it left out."""
    require(actor, "loyalty:read")
    now = utcnow()
    days = days if days is not None else ledger.programme(session).expiring_soon_days
    soon = ledger.expiring_select(now, now + timedelta(days=days)).subquery()
    return int(session.scalar(select(func.count()).select_from(soon)) or 0)


def expiring_soon(
    session: Session, *, actor: User, days: int | None = None, limit: int = 100
) -> list[tuple[int, str, int, datetime]]:
    """Members with points expiring within ``days``: (customer id, name, points, first expiry)
    (``ledger.expiring_select``, as the member card and the retention alert count them)."""
    require(actor, "loyalty:read")
    from retento.customers.models import Customer

    now = utcnow()
    days = days if days is not None else ledger.programme(session).expiring_soon_days
    if days < 0 or days > 3660:
        raise InvalidInput("days must be between 0 and 3660.", field="days")
    soon = ledger.expiring_select(now, now + timedelta(days=days)).subquery()
    rows = session.execute(
        select(soon, Customer.name)
        .join(Customer, Customer.id == soon.c.customer_id)
        .order_by(soon.c.first, soon.c.customer_id)
        .limit(min(max(limit, 1), 1000))
    ).all()
    out = []
    for r in rows:
        e = ledger.expiring_row(r)
        out.append((r.customer_id, r.name, e.points, e.first))
    return out
