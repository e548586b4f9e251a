"""Earning and reversing: orders earn by the rules, refunds claw back pro rata, events award.

One code path for every source: the API, the web and imports all create orders through the
order hooks (``retento.core.hooks``), which call ``earn_for_order`` / ``reverse_for_refund``
(a file import's new orders: ``earning_bulk.earn_for_imported``, set-based, same results).
Every journal carries a key per (source document, event), so a retry or a re-import finds the
first journal instead of posting a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.ledger import Replay, consume, open_journal, restore
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyRedemption,
    LoyaltyRule,
    LoyaltyRuleUse,
)

ONE = Decimal(1)


def _floor(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_FLOOR))


def _round(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_HALF_UP))


def active_rules(session: Session, at: datetime, kinds: tuple[str, ...]) -> list[LoyaltyRule]:
    rules = session.scalars(
        select(LoyaltyRule)
        .where(LoyaltyRule.active.is_(True), LoyaltyRule.kind.in_(kinds))
        .order_by(LoyaltyRule.id)
    )
    return [
        r
        for r in rules
        if (r.valid_from is None or r.valid_from <= at)
        and (r.valid_until is None or at < r.valid_until)
    ]


def multiplier(w: LoyaltyAccount) -> Decimal:
    return w.tier.multiplier if w.tier is not None else ONE


def _capped(
    session: Session, rule: LoyaltyRule, customer_id: int, points: int, at: datetime
) -> int:
    if rule.cap_points is None or points <= 0:
        return points
    stmt = select(func.coalesce(func.sum(LoyaltyRuleUse.points), 0)).where(
        LoyaltyRuleUse.rule_id == rule.id, LoyaltyRuleUse.customer_id == customer_id
    )
    if rule.cap_period_days:
        stmt = stmt.where(LoyaltyRuleUse.at > at - timedelta(days=rule.cap_period_days))
    used = int(session.scalar(stmt) or 0)
    return max(0, min(points, rule.cap_points - used))


# The category of a line whose product no longer exists: no category rule matches it.
NO_PRODUCT = object()


def uncapped_points(rules, paid: Decimal, lines, mult: Decimal) -> list[tuple[Any, int]]:
    """Points each rule gives an order that paid ``paid`` (> 0), after the tier multiplier and
    before the rules' caps. ``lines`` are (net amount, product id, quantity, the product's
    category or ``NO_PRODUCT``); the order-level discount is spread over them in proportion to
    their amounts. The one arithmetic of earning: ``order_points`` here and the bulk path of
    imports (``earning_bulk``) both call it."""
    line_net = sum((net for net, _pid, _qty, _cat in lines), Decimal(0))
    scale = paid / line_net if line_net > 0 else Decimal(0)
    out = []
    for rule in rules:
        if paid < rule.min_spend:
            continue
        if rule.kind == "spend":
            base = Decimal(_floor(paid * rule.rate)) + rule.fixed_points
        else:
            base = Decimal(0)
            for net, pid, qty, cat in lines:
                if (rule.kind == "product" and pid == rule.product_id) or (
                    rule.kind == "category" and cat is not NO_PRODUCT and cat == rule.category
                ):
                    base += _floor(net * scale * rule.rate) + rule.fixed_points * qty
        out.append((rule, _floor(base * mult) if rule.apply_multiplier else int(base)))
    return out


# The kinds of rule an order earns by.
ORDER_RULES = ("spend", "product", "category")


def order_lines(order) -> list[tuple[Decimal, int | None, int, Any]]:
    """The order's lines as :func:`uncapped_points` reads them."""
    return [
        (
            ln.net_amount,
            ln.product_id,
            ln.quantity,
            ln.product.category if ln.product is not None else NO_PRODUCT,
        )
        for ln in order.lines
    ]


def order_points(session: Session, order, w: LoyaltyAccount) -> list[tuple[LoyaltyRule, int]]:
    """Points each active rule gives this order (after tier multiplier and caps)."""
    at = order.ordered_at
    paid = Decimal(order.revenue)
    if paid <= 0:
        return []
    rules = active_rules(session, at, ORDER_RULES)
    if not rules:
        return []
    out = []
    for rule, pts in uncapped_points(rules, paid, order_lines(order), multiplier(w)):
        pts = _capped(session, rule, w.customer_id, pts, at)
        if pts > 0:
            out.append((rule, pts))
    return out


