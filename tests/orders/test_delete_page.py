"""Deleting an order entered by mistake from its web page (SQLite and PostgreSQL): the same
service as ``DELETE /api/v1/orders/{id}`` — what the order earned is reversed first, an order with
refunds is refused with the reason on its page, the permission is the API's (admin, manager)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.check import check_ledger
from retento.orders import service as orders
from retento.orders.models import Order
from retento.orders.schemas import OrderCreate, RefundCreate
from tests.factories import make_customer, make_order, make_product
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _order(db, users, owner="agent", price="100.00"):
    c = make_customer(db, name="Mistyped Buyer", owner_id=users[owner].id)
    kettle = make_product(db, name="Kettle", unit_price=Decimal(price), unit_cost=Decimal("25"))
    o = make_order(db, c, lines=[(kettle, 1)])
    db.commit()
    return o


def _balance(db, customer_id) -> int:
    db.expire_all()
    return ledger.get_wallet(db, customer_id).balance


def test_manager_deletes_an_order_and_lands_on_the_customer_with_a_notice(client, db, users):
    o = _order(db, users)
    oid, customer_id = o.id, o.customer_id
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/orders/{oid}")
    assert f'action="/orders/{oid}/delete"' in page.text and 'id="delete-order"' in page.text
    assert "data-confirm=" in page.text.split('id="order-delete-form"', 1)[1].split(">", 1)[0]
    r = web.post(f"/orders/{oid}/delete")
    assert r.status_code == 303
    assert r.headers["location"] == f"/customers/{customer_id}"
    assert f"Order #{oid} was deleted." in web.get(f"/customers/{customer_id}").text
    db.expire_all()
    assert db.get(Order, oid) is None
    entry = db.scalar(
        select(AuditEntry).where(
            AuditEntry.entity == "order",
            AuditEntry.entity_id == str(oid),
            AuditEntry.action == "delete",
        )
    )
    assert entry is not None and entry.actor_id == users["manager"].id
    # Deleted already (another tab, a second click): the 404 page, not a 500.
    again = web.post(f"/orders/{oid}/delete")
    assert again.status_code == 404 and f"Order {oid} does not exist." in again.text


def test_deleting_claws_back_the_points_the_order_earned(client, db, users):
    make_programme(db)
    c = make_customer(db, name="Points Buyer", owner_id=users["agent"].id)
    kettle = make_product(db, name="Kettle", unit_price=Decimal("1.00"))

    def order(quantity: int) -> Order:  # through the service: the loyalty hooks earn points
        data = OrderCreate(
            customer_id=c.id,
            ordered_at=utcnow() - timedelta(days=1),
            lines=[{"product_id": kettle.id, "quantity": quantity}],
        )
        return orders.create_order(db, data, actor=users["admin"])

    kept, mistake = order(100).id, order(80).id
    db.commit()
    assert _balance(db, c.id) == 180
    web = Browser(client)
    web.login("manager")
    assert web.post(f"/orders/{mistake}/delete").status_code == 303
    assert _balance(db, c.id) == 100  # the 80 points of the deleted order are taken back
    assert db.get(Order, mistake) is None and db.get(Order, kept) is not None
    assert check_ledger(db).ok


def test_an_order_with_refunds_is_refused_with_the_reason_on_its_page(client, db, users):
    o = _order(db, users)
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("10")), actor=users["admin"])
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/orders/{o.id}")
    assert 'id="delete-order"' not in page.text  # nothing offered that would be refused
    r = web.post(f"/orders/{o.id}/delete")  # a page drawn before the refund was recorded
    assert r.status_code == 303 and r.headers["location"] == f"/orders/{o.id}"
    shown = web.get(r.headers["location"])
    assert shown.status_code == 200
    assert "An order with refunds cannot be deleted; cancel it instead." in shown.text
    assert "flash-error" in shown.text
    db.expire_all()
    assert db.get(Order, o.id) is not None

    users["manager"].locale = "zh_CN"
    db.commit()
    r = web.post(f"/orders/{o.id}/delete")
    assert "有退款的订单不能删除，请改为取消订单。" in web.get(r.headers["location"]).text


def test_roles_that_may_not_delete_orders_get_403_and_no_button(client, db, users):
    o = _order(db, users)  # the agent owns the customer, and still may not delete its orders
    for role in ("agent", "analyst"):
        web = Browser(client)
        web.client.cookies.clear()
        web.login(role)
        page = web.get(f"/orders/{o.id}")
        assert page.status_code == 200 and 'id="delete-order"' not in page.text
        assert web.post(f"/orders/{o.id}/delete").status_code == 403, role
    db.expire_all()
    assert db.get(Order, o.id) is not None


def test_delete_without_the_csrf_token_is_refused(client, db, users):
    o = _order(db, users)
    web = Browser(client)
    web.login("manager")
    for token in ("", "forged-token"):
        r = client.post(
            f"/orders/{o.id}/delete", data={"csrf_token": token}, follow_redirects=False
        )
        assert r.status_code == 403 and "The form has expired" in r.text
    r = client.post(f"/orders/{o.id}/delete", follow_redirects=False)
    assert r.status_code == 403
    db.expire_all()
    assert db.get(Order, o.id) is not None
