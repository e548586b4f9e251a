"""Numbers for the home dashboards: sales KPIs of a period and how fresh the order data is."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from retento.customers.models import Customer
from retento.orders.models import Order
from retento.touchpoints.models import Touchpoint


def home_kpis(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    customers: Select | None = None,
) -> dict[str, Any]:
    """Customers, active buyers, orders, revenue and repeat rate of ``[start, end)`` (all time
    when ``start`` is None), for the customers ``customers`` selects (all when None)."""
    base = select(func.count()).select_from(Customer).where(Customer.archived_at.is_(None))
    if customers is not None:
        base = base.where(Customer.id.in_(customers))
    total = int(session.scalar(base) or 0)
    per_customer = select(
        Order.customer_id, func.count().label("n"), func.sum(Order.revenue).label("rev")
    ).where(Order.status != "cancelled")
    if start is not None and end is not None:
        per_customer = per_customer.where(Order.ordered_at >= start, Order.ordered_at < end)
    if customers is not None:
        per_customer = per_customer.where(Order.customer_id.in_(customers))
    sub = per_customer.group_by(Order.customer_id).subquery()
    active, orders, revenue, repeat = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(sub.c.n), 0),
            func.coalesce(func.sum(sub.c.rev), 0),
            func.coalesce(func.sum(case((sub.c.n >= 2, 1), else_=0)), 0),
        )
    ).one()
    active = int(active or 0)
    return {
        "customers": total,
        "active": active,
        "orders": int(orders or 0),
        "revenue": Decimal(str(revenue or 0)).quantize(Decimal("0.01")),
        "repeat_rate": (int(repeat or 0) / active) if active else None,
        "active_rate": (active / total) if total else None,
    }


def home_freshness(session: Session) -> dict[str, Any]:
    """Latest order and touchpoint times and how many there are."""
    orders, last_order, last_entered = session.execute(
        select(func.count(), func.max(Order.ordered_at), func.max(Order.created_at))
    ).one()
    touchpoints, last_touch = session.execute(
        select(func.count(), func.max(Touchpoint.occurred_at))
    ).one()
    customers = session.scalar(select(func.count()).select_from(Customer))
    return {
        "orders": int(orders or 0),
        "last_order": last_order,
        "last_order_entered": last_entered,
        "touchpoints": int(touchpoints or 0),
        "last_touchpoint": last_touch,
        "customers": int(customers or 0),
    }
