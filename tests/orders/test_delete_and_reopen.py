"""An order that earned loyalty points is never left credited without the order, or paid for
with nothing earned (found by a QA pass on PostgreSQL):

* deleting an order left its earned points with the customer (the earn journal pointed at an
  order that no longer existed); a delete now reverses what the order earned first, exactly as
  a cancellation does, and an order with refunds is refused with a message saying so (it was a
  409 "refers to a record that does not exist");
* reopening a cancelled order (cancelled → completed) gave the revenue back but never the
  points; it is refused, in the API, the web form and a file import, and a new order earns.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal
from retento.orders import service as orders
from retento.orders.models import Order
from retento.orders.schemas import OrderCreate, OrderUpdate, RefundCreate
from tests.factories import make_customer, make_product, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.factories.race import bearer_headers, statuses


def _order(db, user, customer, amount="100.00"):
    p = make_product(db, unit_price=Decimal(amount))
    return orders.create_order(
        db,
        OrderCreate(
            customer_id=customer.id,
            ordered_at=utcnow() - timedelta(days=1),
            lines=[{"product_id": p.id, "quantity": 1}],
        ),
        actor=user,
    )


def _balance(db, customer) -> int:
    db.expire_all()
    return ledger.get_wallet(db, customer.id).balance


def test_deleting_an_order_reverses_its_points_and_returns_points_spent_on_it(db, users):
    make_programme(db)
    c = make_customer(db)
    _order(db, users["admin"], c, "100.00")
    o = _order(db, users["admin"], c, "80.00")
    service.redeem(db, c.id, points=30, actor=users["agent"], order_id=o.id)
    assert _balance(db, c) == 150
    oid = o.id
    orders.delete_order(db, oid, actor=users["admin"])
    assert db.get(Order, oid) is None
    # The 80 points it earned are taken back and the 30 spent on it given back: as if it had
    # been cancelled, with the reversal in the ledger.
    assert _balance(db, c) == 100
    kinds = db.scalars(
        select(LoyaltyJournal.kind).where(LoyaltyJournal.source_id == str(oid))
    ).all()
    assert "clawback" in kinds and "return" in kinds
    assert check_ledger(db).ok


def test_deleting_a_cancelled_order_posts_nothing_more(db, users):
    make_programme(db)
    c = make_customer(db)
    o = _order(db, users["admin"], c, "50.00")
    orders.update_order(db, o.id, OrderUpdate(status="cancelled"), actor=users["admin"])
    n = db.scalar(select(func.count()).select_from(LoyaltyJournal))
    orders.delete_order(db, o.id, actor=users["admin"])
    assert db.scalar(select(func.count()).select_from(LoyaltyJournal)) == n
    assert _balance(db, c) == 0 and check_ledger(db).ok


def test_an_order_with_refunds_is_not_deleted_and_the_reason_is_given(db, client, users, tokens):
    make_programme(db)
    c = make_customer(db)
    o = _order(db, users["admin"], c, "100.00")
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("10")), actor=users["admin"])
    db.commit()
    with pytest.raises(Conflict) as exc:
        orders.delete_order(db, o.id, actor=users["admin"])
    assert exc.value.field == "order_id" and "refunds" in str(exc.value)
    db.rollback()
    r = client.delete(f"/api/v1/orders/{o.id}", headers=tokens["admin"])
    assert r.status_code == 409 and "refunds" in r.json()["detail"]
    assert db.get(Order, o.id) is not None and _balance(db, c) == 90


def test_a_cancelled_order_cannot_be_reopened(db, client, users, tokens):
    make_programme(db)
    c = make_customer(db)
    o = _order(db, users["admin"], c, "100.00")
    orders.update_order(db, o.id, OrderUpdate(status="cancelled"), actor=users["admin"])
    db.commit()
    assert _balance(db, c) == 0
    with pytest.raises(Conflict) as exc:
        orders.update_order(db, o.id, OrderUpdate(status="completed"), actor=users["admin"])
    assert exc.value.field == "status"
    db.rollback()
    r = client.patch(
        f"/api/v1/orders/{o.id}", json={"status": "completed"}, headers=tokens["admin"]
    )
    assert r.status_code == 409 and r.json()["field"] == "status"
    db.expire_all()
    assert db.get(Order, o.id).status == "cancelled" and _balance(db, c) == 0
    # Other edits of the cancelled order still work.
    r = client.patch(f"/api/v1/orders/{o.id}", json={"note": "phoned"}, headers=tokens["admin"])
    assert r.status_code == 200


def test_an_import_that_reopens_a_cancelled_order_is_refused_by_row(db, users):
    from retento.core.errors import RetentoError
    from retento.dataio.service import import_file

    make_programme(db)
    make_customer(db, external_id="C-RO")
    make_product(db, external_id="P-RO", unit_price=Decimal("50"))
    db.commit()
    head = (
        "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
        "unit_price,status\n"
    )
    day = (utcnow() - timedelta(days=1)).date().isoformat()
    row = f"O-RO,C-RO,{day},P-RO,2,50.00,{{}}\n"
    import_file(db, "orders", (head + row.format("completed")).encode(), actor=users["admin"])
    db.commit()
    import_file(db, "orders", (head + row.format("cancelled")).encode(), actor=users["admin"])
    db.commit()
    with pytest.raises(RetentoError) as exc:
        import_file(db, "orders", (head + row.format("completed")).encode(), actor=users["admin"])
    text = str(getattr(exc.value, "errors", "")) + str(exc.value)
    assert "cannot be reopened" in text and "status" in text
    db.rollback()
    db.expire_all()
    assert db.scalar(select(Order.status).where(Order.external_id == "O-RO")) == "cancelled"


def test_parallel_deletes_reverse_the_points_once(live_pg):
    with live_pg.session() as s:
        make_programme(s)
        admin = make_user(s, username="deleter", role="admin")
        c = make_customer(s)
        s.commit()
        o = _order(s, admin, c, "120.00")
        s.commit()
        headers = bearer_headers(s, admin, 8)
        s.commit()
        oid, cid = o.id, c.id

    def delete(i: int) -> int:
        with live_pg.client() as client:
            return client.delete(f"/api/v1/orders/{oid}", headers=headers[i]).status_code

    assert statuses(run_parallel(8, delete)) == {204: 1, 404: 7}
    with live_pg.session() as s:
        assert ledger.get_wallet(s, cid).balance == 0
        clawbacks = s.scalar(
            select(func.count()).where(
                LoyaltyJournal.kind == "clawback", LoyaltyJournal.source_id == str(oid)
            )
        )
        assert clawbacks == 1 and check_ledger(s).ok
