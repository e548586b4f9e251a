"""Refunds under concurrency (PostgreSQL, real commits): refunded <= paid, returned <= ordered.

Each test fires 20 requests released together by a barrier, one TestClient and one bearer token
per thread, then checks the invariant in the database, not only the status codes.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from retento.orders.models import Order, Refund
from tests.factories import live_shared, make_customer, make_order, make_product, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, post_each, statuses
from tests.web.conftest import Browser

# One database for the module, put back to its migrated state before each test.
live_pg_module, live_pg = live_shared.live_pg_module, live_shared.live_pg

N = 20


def _setup(live_pg, *, price: str = "100.00", quantity: int = 1, n_tokens: int = N):
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        p = make_product(s, unit_price=Decimal(price), unit_cost=Decimal("40.00"))
        o = make_order(s, make_customer(s), lines=[(p, quantity)])
        headers = bearer_headers(s, admin, n_tokens)
        s.commit()
        return o.id, o.lines[0].id, headers, admin.username


def _figures(live_pg, order_id: int):
    with live_pg.session() as s:
        o = s.get(Order, order_id)
        total = s.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.order_id == order_id)
        )
        units = s.scalar(
            select(func.coalesce(func.sum(Refund.quantity), 0)).where(Refund.order_id == order_id)
        )
        count = s.scalar(select(func.count()).where(Refund.order_id == order_id))
        return o, Decimal(total), int(units), count


def test_parallel_refunds_never_exceed_what_was_paid(live_pg):
    order_id, _, headers, _ = _setup(live_pg)
    url = f"/api/v1/orders/{order_id}/refunds"
    codes = statuses(
        run_parallel(
            N,
            post_each(live_pg, url, lambda i: {"json": {"amount": "60.00"}, "headers": headers[i]}),
        )
    )
    assert codes == {201: 1, 422: N - 1}, codes
    o, total, _, count = _figures(live_pg, order_id)
    assert count == 1 and total == Decimal("60.00")
    assert o.refunded == total and o.revenue == Decimal("40.00")


def test_parallel_small_refunds_add_up_to_exactly_the_amount_paid(live_pg):
    order_id, _, headers, _ = _setup(live_pg)
    url = f"/api/v1/orders/{order_id}/refunds"
    codes = statuses(
        run_parallel(
            N,
            post_each(live_pg, url, lambda i: {"json": {"amount": "10.00"}, "headers": headers[i]}),
        )
    )
    # 20 × 10.00 asked for on a 100.00 order: exactly ten fit, whatever the interleaving.
    assert codes == {201: 10, 422: N - 10}, codes
    o, total, _, count = _figures(live_pg, order_id)
    assert count == 10 and total == Decimal("100.00")
    assert o.refunded == Decimal("100.00") and o.revenue == Decimal("0.00")


def test_parallel_returns_never_exceed_the_units_ordered(live_pg):
    order_id, line_id, headers, _ = _setup(live_pg, price="30.00", quantity=3)
    url = f"/api/v1/orders/{order_id}/refunds"
    body = {"amount": "1.00", "line_id": line_id, "quantity": 1}
    codes = statuses(
        run_parallel(N, post_each(live_pg, url, lambda i: {"json": body, "headers": headers[i]}))
    )
    assert codes == {201: 3, 422: N - 3}, codes
    o, total, units, count = _figures(live_pg, order_id)
    assert units == 3 and count == 3 and total == Decimal("3.00")
    # The returned units' cost came off the order's cost exactly once each.
    assert o.cost == Decimal("0.00") and o.refunded == Decimal("3.00")


def test_parallel_refunds_from_the_order_page(live_pg):
    """The web form goes through the same locked service: one 60.00 refund of a 100.00 order."""
    order_id, _, _, username = _setup(live_pg, n_tokens=0)
    n = 8
    browsers = []
    for _ in range(n):
        b = Browser(live_pg.client())
        assert b.login(username).status_code == 303
        browsers.append(b)

    def refund(i: int) -> int:
        r = browsers[i].post(f"/orders/{order_id}/refunds", {"amount": "60.00", "reason": "race"})
        return r.status_code

    codes = statuses(run_parallel(n, refund))
    # Accepted: a redirect to the order; refused: the order page again with the error (422).
    assert codes[303] == 1 and sum(codes.values()) == n, codes
    o, total, _, count = _figures(live_pg, order_id)
    assert count == 1 and total == Decimal("60.00") and o.refunded == total


def test_web_and_api_refunds_on_one_event_loop_do_not_deadlock(live_pg):
    """One process, one event loop (like one uvicorn worker): web and API refunds at once.

    The web handler is ``async``; had it waited for the order's row lock on the event loop, the
    API request holding the lock could never get back onto the loop to commit, and the process
    would hang. A lock timeout turns such a regression into failures instead of a hung run.
    """
    from fastapi.testclient import TestClient

    from retento.app import create_app
    from retento.core.config import Settings

    order_id, _, headers, username = _setup(live_pg)
    app = create_app(
        Settings(
            database_url=live_pg.url + "?options=-c%20lock_timeout%3D15000",
            run_scheduler=False,
            secret_key="test-" + "x" * 32,
        )
    )
    with TestClient(app) as client:  # one portal: every request runs on the same loop
        web = Browser(client)
        assert web.login(username).status_code == 303

        def refund(i: int) -> int:
            if i % 2:
                return web.post(f"/orders/{order_id}/refunds", {"amount": "10.00"}).status_code
            url = f"/api/v1/orders/{order_id}/refunds"
            return client.post(url, json={"amount": "10.00"}, headers=headers[i]).status_code

        codes = statuses(run_parallel(N, refund))
    accepted = codes[201] + codes[303]
    assert accepted == 10 and codes[422] == N - 10, codes
    o, total, _, count = _figures(live_pg, order_id)
    assert count == 10 and total == Decimal("100.00") and o.revenue == Decimal("0.00")


def test_double_clicked_refund_form_pays_back_once(live_pg):
    """One order page, "Record refund" of 10.00 clicked eight times at once: each click fitted
    in what remained paid, so 80.00 went back for one 10.00 refund. The form's key (drawn with
    the page) makes it one refund; a new page draws a new key."""
    order_id, _, _, username = _setup(live_pg, n_tokens=0)
    web = Browser(live_pg.client())
    assert web.login(username).status_code == 303
    page = web.get(f"/orders/{order_id}").text
    key = re.search(r'name="refund_key" value="([0-9a-f]+)"', page).group(1)
    form = {"amount": "10.00", "reason": "broken lid", "refund_key": key}
    n = 8
    codes = statuses(
        run_parallel(n, lambda i: web.post(f"/orders/{order_id}/refunds", form).status_code)
    )
    assert codes == {303: n}, codes
    o, total, _, count = _figures(live_pg, order_id)
    assert count == 1 and total == Decimal("10.00") and o.refunded == total
    fresh = re.search(r'name="refund_key" value="([0-9a-f]+)"', web.get(f"/orders/{order_id}").text)
    assert fresh.group(1) != key
    again = web.post(f"/orders/{order_id}/refunds", {**form, "refund_key": fresh.group(1)})
    assert again.status_code == 303
    assert _figures(live_pg, order_id)[3] == 2


def test_api_refund_retries_with_one_key_refund_once(live_pg):
    order_id, _, headers, _ = _setup(live_pg)
    url = f"/api/v1/orders/{order_id}/refunds"
    codes = statuses(
        run_parallel(
            N,
            post_each(
                live_pg,
                url,
                lambda i: {
                    "json": {"amount": "10.00"},
                    "headers": {**headers[i], "Idempotency-Key": "refund-7"},
                },
            ),
        )
    )
    assert codes == {201: N}, codes
    o, total, _, count = _figures(live_pg, order_id)
    assert count == 1 and total == Decimal("10.00") and o.revenue == Decimal("90.00")


def test_double_clicked_new_order_form_saves_one_order(live_pg):
    """ "Save order" clicked eight times at once saved eight orders (revenue and loyalty points
    eight times); the form's key (drawn with the page) makes it one."""
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        p = make_product(s, unit_price=Decimal("25.00"))
        c = make_customer(s)
        s.commit()
        customer_id, product_id, username = c.id, p.id, admin.username
    web = Browser(live_pg.client())
    assert web.login(username).status_code == 303
    page = web.get(f"/customers/{customer_id}/orders/new").text
    key = re.search(r'name="order_key" value="([0-9a-f]+)"', page).group(1)
    form = {
        "order_key": key, "ordered_at": "2026-11-02T10:00", "status": "completed",
        "channel": "store", "lines.0.product_id": str(product_id), "lines.0.quantity": "2",
    }  # fmt: skip
    codes = statuses(
        run_parallel(
            8, lambda i: web.post(f"/customers/{customer_id}/orders/new", form).status_code
        )
    )
    assert codes == {303: 8}, codes
    with live_pg.session() as s:
        orders = s.scalars(select(Order).where(Order.customer_id == customer_id)).all()
        assert len(orders) == 1 and orders[0].revenue == Decimal("50.00")


def test_api_order_retries_with_one_key_create_one(live_pg):
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        p = make_product(s, unit_price=Decimal("25.00"))
        c = make_customer(s)
        other = make_customer(s)
        headers = bearer_headers(s, admin, N)
        s.commit()
        customer_id, other_id, product_id = c.id, other.id, p.id
    body = {
        "customer_id": customer_id,
        "ordered_at": "2026-11-02T10:00:00+00:00",
        "lines": [{"product_id": product_id, "quantity": 1}],
    }
    url = "/api/v1/orders"
    codes = statuses(
        run_parallel(
            N,
            post_each(
                live_pg,
                url,
                lambda i: {"json": body, "headers": {**headers[i], "Idempotency-Key": "o-1"}},
            ),
        )
    )
    assert codes == {201: N}, codes
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).where(Order.customer_id == customer_id)) == 1
    with live_pg.client() as client:
        reused = client.post(
            url,
            json={**body, "customer_id": other_id},
            headers={**headers[0], "Idempotency-Key": "o-1"},
        )
    assert reused.status_code == 409
