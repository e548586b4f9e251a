"""An order corrected upward after it earned: the difference earns, as the order would have.

An order earns when it is recorded (``earning.earn_for_order``); a correction that lowers what
is paid takes points back like a refund (``reverse_for_change``). A correction that
raises it (more units, another line, a smaller discount: the order form, ``PATCH /orders/{id}``,
a file import) is settled here first, under the member's wallet lock:

- **Past the amount the points were earned on** (``basis``, kept on the order's lots): the
  order earns what the rules give it at the corrected amount, less what each rule gave it
  already (its rule uses): the rules of the order's date, the multiplier of the tier the member
  had when the order first earned, each rule's minimum spend and its cap (counted as the first
  earning counted it: the uses are dated at the order date, and the extra points are recorded
  as uses too, so later caps count them). It is an ``earn`` journal, "Order … corrected", keyed
  ``order:<id>:earn:<the order's points after it>``, with a lot dated like the order's (expiry,
  return window) whose basis is the corrected amount. When nothing more is due (a cap reached),
  the basis still moves to the corrected amount: the order's points stand for all of it, as a
  capped first earning's do. Later reversals and refunds compute their share against it.
- **Back up after a downward correction** (still within the basis): the points the reduction
  took come back in proportion, as an ``earn`` journal keyed
  ``order:<id>:restore:<points given back so far>``, less what its clawback could not take and
  wrote off (the member kept those points).

An order that earned nothing when it was recorded (programme off, not a member, below every
rule's minimum) earns nothing by a correction either, nor does one whose earning a manager
reversed by hand, one earned before the basis was recorded (migration 0014), or any order while
the programme is off. Points spent on the order and given back by a reduction stay given back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.earning import (
    EARN_KEY,
    ONE,
    ORDER_RULES,
    RESTORE_KEY,
    TOP_UP_KEY,
    OrderPoints,
    _capped,
    _reversed_share,
    _round,
    _uses,
    active_rules,
    multiplier,
    open_order_earn,
    order_lines,
    points_of_order,
    reverse_order,
    uncapped_points,
)
from retento.loyalty.ledger import Replay
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyJournal,
    LoyaltyPosting,
    LoyaltyRuleUse,
    LoyaltyTier,
    LoyaltyTierChange,
)


def earn_for_increase(session: Session, order, *, actor_id: int | None) -> list[LoyaltyJournal]:
    """Earn what a correction upward adds to an order that earned (see the module); the
    journals posted (none when nothing is due). Safe to repeat: a replay finds the keys."""
    if order.status == "cancelled" or not ledger.programme(session).active:
        return []
    first = ledger.find_journal(session, EARN_KEY.format(id=order.id))
    if first is None:
        return []
    w = ledger.get_wallet(session, order.customer_id, lock=True)
    if w is None:
        return []
    # Read under the wallet lock: a parallel correction's points are seen, not earned again.
    state = points_of_order(session, order)
    if state is None or state.basis is None or _reversed_by_hand(session, state):
        return []
    out: list[LoyaltyJournal] = []
    paid = Decimal(order.revenue) + Decimal(order.refunded)
    if paid > state.basis:
        top_up = _top_up(session, order, w, state, paid, first, actor_id)
        if top_up is not None:
            out.append(top_up)
        state = points_of_order(session, order)
        assert state is not None
    # What the order stands for now (its refunds still count) against what was taken back.
    due = _round(state.points * _reversed_share(order, state.basis))
    back = state.claimed - written_off(session, order) - due
    if back > 0:
        out.append(_give_back(session, order, w, state, back, actor_id))
    if out:
        from retento.loyalty.tiers import evaluate

        evaluate(session, w, utcnow(), actor_id=actor_id)
    return out


def _reason(order) -> str:
    return f"Order {order.external_id or order.id} corrected"


def _dated_like_the_order(session: Session, order) -> dict:
    """A correction's lot is dated like the order's first one: earned at the order date, its
    expiry and return window counted from it."""
    prog = ledger.programme(session)
    at = order.ordered_at
    return {
        "earned_at": at,
        "expires_at": at + timedelta(days=prog.expiry_days),
        "available_at": at + timedelta(days=prog.pending_days) if prog.pending_days else None,
    }


def _top_up(
    session: Session,
    order,
    w: LoyaltyAccount,
    state: OrderPoints,
    paid: Decimal,
    first: LoyaltyJournal,
    actor_id: int | None,
) -> LoyaltyJournal | None:
    at = order.ordered_at
    mult = multiplier_when(session, w, first.created_at)
    given = _given_by_rule(session, state)
    parts = []
    for rule, pts in uncapped_points(
        active_rules(session, at, ORDER_RULES), paid, order_lines(order), mult
    ):
        extra = _capped(session, rule, w.customer_id, pts - given.get(rule.id, 0), at)
        if extra > 0:
            parts.append((rule, extra))
    total = sum(n for _r, n in parts)
    if total <= 0:
        # Nothing more to earn (a cap reached): the points stand for the corrected amount.
        state.earned[-1].basis = paid
        session.flush()
        return None
    try:
        p = open_order_earn(
            session, order, w, reason=_reason(order), actor_id=actor_id,
            idem_key=TOP_UP_KEY.format(id=order.id) + str(state.points + total),
        )  # fmt: skip
    except Replay as r:
        return r.journal
    ledger.new_lot(p, total, basis=paid, **_dated_like_the_order(session, order))
    p.to_system("expense", -total)
    _uses(session, p, parts, at)
    return p.commit()


def _give_back(
    session: Session,
    order,
    w: LoyaltyAccount,
    state: OrderPoints,
    points: int,
    actor_id: int | None,
) -> LoyaltyJournal:
    try:
        p = open_order_earn(
            session, order, w, reason=_reason(order), actor_id=actor_id,
            idem_key=RESTORE_KEY.format(id=order.id) + str(state.restored_points + points),
        )  # fmt: skip
    except Replay as r:
        return r.journal
    # Counted for tiers (the lots it was taken from keep their clawed points).
    ledger.new_lot(p, points, **_dated_like_the_order(session, order))
    p.to_system("expense", -points)
    return p.commit()


def _given_by_rule(session: Session, state: OrderPoints) -> dict[int, int]:
    """Points each rule gave the order (its earning and its top-ups), before any clawback."""
    earned = sorted({x.journal_id for x in state.earned})
    rows = session.execute(
        select(LoyaltyRuleUse.rule_id, func.sum(LoyaltyRuleUse.points))
        .where(LoyaltyRuleUse.journal_id.in_(earned))
        .group_by(LoyaltyRuleUse.rule_id)
    ).all()
    return {rule_id: int(n or 0) for rule_id, n in rows}


def _reversed_by_hand(session: Session, state: OrderPoints) -> bool:
    """Whether a manager reversed one of the order's earnings (``service.reverse``)."""
    return (
        session.scalar(
            select(LoyaltyJournal.id)
            .where(LoyaltyJournal.reverses_id.in_(state.journal_ids))
            .limit(1)
        )
        is not None
    )


