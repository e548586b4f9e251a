from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from retento.core.errors import InvalidInput
from retento.orders import service
from retento.orders.schemas import OrderCreate, OrderLineIn, OrderUpdate, RefundCreate
from tests.factories import make_customer, make_product

NOW = datetime(2025, 6, 1, 8, tzinfo=UTC)


def test_order_defaults_price_and_cost_from_product_and_computes_profit(db, users):
    c = make_customer(db)
    p = make_product(db, unit_price=D("19.90"), unit_cost=D("11.00"))
    o = service.create_order(
        db,
        OrderCreate(
            customer_id=c.id,
            ordered_at=NOW,
            discount="1.80",
            lines=[OrderLineIn(product_id=p.id, quantity=3)],
        ),
        actor=users["manager"],
    )
    assert o.revenue == D("57.90") and o.cost == D("33.00") and o.profit == D("24.90")
    assert isinstance(o.revenue, D)


def test_refund_with_returned_units_reduces_revenue_and_cost(db, users):
    c = make_customer(db)
    p = make_product(db, unit_price=D("10.00"), unit_cost=D("4.00"))
    o = service.create_order(
        db,
        OrderCreate(
            customer_id=c.id, ordered_at=NOW, lines=[OrderLineIn(product_id=p.id, quantity=2)]
        ),
        actor=users["admin"],
    )
    line = o.lines[0]
    service.add_refund(
        db, o.id, RefundCreate(amount="10.00", line_id=line.id, quantity=1), actor=users["admin"]
    )
    assert (o.revenue, o.cost, o.profit, o.refunded) == (
        D("10.00"),
        D("4.00"),
        D("6.00"),
        D("10.00"),
    )
    with pytest.raises(InvalidInput) as exc:
        service.add_refund(
            db, o.id, RefundCreate(amount="1.00", line_id=line.id, quantity=2), actor=users["admin"]
        )
    assert exc.value.field == "quantity"
    with pytest.raises(InvalidInput) as exc:
        service.add_refund(db, o.id, RefundCreate(amount="50.00"), actor=users["admin"])
    assert exc.value.field == "amount"


def test_unknown_product_and_oversized_discount_name_the_line(db, users):
    c = make_customer(db)
    p = make_product(db)
    with pytest.raises(InvalidInput) as exc:
        service.create_order(
            db,
            OrderCreate(
                customer_id=c.id,
                ordered_at=NOW,
                lines=[
                    OrderLineIn(product_id=p.id, quantity=1),
                    OrderLineIn(product_id=999999, quantity=1),
                ],
            ),
            actor=users["admin"],
        )
    assert exc.value.field == "lines.1.product_id"
    with pytest.raises(InvalidInput) as exc:
        service.create_order(
            db,
            OrderCreate(
                customer_id=c.id,
                ordered_at=NOW,
                discount="500",
                lines=[OrderLineIn(product_id=p.id, quantity=1)],
            ),
            actor=users["admin"],
        )
    assert exc.value.field == "discount"


def test_replacing_lines_recomputes(db, users):
    c = make_customer(db)
    p = make_product(db, unit_price=D("3.00"), unit_cost=D("1.00"))
    o = service.create_order(
        db,
        OrderCreate(
            customer_id=c.id, ordered_at=NOW, lines=[OrderLineIn(product_id=p.id, quantity=1)]
        ),
        actor=users["admin"],
    )
    service.update_order(
        db,
        o.id,
        OrderUpdate(lines=[OrderLineIn(product_id=p.id, quantity=5, unit_price="2.50")]),
        actor=users["admin"],
    )
    assert o.revenue == D("12.50") and o.profit == D("7.50") and len(o.lines) == 1
