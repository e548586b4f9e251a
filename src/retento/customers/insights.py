"""The customer 360 queries: totals, revenue by month and the merged timeline, all in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import String, func, literal, null, select, union_all
from sqlalchemy.orm import Session, aliased

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import UTCDateTime
from retento.core.money import CENT, ZERO
from retento.orders.models import Order, Refund
from retento.touchpoints.models import Touchpoint


@dataclass(frozen=True)
class CustomerTotals:
    """Purchase figures over the customer's non-cancelled orders (revenue is net of refunds)."""

    order_count: int
    revenue: Decimal
    profit: Decimal
    refunded: Decimal
    first_purchase: datetime | None
    last_purchase: datetime | None
    touchpoint_count: int

    @property
    def average_order_value(self) -> Decimal | None:
        """Revenue per order, or ``None`` before the first order."""
        if not self.order_count:
            return None
        return (self.revenue / self.order_count).quantize(CENT)


@dataclass(frozen=True)
class TimelineEvent:
    """One row of the 360 timeline: an order, a refund or a touchpoint."""

    kind: str  # "order" | "refund" | "touchpoint"
    at: datetime
    id: int
    order_id: int | None
    amount: Decimal | None
    status: str | None
    channel: str | None
    stage: str | None
    outcome: str | None
    direction: str | None
    note: str | None
    owner: str | None


def _money(value: object) -> Decimal:
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)


def customer_totals(session: Session, customer_id: int, *, actor: User) -> CustomerTotals:
    """Order count, revenue, profit, refunds, first/last purchase and touchpoint count."""
    require(actor, "order:read")
    touchpoints = (
        select(func.count(Touchpoint.id))
        .where(Touchpoint.customer_id == customer_id)
        .scalar_subquery()
    )
    row = session.execute(  # one round trip: the touchpoint count rides along as a subquery
        select(
            func.count(Order.id),
            func.sum(Order.revenue),
            func.sum(Order.profit),
            func.sum(Order.refunded),
            func.min(Order.ordered_at),
            func.max(Order.ordered_at),
            touchpoints,
        ).where(Order.customer_id == customer_id, Order.status != "cancelled")
    ).one()
    return CustomerTotals(
        order_count=int(row[0] or 0),
        revenue=_money(row[1]),
        profit=_money(row[2]),
        refunded=_money(row[3]),
        first_purchase=row[4],
        last_purchase=row[5],
        touchpoint_count=int(row[6] or 0),
    )


def _month(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Order.ordered_at), "YYYY-MM")
    return func.strftime("%Y-%m", Order.ordered_at)


def revenue_by_month(
    session: Session, customer_id: int, *, actor: User, months: int = 24
) -> list[tuple[str, Decimal, Decimal]]:
    """``(YYYY-MM, revenue, profit)`` for the customer's last ``months`` months with orders (UTC)."""
    require(actor, "order:read")
    month = _month(session).label("month")
    rows = session.execute(
        select(month, func.sum(Order.revenue), func.sum(Order.profit))
        .where(Order.customer_id == customer_id, Order.status != "cancelled")
        .group_by(month)
        .order_by(month.desc())
        .limit(months)
    ).all()
    return [(m, _money(r), _money(p)) for m, r, p in reversed(rows)]


def timeline(
    session: Session,
    customer_id: int,
    *,
    actor: User,
    limit: int = 50,
    before: datetime | None = None,
) -> list[TimelineEvent]:
    """Orders, refunds and touchpoints of one customer, newest first, merged in one SQL query."""
    require(actor, "order:read")
    require(actor, "touchpoint:read")
    owner = aliased(User)
    s = String()
    orders = select(
        literal("order", s).label("kind"),
        Order.ordered_at.label("at"),
        Order.id.label("id"),
        Order.id.label("order_id"),
        Order.revenue.label("amount"),
        Order.status.label("status"),
        Order.channel.label("channel"),
        null().label("stage"),
        null().label("outcome"),
        null().label("direction"),
        Order.note.label("note"),
        null().label("owner"),
    ).where(Order.customer_id == customer_id)
    refunds = (
        select(
            literal("refund", s),
            Refund.refunded_at,
            Refund.id,
            Refund.order_id,
            Refund.amount,
            null(),
            null(),
            null(),
            null(),
            null(),
            Refund.reason,
            null(),
        )
        .join(Order, Order.id == Refund.order_id)
        .where(Order.customer_id == customer_id)
    )
    touchpoints = (
        select(
            literal("touchpoint", s),
            Touchpoint.occurred_at,
            Touchpoint.id,
            null(),
            null(),
            null(),
            Touchpoint.channel,
            Touchpoint.stage,
            Touchpoint.outcome,
            Touchpoint.direction,
            Touchpoint.note,
            func.coalesce(owner.display_name, owner.username),
        )
        .outerjoin(owner, owner.id == Touchpoint.owner_id)
        .where(Touchpoint.customer_id == customer_id)
    )
    if before is not None:
        orders = orders.where(Order.ordered_at < before)
        refunds = refunds.where(Refund.refunded_at < before)
        touchpoints = touchpoints.where(Touchpoint.occurred_at < before)
    u = union_all(orders, refunds, touchpoints).subquery()
    rows = session.execute(
        select(u).order_by(u.c.at.desc(), u.c.kind, u.c.id.desc()).limit(limit)
    ).all()
    out = []
    for r in rows:
        at_value = r.at
        if isinstance(at_value, str):  # SQLite may hand back text through a UNION
            at_value = UTCDateTime().process_result_value(datetime.fromisoformat(at_value), None)
        out.append(
            TimelineEvent(
                kind=r.kind,
                at=at_value,
                id=r.id,
                order_id=r.order_id,
                amount=None if r.amount is None else _money(r.amount),
                status=r.status,
                channel=r.channel,
                stage=r.stage,
                outcome=r.outcome,
                direction=r.direction,
                note=r.note,
                owner=r.owner,
            )
        )
    return out