def _uses(session: Session, p, parts: list[tuple[LoyaltyRule, int]], at: datetime) -> None:
    session.add_all(
        LoyaltyRuleUse(
            rule_id=r.id,
            customer_id=p.journal.customer_id,
            journal_id=p.journal.id,
            points=n,
            at=at,
        )
        for r, n in parts
    )


def open_order_earn(
    session: Session,
    order,
    wallet: LoyaltyAccount,
    *,
    idem_key: str,
    reason: str,
    actor_id: int | None,
) -> ledger.Posting:
    """An ``earn`` journal of ``order`` into ``wallet`` (``ledger.Replay`` when ``idem_key``
    was posted before): its first earning and the corrections that add to it."""
    return open_journal(
        session,
        kind="earn",
        customer_id=order.customer_id,
        source_type="order",
        source_id=order.id,
        reason=reason,
        actor_id=actor_id,
        idem_key=idem_key,
        wallet_account=wallet,
    )


def earn_for_order(session: Session, order, *, actor_id: int | None) -> LoyaltyJournal | None:
    """Earn for a new order by the active rules; cancelled orders never earn."""
    prog = ledger.programme(session)
    if not prog.active or order.status == "cancelled":
        return None
    key = f"order:{order.id}:earn"
    existing = ledger.find_journal(session, key)
    if existing is not None:
        return existing
    w = ledger.get_wallet(session, order.customer_id, lock=True)
    if w is None:
        if not prog.auto_enrol:
            return None
        w = ledger.wallet(session, order.customer_id)
    parts = order_points(session, order, w)
    total = sum(n for _r, n in parts)
    if total <= 0:
        return None
    try:
        p = open_order_earn(
            session, order, w, idem_key=key, reason=f"Order {order.external_id or order.id}",
            actor_id=actor_id,
        )  # fmt: skip
    except Replay as r:
        return r.journal
    ledger.new_lot(
        p,
        total,
        expires_at=order.ordered_at + timedelta(days=prog.expiry_days),
        earned_at=order.ordered_at,
        available_at=(
            order.ordered_at + timedelta(days=prog.pending_days) if prog.pending_days else None
        ),
        basis=Decimal(order.revenue) + Decimal(order.refunded),
    )
    p.to_system("expense", -total)
    _uses(session, p, parts, order.ordered_at)
    p.commit()
    from retento.loyalty.tiers import evaluate

    evaluate(session, w, utcnow(), actor_id=actor_id)
    return p.journal


def debt_room(session: Session, w: LoyaltyAccount) -> int | None:
    """How many more points of debt the refund policy allows (None = no limit)."""
    prog = ledger.programme(session)
    if prog.refund_policy == "cap":
        return 0
    if prog.refund_policy == "debt":
        return None
    return max(0, prog.negative_limit - w.debt)


def clawback(
    session: Session,
    w: LoyaltyAccount,
    lot: LoyaltyLot | list[LoyaltyLot] | None,
    points: int,
    *,
    source_type: str,
    source_id,
    reason: str,
    actor_id: int | None,
    idem_key: str | None,
    now: datetime,
) -> LoyaltyJournal:
    """Take back ``points``: from ``lot`` first (an order's lots: its earning's, in the order
    given), then the member's other lots, then as debt up to the refund policy's limit; what
    is left beyond that is written off. The points are marked clawed on ``lot`` (no longer
    counted for tiers), each lot up to its points.

    The clawback journal takes all ``points`` (the points the refunded money earned); the part
    the policy does not let it take is given back at once by a ``write_off`` journal (keyed
    ``<idem_key>:write_off``), so the ledger shows both lines and the balance never goes below
    what the policy allows: clawback − write-off = what was taken from lots and debt."""
    p = open_journal(
        session,
        kind="clawback",
        customer_id=w.customer_id,
        source_type=source_type,
        source_id=source_id,
        reason=reason,
        actor_id=actor_id,
        idem_key=idem_key,
        wallet_account=w,
        at=now,
    )
    own = [] if lot is None else lot if isinstance(lot, list) else [lot]
    taken = consume(p, points, own) if own else 0
    mark = points
    for x in own:
        n = min(mark, x.points - x.clawed)
        x.clawed += n
        mark -= n
    if taken < points:
        # Pending lots (return window) count too: a clawback may take what cannot be spent yet.
        ids = {x.id for x in own}
        others = [x for x in _unexpired_lots(session, w.id, now) if x.id not in ids]
        taken += consume(p, points - taken, others)
    short = points - taken
    written_off = 0
    if short:
        room = debt_room(session, w)
        owed = short if room is None else min(short, room)
        w.debt += owed
        written_off = short - owed
    p.to_wallet(-points)
    p.to_system("expense", points)
    journal = p.commit()
    if written_off:
        write_off(
            session,
            w,
            written_off,
            source_type=source_type,
            source_id=source_id,
            reason=reason,
            actor_id=actor_id,
            idem_key=f"{idem_key}:write_off" if idem_key else None,
            now=now,
        )
    return journal


