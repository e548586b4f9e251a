from __future__ import annotations

from tests.factories import make_customer


def test_touchpoint_crud_and_filters(client, tokens, db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    db.commit()
    body = {
        "customer_id": c.id,
        "occurred_at": "2025-02-01T09:30:00Z",
        "channel": "phone",
        "stage": "after_sales",
        "direction": "outbound",
        "outcome": "resolved",
        "note": "called back",
    }
    r = client.post("/api/v1/touchpoints", json=body, headers=tokens["agent"])
    assert r.status_code == 201, r.text
    tp = r.json()
    assert tp["owner_id"] == users["agent"].id
    r = client.get(
        "/api/v1/touchpoints",
        params={"customer_id": c.id, "stage": "after_sales"},
        headers=tokens["analyst"],
    )
    assert r.json()["total"] == 1
    r = client.patch(
        f"/api/v1/touchpoints/{tp['id']}", json={"outcome": "positive"}, headers=tokens["agent"]
    )
    assert r.json()["outcome"] == "positive"
    r = client.post(
        "/api/v1/touchpoints", json=dict(body, stage="dreaming"), headers=tokens["agent"]
    )
    assert r.status_code == 422 and r.json()["field"] == "stage"
    r = client.post(
        "/api/v1/touchpoints", json=dict(body, customer_id=987654), headers=tokens["agent"]
    )
    assert r.status_code == 422 and r.json()["field"] == "customer_id"
