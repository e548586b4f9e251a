"""Loyalty API: configuration, redemption with Idempotency-Key, holds, check, exports."""

from __future__ import annotations

from decimal import Decimal

from retento.core.db import utcnow
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme


def _setup(db, client, tokens):
    make_programme(db)
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("100"))
    db.commit()
    r = client.post(
        "/api/v1/orders",
        json={
            "customer_id": c.id,
            "ordered_at": utcnow().isoformat(),
            "lines": [{"product_id": p.id, "quantity": 2}],
        },
        headers=tokens["agent"] if False else tokens["admin"],
    )
    assert r.status_code == 201, r.text
    return c, r.json()


def test_order_via_api_earns_and_member_shows(db, client, tokens):
    c, _ = _setup(db, client, tokens)
    r = client.get(f"/api/v1/loyalty/members/{c.id}", headers=tokens["analyst"])
    assert r.status_code == 200 and r.json()["balance"] == 200


def test_retried_redemption_returns_the_original(db, client, tokens):
    c, _ = _setup(db, client, tokens)
    h = {**tokens["agent"], "Idempotency-Key": "abc-1"}
    a = client.post(f"/api/v1/loyalty/members/{c.id}/redemptions", json={"points": 50}, headers=h)
    b = client.post(f"/api/v1/loyalty/members/{c.id}/redemptions", json={"points": 50}, headers=h)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"] and a.json()["journal_id"] == b.json()["journal_id"]
    other = client.post(
        f"/api/v1/loyalty/members/{c.id}/redemptions", json={"points": 60}, headers=h
    )
    assert other.status_code == 409
    m = client.get(f"/api/v1/loyalty/members/{c.id}", headers=tokens["agent"]).json()
    assert m["balance"] == 150
    chk = client.get("/api/v1/loyalty/check", headers=tokens["manager"]).json()
    assert chk["ok"], chk


def test_overdraw_is_409_and_bad_input_422(db, client, tokens):
    c, _ = _setup(db, client, tokens)
    url = f"/api/v1/loyalty/members/{c.id}/redemptions"
    assert client.post(url, json={"points": 201}, headers=tokens["agent"]).status_code == 409
    r = client.post(url, json={"points": 0}, headers=tokens["agent"])
    assert r.status_code == 422
    assert client.post(url, json={"points": 5}, headers=tokens["analyst"]).status_code == 403


def test_refund_via_api_reverses(db, client, tokens):
    c, order = _setup(db, client, tokens)
    r = client.post(
        f"/api/v1/orders/{order['id']}/refunds", json={"amount": "50.00"}, headers=tokens["admin"]
    )
    assert r.status_code == 201, r.text
    m = client.get(f"/api/v1/loyalty/members/{c.id}", headers=tokens["agent"]).json()
    assert m["balance"] == 150


def test_config_rewards_and_counter_redemption(db, client, tokens):
    c, _ = _setup(db, client, tokens)
    mh = tokens["manager"]
    t = client.post(
        "/api/v1/loyalty/tiers",
        json={"code": "gold", "name": "Gold", "rank": 1, "threshold": 100, "multiplier": "2"},
        headers=mh,
    )
    assert t.status_code == 201, t.text
    rw = client.post(
        "/api/v1/loyalty/rewards",
        json={"code": "mug", "name": "Mug", "kind": "gift", "points_cost": 80, "stock": 1},
        headers=mh,
    )
    assert rw.status_code == 201, rw.text
    url = f"/api/v1/loyalty/members/{c.id}/redemptions"
    ok = client.post(url, json={"reward_id": rw.json()["id"]}, headers=tokens["agent"])
    assert ok.status_code == 201 and ok.json()["points"] == 80
    out = client.post(url, json={"reward_id": rw.json()["id"]}, headers=tokens["agent"])
    assert out.status_code == 409  # out of stock
    assert client.post("/api/v1/loyalty/tiers", json={"code": "x"}, headers=mh).status_code == 422


def test_holds_and_exports(db, client, tokens):
    c, _ = _setup(db, client, tokens)
    h = client.post(
        f"/api/v1/loyalty/members/{c.id}/holds", json={"points": 70}, headers=tokens["agent"]
    )
    assert h.status_code == 201, h.text
    v = client.post(f"/api/v1/loyalty/holds/{h.json()['id']}/void", headers=tokens["agent"])
    assert v.json()["status"] == "voided"
    csv_ = client.get("/api/v1/loyalty/export/postings", headers=tokens["manager"])
    assert csv_.status_code == 200 and "journal_id" in csv_.text.splitlines()[0]
    lia = client.get("/api/v1/loyalty/liability", headers=tokens["analyst"]).json()
    assert lia["outstanding_points"] == 200 and lia["outstanding_value"] == "2.00"