def write_off(
    session: Session,
    w: LoyaltyAccount,
    points: int,
    *,
    source_type: str,
    source_id,
    reason: str,
    actor_id: int | None,
    idem_key: str | None,
    now: datetime,
) -> LoyaltyJournal:
    """Write off ``points`` a clawback could not take (nothing left, no debt allowed): they
    stay with the member, and the expense for them stands (``expense`` −points, wallet
    +points), as its own ``write_off`` line in the ledger. No lot: the clawback that preceded it
    in the same transaction took them from no lot either."""
    p = open_journal(
        session,
        kind="write_off",
        customer_id=w.customer_id,
        source_type=source_type,
        source_id=source_id,
        reason=reason,
        actor_id=actor_id,
        idem_key=idem_key,
        wallet_account=w,
        at=now,
    )
    p.to_wallet(points)
    p.to_system("expense", -points)
    return p.commit()


def _unexpired_lots(session: Session, account_id: int, now: datetime) -> list[LoyaltyLot]:
    """The wallet's unexpired lots with points left, pending ones included, oldest expiry first."""
    return list(
        session.scalars(
            select(LoyaltyLot)
            .where(
                LoyaltyLot.account_id == account_id,
                LoyaltyLot.remaining > 0,
                LoyaltyLot.expires_at > now,
            )
            .order_by(LoyaltyLot.expires_at, LoyaltyLot.id)
        )
    )


def pending(session: Session, customer_id: int, now: datetime | None = None) -> list[tuple]:
    """The member's pending points (return window not over): [(points, available_at)], soonest
    first. They are in the balance but cannot be redeemed or held before ``available_at``."""
    now = now or utcnow()
    w = ledger.get_wallet(session, customer_id)
    if w is None:
        return []
    rows = session.execute(
        select(LoyaltyLot.available_at, func.sum(LoyaltyLot.remaining))
        .where(
            LoyaltyLot.account_id == w.id,
            LoyaltyLot.remaining > 0,
            LoyaltyLot.expires_at > now,
            LoyaltyLot.available_at > now,
        )
        .group_by(LoyaltyLot.available_at)
        .order_by(LoyaltyLot.available_at)
    ).all()
    return [(int(n), at) for at, n in rows]


def _reversed_share(order, basis: Decimal | None) -> Decimal:
    """The part of the order no longer paid for (0..1): all of it when the order is cancelled,
    else 1 - revenue now / the amount the points were earned on (refunds and cancelled lines
    both lower the revenue). Without a recorded basis, revenue + refunded is the original."""
    if order.status == "cancelled":
        return ONE
    revenue = Decimal(order.revenue)
    if basis is None:
        basis = revenue + Decimal(order.refunded)
    if basis <= 0:
        return Decimal(0)
    return min(ONE, max(Decimal(0), (basis - revenue) / basis))


# The journals that earn an order's points: ``order:<id>:earn`` when it was recorded, then
# ``order:<id>:earn:<points>`` for each correction upward past the amount it earned on, and
# ``order:<id>:restore:<points>`` for points a downward correction took and an upward one
# gave back (``loyalty.corrections``).
EARN_KEY, TOP_UP_KEY, RESTORE_KEY = "order:{id}:earn", "order:{id}:earn:", "order:{id}:restore:"