def written_off(session: Session, order) -> int:
    """Points the order's clawbacks (its reductions and refunds) wrote off: the member kept
    them, so giving points back leaves them out."""
    j, p = LoyaltyJournal, LoyaltyPosting
    sources = [and_(j.source_type == "order", j.source_id == str(order.id))]
    refunds = [str(r.id) for r in order.refunds]
    if refunds:
        sources.append(and_(j.source_type == "refund", j.source_id.in_(refunds)))
    return int(
        session.scalar(
            select(func.coalesce(func.sum(p.amount), 0))
            .join(j, j.id == p.journal_id)
            .where(j.kind == "write_off", or_(*sources), p.amount > 0)
        )
        or 0
    )


def multiplier_when(session: Session, w: LoyaltyAccount, at: datetime) -> Decimal:
    """The multiplier of the tier the member had at ``at`` (its tier history); the current
    tier's when the member's tier never changed."""
    rows = session.execute(
        select(LoyaltyTierChange.at, LoyaltyTierChange.from_tier_id, LoyaltyTierChange.to_tier_id)
        .where(LoyaltyTierChange.customer_id == w.customer_id)
        .order_by(LoyaltyTierChange.at, LoyaltyTierChange.id)
    ).all()
    if not rows:
        return multiplier(w)
    before = [r for r in rows if r.at < at]
    tier_id = before[-1].to_tier_id if before else rows[0].from_tier_id
    tier = session.get(LoyaltyTier, tier_id) if tier_id is not None else None
    return tier.multiplier if tier is not None else ONE


# --- Every change of a paid order: down like a refund, up earning the difference ---------------


def reverse_for_change(session: Session, order, *, actor_id: int | None) -> list:
    """The order was cancelled, or its lines or discount changed after it earned.

    Cancelled lines, fewer units, a larger discount: exactly like a refund of the part no longer
    paid for (everything when cancelled). Each distinct reversal has its own key
    (``order:<id>:reverse:<points>``), so replays post nothing twice. More paid than before:
    the difference earns (:func:`earn_for_increase`) first."""
    raised = earn_for_increase(session, order, actor_id=actor_id)
    return raised + reverse_order(
        session,
        order,
        key=f"order:{order.id}:reverse:{{target}}",
        source_type="order",
        source_id=order.id,
        # Fewer units, a larger discount or a cancelled line read "corrected", as the points an
        # increase earns do ("Lines cancelled on order …" is still labelled for old journals).
        reason=(
            f"Order {order.external_id or order.id} cancelled"
            if order.status == "cancelled"
            else _reason(order)
        ),
        actor_id=actor_id,
    )


def reverse_for_changed(session: Session, order_ids: list[int], *, actor_id: int | None) -> int:
    """``reverse_for_change`` for orders a file import updated; returns journals posted."""
    if not order_ids:
        return 0
    from retento.orders.models import Order

    n = 0
    for start in range(0, len(order_ids), 1000):
        chunk = order_ids[start : start + 1000]
        stmt = select(Order).where(Order.id.in_(chunk)).order_by(Order.id)
        for o in session.scalars(stmt.execution_options(populate_existing=True)):
            n += len(reverse_for_change(session, o, actor_id=actor_id))
    return n
