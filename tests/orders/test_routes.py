from __future__ import annotations

from tests.factories import make_customer, make_product


def test_order_api_money_as_strings_and_naive_dates_rejected(client, tokens, db):
    c = make_customer(db)
    p = make_product(db)
    db.commit()
    body = {
        "customer_id": c.id,
        "ordered_at": "2025-01-02T10:00:00+08:00",
        "lines": [{"product_id": p.id, "quantity": 2, "unit_price": "9.99"}],
    }
    r = client.post("/api/v1/orders", json=body, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    assert r.json()["revenue"] == "19.98" and r.json()["ordered_at"].startswith(
        "2025-01-02T02:00:00"
    )
    bad = dict(body, ordered_at="2025-01-02T10:00:00")
    r = client.post("/api/v1/orders", json=bad, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["field"] == "ordered_at"
    bad = dict(body, lines=[{"product_id": p.id, "quantity": -1}])
    r = client.post("/api/v1/orders", json=bad, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["field"] == "lines.0.quantity"
    r = client.get(
        "/api/v1/orders",
        params={"customer_id": c.id, "sort": "-revenue"},
        headers=tokens["analyst"],
    )
    assert r.json()["total"] == 1


def test_refund_endpoint(client, tokens, db):
    c = make_customer(db)
    p = make_product(db)
    db.commit()
    o = client.post(
        "/api/v1/orders",
        json={
            "customer_id": c.id,
            "ordered_at": "2025-01-02T10:00:00Z",
            "lines": [{"product_id": p.id, "quantity": 1}],
        },
        headers=tokens["admin"],
    ).json()
    r = client.post(
        f"/api/v1/orders/{o['id']}/refunds",
        json={"amount": "4.00", "reason": "late"},
        headers=tokens["admin"],
    )
    assert r.status_code == 201
    assert (
        client.get(f"/api/v1/orders/{o['id']}", headers=tokens["admin"]).json()["revenue"] == "6.00"
    )
    r = client.post(
        f"/api/v1/orders/{o['id']}/refunds", json={"amount": "-4"}, headers=tokens["admin"]
    )
    assert r.status_code == 422 and r.json()["field"] == "amount"