@dataclass
class OrderPoints:
    """An order's points as its lots record them (the wallet is locked by the caller)."""

    earned: list[LoyaltyLot]  # the earning's lot and the top-ups' lots, oldest first
    restored: list[LoyaltyLot]  # lots of points given back by upward corrections
    journal_ids: list[int]  # the journals that wrote them

    @property
    def points(self) -> int:
        """Points the order earned (on ``basis``), before anything was taken back."""
        return sum(x.points for x in self.earned)

    @property
    def restored_points(self) -> int:
        return sum(x.points for x in self.restored)

    @property
    def clawed(self) -> int:
        """Every point ever taken back from the order (grows only: the clawback keys count it)."""
        return sum(x.clawed for x in self.earned + self.restored)

    @property
    def claimed(self) -> int:
        """Points taken back and not given back since (``points - claimed`` stand)."""
        return self.clawed - self.restored_points

    @property
    def basis(self) -> Decimal | None:
        """The order amount ``points`` were earned on: the last correction's, or the first
        earning's; None for lots earned before the basis was recorded (migration 0014)."""
        return self.earned[-1].basis

    @property
    def lots(self) -> list[LoyaltyLot]:
        """Where a clawback takes from first: the newest of the order's lots first."""
        return sorted(self.earned + self.restored, key=lambda x: x.id, reverse=True)


def points_of_order(session: Session, order) -> OrderPoints | None:
    """The order's points (:class:`OrderPoints`), or None if it earned none."""
    rows = session.execute(
        select(LoyaltyLot, LoyaltyJournal.idem_key)
        .join(LoyaltyJournal, LoyaltyJournal.id == LoyaltyLot.journal_id)
        .where(
            LoyaltyJournal.source_type == "order",
            LoyaltyJournal.source_id == str(order.id),
            LoyaltyJournal.kind == "earn",
        )
        .order_by(LoyaltyLot.id)
        .execution_options(populate_existing=True)
    ).all()
    earn, top_up, restore = (k.format(id=order.id) for k in (EARN_KEY, TOP_UP_KEY, RESTORE_KEY))
    earned = [lot for lot, key in rows if key == earn or (key or "").startswith(top_up)]
    restored = [lot for lot, key in rows if (key or "").startswith(restore)]
    if not earned:
        return None
    return OrderPoints(earned, restored, sorted({x.journal_id for x in earned + restored}))


def reverse_order(
    session: Session,
    order,
    *,
    key: str,
    source_type: str,
    source_id,
    reason: str,
    actor_id: int | None,
) -> list[LoyaltyJournal]:
    """Claw back the order's earned points and give back points spent on it, in proportion to
    the part of the order reversed so far (cumulative, so rounding never drifts). ``key``
    prefixes the journals' idempotency keys."""
    out: list[LoyaltyJournal] = []
    earn = ledger.find_journal(session, f"order:{order.id}:earn")
    redemptions = list(
        session.scalars(select(LoyaltyRedemption).where(LoyaltyRedemption.order_id == order.id))
    )
    if earn is None and not redemptions:
        return out
    w = ledger.wallet(session, order.customer_id)
    now = utcnow()
    state = points_of_order(session, order) if earn is not None else None
    share = _reversed_share(order, state.basis if state is not None else None)
    if state is not None:
        # Cumulative: the points the reversed share of the order earned, less those taken
        # back (and not given back) before; keyed by all points ever taken back after it, so
        # each clawback of a change has its own key, the same one when the change is replayed.
        due = _round(state.points * share) - state.claimed
        if due > 0:
            k = key.format(target=state.clawed + due) + ":clawback"
            try:
                out.append(
                    clawback(
                        session,
                        w,
                        state.lots,
                        due,
                        source_type=source_type,
                        source_id=source_id,
                        reason=reason,
                        actor_id=actor_id,
                        idem_key=k,
                        now=now,
                    )
                )
            except Replay as r:
                out.append(r.journal)
    for red in redemptions:
        target = _round(red.points * share)
        due = target - red.returned
        if due <= 0:
            continue
        try:
            p = open_journal(
                session,
                kind="return",
                customer_id=w.customer_id,
                source_type=source_type,
                source_id=source_id,
                reason=f"Points spent on order {order.external_id or order.id} returned",
                actor_id=actor_id,
                idem_key=key.format(target=target) + f":return:{red.id}",
                wallet_account=w,
                at=now,
            )
        except Replay as r:
            out.append(r.journal)
            continue
        back = restore(p, red.journal_id, due)
        if back < due:
            # The consumed lots cannot take them all (e.g. reversed): a fresh lot holds the rest.
            ledger.new_lot(
                p, due - back, expires_at=ledger.default_expiry(session, now), qualifying=False
            )
        p.to_wallet(back)
        p.to_system("redemption", -due)
        red.returned += due
        out.append(p.commit())
    from retento.loyalty.tiers import evaluate

    evaluate(session, w, now, actor_id=actor_id)
    return out


