"""A refund given on a complaint about an order is at most what the customer paid for that
order: a refund compensation of 99,999.00 on a 928.00 order was recorded, shown and costed.
The sum of the refunds on the order's complaints (all of them) is checked; other compensations
(a voucher) and complaints without an order are not capped. API 422 naming ``amount`` in the
reader's language, the form's field likewise, nothing recorded; parallel refunds on two
complaints about one order never add up to more than was paid (PostgreSQL, real commits)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.complaints.models import Complaint, ComplaintEvent, Remedy
from tests.factories import live_shared, make_customer, make_order, make_product, make_user
from tests.factories.complaints import make_complaint
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, post_each, statuses
from tests.web.conftest import Browser

live_pg_module, live_pg = live_shared.live_pg_module, live_shared.live_pg


def _order_of_100(db):
    """A customer and their order of two units at 50.00: 100.00 paid."""
    customer = make_customer(db)
    order = make_order(db, customer, lines=[(make_product(db, unit_price=Decimal("50.00")), 2)])
    return customer, order


@pytest.fixture
def order_complaint(db, users):
    customer, order = _order_of_100(db)
    comp = make_complaint(db, actor=users["manager"], customer_id=customer.id, order_id=order.id)
    db.commit()
    return comp


def _refunds(db, complaint_id: int | None = None) -> list[Decimal]:
    db.expire_all()
    stmt = select(Remedy.amount).where(Remedy.compensation_type == "refund")
    if complaint_id is not None:
        stmt = stmt.where(Remedy.complaint_id == complaint_id)
    return list(db.scalars(stmt.order_by(Remedy.id)))


def _refund(client, tokens, complaint_id: int, amount: str, **headers):
    return client.post(
        f"/api/v1/complaints/{complaint_id}/remedies",
        json={"kind": "compensation", "compensation_type": "refund", "amount": amount},
        headers={**tokens["manager"], **headers},
    )


def test_refunds_up_to_the_order_amount_are_recorded_beyond_it_refused(
    client, tokens, db, order_complaint
):
    cid = order_complaint.id
    assert _refund(client, tokens, cid, "60.00").status_code == 201
    assert _refund(client, tokens, cid, "40.00").status_code == 201  # exactly what was paid
    r = _refund(client, tokens, cid, "0.01")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "amount"
    assert body["detail"] == (
        f"The refund exceeds what was paid for order {order_complaint.order_id}: $100.00 paid, "
        "$100.00 already refunded on its complaints, at most $0.00 more."
    )
    assert _refunds(db, cid) == [Decimal("60.00"), Decimal("40.00")]
    events = db.scalar(
        select(func.count()).where(
            ComplaintEvent.complaint_id == cid, ComplaintEvent.kind == "remedy"
        )
    )
    assert events == 2


def test_one_refund_larger_than_the_order_is_refused_in_chinese(
    client, tokens, db, order_complaint
):
    r = _refund(client, tokens, order_complaint.id, "99999", **{"Accept-Language": "zh-CN"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "amount"
    assert r.json()["detail"] == (
        f"退款超过订单 {order_complaint.order_id} 的实付金额：实付 US$100.00，"
        "其投诉已退款 US$0.00，最多还可退 US$100.00。"
    )
    assert _refunds(db) == []


def test_refunds_on_another_complaint_about_the_order_count(client, tokens, db, users):
    customer, order = _order_of_100(db)
    first = make_complaint(db, actor=users["manager"], customer_id=customer.id, order_id=order.id)
    second = make_complaint(
        db, actor=users["manager"], customer_id=customer.id, order_id=order.id, subject="Again"
    )
    db.commit()
    assert _refund(client, tokens, first.id, "70").status_code == 201
    r = _refund(client, tokens, second.id, "31")
    assert r.status_code == 422 and "$70.00 already refunded" in r.json()["detail"]
    assert _refund(client, tokens, second.id, "30").status_code == 201
    assert sum(_refunds(db)) == Decimal("100.00")


def test_vouchers_and_complaints_without_an_order_are_not_capped(
    client, tokens, db, users, order_complaint
):
    r = client.post(
        f"/api/v1/complaints/{order_complaint.id}/remedies",
        json={"kind": "compensation", "compensation_type": "voucher", "amount": "500"},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text
    no_order = make_complaint(db, actor=users["manager"])
    db.commit()
    assert _refund(client, tokens, no_order.id, "500").status_code == 201


def test_a_retry_of_a_recorded_refund_is_not_refused(client, tokens, db, order_complaint):
    """The idempotent answer comes first: a retry of the refund that used up the order is the
    first refund again, not a second one over the limit."""
    cid = order_complaint.id
    first = _refund(client, tokens, cid, "100", **{"Idempotency-Key": "refund-all"})
    again = _refund(client, tokens, cid, "100", **{"Idempotency-Key": "refund-all"})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert _refunds(db, cid) == [Decimal("100.00")]


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en", "The refund exceeds what was paid for order"),
        ("zh_CN", "退款超过订单"),
    ],
)
def test_the_form_names_the_amount_in_the_reader_s_language(
    client, db, users, order_complaint, locale, said
):
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    assert web.login("manager").status_code == 303
    page = web.get(f"/complaints/{order_complaint.id}").text
    key = page.split('name="remedy_key" value="')[1].split('"')[0]
    form = {
        "remedy_key": key, "remedy_kind": "compensation", "compensation_type": "refund",
        "amount": "1,000", "cost": "1000",
    }  # fmt: skip
    r = web.post(f"/complaints/{order_complaint.id}/remedies", form)
    assert r.status_code == 422
    at = r.text.index('name="amount"')
    assert said in r.text[at - 600 : at + 600]
    assert _refunds(db) == []


def test_parallel_refunds_on_two_complaints_of_one_order_stay_within_it(live_pg):
    """Ten refunds of 30.00 at once, five on each of two complaints about a 100.00 order:
    three are recorded, the others are refused (each waited for the order's row lock)."""
    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        customer, order = _order_of_100(s)
        ids = [
            make_complaint(
                s, mgr, customer_id=customer.id, order_id=order.id, subject=f"Broken {i}"
            ).id
            for i in range(2)
        ]
        headers = bearer_headers(s, mgr, 10)
        s.commit()
    body = {"kind": "compensation", "compensation_type": "refund", "amount": "30.00"}
    codes = statuses(
        run_parallel(
            10,
            lambda i: post_each(
                live_pg,
                f"/api/v1/complaints/{ids[i % 2]}/remedies",
                lambda _: {"json": body, "headers": headers[i]},
            )(i),
        )
    )
    assert codes == {201: 3, 422: 7}, codes
    with live_pg.session() as s:
        given = s.scalar(
            select(func.sum(Remedy.amount))
            .join(Complaint, Complaint.id == Remedy.complaint_id)
            .where(Complaint.order_id == order.id)
        )
    assert given == Decimal("90.00")


def test_linking_a_refunded_complaint_to_a_smaller_order_is_refused(client, tokens, db, users):
    """Refunds given while the complaint named no order (no limit) still count when it is
    linked to one: unlink, refund, link again went past the order."""
    customer, order = _order_of_100(db)
    comp = make_complaint(db, actor=users["manager"], customer_id=customer.id)
    db.commit()
    assert _refund(client, tokens, comp.id, "150").status_code == 201
    r = client.patch(
        f"/api/v1/complaints/{comp.id}",
        json={"order_id": order.id},
        headers={**tokens["manager"], "Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "order_id"
    assert r.json()["detail"] == (
        f"本投诉的退款（US$150.00）与订单 {order.id} 其他投诉的退款（US$0.00）之和超过该订单的"
        "实付金额（US$100.00）。"
    )
    db.expire_all()
    assert db.get(Complaint, comp.id).order_id is None
    # Within the order's amount the link is kept.
    other = make_complaint(db, actor=users["manager"], customer_id=customer.id, subject="Two")
    db.commit()
    assert _refund(client, tokens, other.id, "100").status_code == 201
    r = client.patch(
        f"/api/v1/complaints/{other.id}", json={"order_id": order.id}, headers=tokens["manager"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["order_id"] == order.id


@pytest.mark.parametrize(
    ("locale", "said"), [("en", "exceed what was paid for it"), ("zh_CN", "超过该订单的实付金额")]
)
def test_the_edit_form_names_the_order_in_the_reader_s_language(
    client, tokens, db, users, locale, said
):
    customer, order = _order_of_100(db)
    comp = make_complaint(db, actor=users["manager"], customer_id=customer.id)
    users["manager"].locale = locale
    db.commit()
    assert _refund(client, tokens, comp.id, "150").status_code == 201
    web = Browser(client)
    assert web.login("manager").status_code == 303
    page = web.get(f"/complaints/{comp.id}/edit").text
    assert 'name="order_id"' in page
    form = {
        name: value
        for name, value in re.findall(r'name="([a-z_]+)" value="([^"]*)"', page)
        if name not in ("order_id",)
    }
    for name in ("subject", "description"):
        form.setdefault(name, getattr(comp, name))
    form.update({"order_id": str(order.id), "category_id": str(comp.category_id)})
    form.update({"kind": comp.kind, "channel": comp.channel, "severity": str(comp.severity)})
    form.update({"emotion": comp.emotion})
    r = web.post(f"/complaints/{comp.id}/edit", form)
    assert r.status_code == 422, r.text[:500]
    at = r.text.index('name="order_id"')
    assert said in r.text[at - 800 : at + 800]
    db.expire_all()
    assert db.get(Complaint, comp.id).order_id is None


@pytest.mark.parametrize("amount", ["0", "0.00"])
def test_a_refund_of_nothing_is_refused(client, tokens, db, order_complaint, amount):
    """A refund of 0.00 was recorded and shown as "Refund" with no amount."""
    r = _refund(client, tokens, order_complaint.id, amount)
    assert r.status_code == 422, r.text
    assert [(e["field"], e["message"]) for e in r.json()["errors"]] == [
        ("amount", "a refund needs its amount (more than 0)")
    ]
    assert _refunds(db) == []


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "a refund needs its amount (more than 0)"), ("zh_CN", "退款须填写金额（大于 0）")],
)
def test_the_form_refuses_a_blank_refund_in_the_reader_s_language(
    client, db, users, order_complaint, locale, said
):
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    assert web.login("manager").status_code == 303
    page = web.get(f"/complaints/{order_complaint.id}").text
    key = page.split('name="remedy_key" value="')[1].split('"')[0]
    form = {
        "remedy_key": key, "remedy_kind": "compensation", "compensation_type": "refund",
        "amount": "", "cost": "",
    }  # fmt: skip
    r = web.post(f"/complaints/{order_complaint.id}/remedies", form)
    assert r.status_code == 422
    at = r.text.index('name="amount"')
    assert said in r.text[at - 600 : at + 600]
    assert _refunds(db) == []


def test_a_refund_left_without_a_cost_costs_its_amount(client, tokens, db, order_complaint):
    """The money paid back is the refund's cost: left blank it was 0.00 and the dashboard's
    recovery cost left every such refund out. A cost given is kept."""
    cid = order_complaint.id
    assert _refund(client, tokens, cid, "30").json()["cost"] == "30.00"
    r = client.post(
        f"/api/v1/complaints/{cid}/remedies",
        json={"kind": "compensation", "compensation_type": "refund", "amount": "20", "cost": "12"},
        headers=tokens["manager"],
    )
    assert r.json()["cost"] == "12.00"
    totals = client.get("/api/v1/complaints/remedy-totals", headers=tokens["manager"]).json()
    refund = next(t for t in totals if t["compensation_type"] == "refund")
    assert (refund["amount"], refund["cost"]) == ("50.00", "42.00")
