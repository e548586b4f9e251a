"""A complaint names only its own customer's order, at intake and on an edit.

QA (security test): ``PATCH /api/v1/complaints/138 {"order_id": 96}`` linked customer 12's order
to customer 2's complaint (200), while the same order at intake was refused. SQLite and
PostgreSQL."""

from __future__ import annotations

from retento.complaints.models import Complaint
from tests.factories import make_customer, make_order
from tests.factories.complaints import make_complaint


def test_an_edit_cannot_link_another_customer_s_order(client, db, users, tokens):
    own, other = make_customer(db), make_customer(db)
    mine, theirs = make_order(db, own), make_order(db, other)
    c = make_complaint(db, users["manager"], customer_id=own.id)
    db.commit()
    url = f"/api/v1/complaints/{c.id}"
    r = client.patch(url, json={"order_id": theirs.id}, headers=tokens["manager"])
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "order_id"
    assert r.json()["detail"] == f"Order {theirs.id} belongs to another customer."
    db.expire_all()
    assert db.get(Complaint, c.id).order_id is None
    zh = {**tokens["manager"], "Accept-Language": "zh-CN"}
    r = client.patch(url, json={"order_id": theirs.id}, headers=zh)
    assert r.status_code == 422 and r.json()["detail"] == f"订单 {theirs.id} 属于另一位客户。"
    r = client.patch(url, json={"order_id": mine.id}, headers=tokens["manager"])
    assert r.status_code == 200 and r.json()["order_id"] == mine.id
