"""The customer 360 queries (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from retento.core.errors import Forbidden
from retento.customers import insights
from tests.factories import make_customer, make_order, make_product, make_touchpoint, make_user


def test_totals_months_and_timeline(db, users):
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("10.00"), unit_cost=Decimal("4.00"))
    make_order(db, c, lines=[(p, 3)], ordered_at=datetime(2024, 12, 31, 23, tzinfo=UTC))
    make_order(db, c, lines=[(p, 1)], ordered_at=datetime(2025, 2, 1, tzinfo=UTC))
    make_order(db, c, lines=[(p, 5)], ordered_at=datetime(2025, 2, 9, tzinfo=UTC))
    make_order(
        db, c, lines=[(p, 7)], ordered_at=datetime(2025, 2, 10, tzinfo=UTC), status="cancelled"
    )
    make_touchpoint(
        db, c, occurred_at=datetime(2025, 1, 15, tzinfo=UTC), owner_id=users["agent"].id
    )
    make_order(db)  # someone else's
    actor = users["analyst"]

    t = insights.customer_totals(db, c.id, actor=actor)
    assert (t.order_count, t.revenue, t.profit) == (3, Decimal("90.00"), Decimal("54.00"))
    assert t.average_order_value == Decimal("30.00")
    assert t.first_purchase == datetime(2024, 12, 31, 23, tzinfo=UTC)
    assert t.last_purchase == datetime(2025, 2, 9, tzinfo=UTC)
    assert t.touchpoint_count == 1

    months = insights.revenue_by_month(db, c.id, actor=actor)
    assert months == [
        ("2024-12", Decimal("30.00"), Decimal("18.00")),
        ("2025-02", Decimal("60.00"), Decimal("36.00")),
    ]

    events = insights.timeline(db, c.id, actor=actor)
    assert [e.kind for e in events] == ["order", "order", "order", "touchpoint", "order"]
    assert events[0].status == "cancelled" and events[3].owner == users["agent"].display_name
    assert all(e.at.tzinfo is not None for e in events)
    older = insights.timeline(db, c.id, actor=actor, before=datetime(2025, 1, 31, tzinfo=UTC))
    assert [e.kind for e in older] == ["touchpoint", "order"]


def test_empty_customer_and_permissions(db, users):
    c = make_customer(db)
    t = insights.customer_totals(db, c.id, actor=users["agent"])
    assert t.order_count == 0 and t.average_order_value is None and t.revenue == Decimal("0.00")
    assert insights.revenue_by_month(db, c.id, actor=users["agent"]) == []
    inactive = make_user(db, role="agent", is_active=False)
    with pytest.raises(Forbidden):
        insights.timeline(db, c.id, actor=inactive)