def reverse_for_refund(session: Session, order, refund, *, actor_id: int | None) -> list:
    """A refund (full, partial, one line): claw back pro rata to the money refunded so far."""
    return reverse_order(
        session,
        order,
        key=f"refund:{refund.id}",
        source_type="refund",
        source_id=refund.id,
        reason=f"Refund on order {order.external_id or order.id}",
        actor_id=actor_id,
    )


def award_event(
    session: Session,
    customer_id: int,
    event: str,
    *,
    source_type: str,
    source_id,
    actor_id: int | None,
    points: int | None = None,
    reason: str | None = None,
    at: datetime | None = None,
    qualifying: bool = True,
) -> LoyaltyJournal | None:
    """Award points for an event (survey answered, referral, birthday, complaint remedy).

    ``points`` given explicitly (a complaint remedy's promised points) are posted as they are;
    otherwise the active event rules decide. Keyed by (source, event): awarded once.
    ``qualifying=False`` for goodwill that must not count toward a tier (a win-back offer to a
    member who was just downgraded would otherwise put them straight back).
    """
    prog = ledger.programme(session)
    if not prog.active:
        return None
    at = at or utcnow()
    key = f"{source_type}:{source_id}:{event}"
    existing = ledger.find_journal(session, key)
    if existing is not None:
        return existing
    w = ledger.get_wallet(session, customer_id, lock=True)
    if w is None:
        if not prog.auto_enrol and points is None:
            return None
        w = ledger.wallet(session, customer_id)
    parts: list[tuple[LoyaltyRule, int]] = []
    if points is None:
        mult = multiplier(w)
        for rule in active_rules(session, at, ("event",)):
            if rule.event != event:
                continue
            pts = _floor(rule.fixed_points * mult) if rule.apply_multiplier else rule.fixed_points
            pts = _capped(session, rule, customer_id, pts, at)
            if pts > 0:
                parts.append((rule, pts))
        points = sum(n for _r, n in parts)
    if points <= 0:
        return None
    try:
        p = open_journal(
            session,
            kind="event",
            customer_id=customer_id,
            source_type=source_type,
            source_id=source_id,
            reason=reason or event.replace("_", " ").capitalize(),
            actor_id=actor_id,
            idem_key=key,
            wallet_account=w,
            at=at,
        )
    except Replay as r:
        return r.journal
    ledger.new_lot(
        p, points, expires_at=at + timedelta(days=prog.expiry_days), qualifying=qualifying
    )
    p.to_system("expense", -points)
    _uses(session, p, parts, at)
    p.commit()
    from retento.loyalty.tiers import evaluate

    evaluate(session, w, at, actor_id=actor_id)
    return p.journal


def earn_one_by_one(session: Session, order_ids: list[int], *, actor_id: int | None) -> int:
    """The per-order path for imported orders (``earn_for_order`` each): the reference the
    set-based path is tested against."""
    if not order_ids or not ledger.programme(session).active:
        return 0
    from sqlalchemy.orm import selectinload

    from retento.orders.models import Order

    n = 0
    for start in range(0, len(order_ids), 1000):
        chunk = order_ids[start : start + 1000]
        for o in session.scalars(
            select(Order).where(Order.id.in_(chunk)).options(selectinload(Order.lines))
        ):
            if earn_for_order(session, o, actor_id=actor_id) is not None:
                n += 1
    return n
