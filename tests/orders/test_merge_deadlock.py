"""A merge racing a refund, an edit and a delete of the duplicate's orders (PostgreSQL, real
commits, threads on a barrier). The merge locks the customers, moves the points, then the
orders; a change of an order that locked the order first and then reached for the loyalty
wallet (points clawed back) deadlocked with it and was answered 503. ``orders.service.
lock_order`` holds the customer first: every request succeeds, the changes end on the survivor's
orders and the ledger balances."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from retento.auth.models import User
from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyPosting
from retento.orders import service as orders
from retento.orders.models import Order, Refund
from retento.orders.schemas import OrderCreate
from tests.factories import make_customer, make_product
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.factories.race import bearer_headers

ROUNDS = 3


def _round(live_pg, admin_id: int, product_id: int, headers) -> None:
    with live_pg.session() as s:
        admin = s.get(User, admin_id)
        keep = make_customer(s, name="Keep").id
        dup = make_customer(s, name="Dup").id
        body = {"ordered_at": utcnow(), "lines": [{"product_id": product_id, "quantity": 2}]}
        made = [
            orders.create_order(s, OrderCreate(customer_id=dup, **body), actor=admin).id
            for _ in range(3)
        ]
        s.commit()
    refunded, edited, deleted = made

    def call(i: int):
        with live_pg.client() as c:
            h = headers[i]
            if i == 0:
                return c.post(f"/api/v1/customers/{keep}/merge", json={"merge_id": dup}, headers=h)
            if i == 1:
                return c.post(
                    f"/api/v1/orders/{refunded}/refunds", json={"amount": "40.00"}, headers=h
                )
            if i == 2:
                lines = [{"product_id": product_id, "quantity": 1}]
                return c.patch(f"/api/v1/orders/{edited}", json={"lines": lines}, headers=h)
            return c.delete(f"/api/v1/orders/{deleted}", headers=h)

    results = run_parallel(4, call)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    codes = [r.status_code for r in results]
    assert codes == [200, 201, 200, 204], [(r.status_code, r.text) for r in results]

    with live_pg.session() as s:
        assert s.scalar(select(func.count()).where(Order.customer_id == dup)) == 0
        assert s.get(Order, refunded).customer_id == keep
        assert s.get(Order, edited).customer_id == keep
        assert s.get(Order, edited).revenue == Decimal("100.00")
        assert s.get(Order, deleted) is None
        assert s.scalar(select(func.count()).where(Refund.order_id == refunded)) == 1
        for cid, want in ((dup, 0), (keep, None)):
            w = ledger.get_wallet(s, cid)
            posted = s.scalar(
                select(func.coalesce(func.sum(LoyaltyPosting.amount), 0)).where(
                    LoyaltyPosting.account_id == w.id
                )
            )
            assert w.balance == posted, (cid, w.balance, posted)
            if want is not None:
                assert w.balance == want
        report = check_ledger(s)
        assert report.ok, report.problems


def test_order_changes_racing_a_merge_neither_deadlock_nor_strand_anything(live_pg):
    with live_pg.session() as s:
        admin = User(username="boss", role="admin", password_hash="x", is_active=True)
        s.add(admin)
        s.flush()
        make_programme(s)
        product = make_product(s, unit_price=Decimal("100.00")).id
        headers = bearer_headers(s, admin, 4)
        s.commit()
        admin_id = admin.id
    for _ in range(ROUNDS):
        _round(live_pg, admin_id, product, headers)
