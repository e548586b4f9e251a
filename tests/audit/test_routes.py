from __future__ import annotations


def test_audit_log_records_api_changes_and_is_admin_only(client, tokens):
    r = client.post(
        "/api/v1/products",
        json={"name": "Tea", "unit_price": "12.50", "unit_cost": "7.10"},
        headers=tokens["manager"],
    )
    pid = r.json()["id"]
    client.patch(f"/api/v1/products/{pid}", json={"unit_price": "13.00"}, headers=tokens["manager"])
    r = client.get(
        "/api/v1/audit", params={"entity": "product", "entity_id": pid}, headers=tokens["admin"]
    )
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["action"] for i in items] == ["update", "create"]
    assert items[0]["before"] == {"unit_price": "12.50", "version": 1}
    assert items[0]["after"] == {"unit_price": "13.00", "version": 2}
    assert items[0]["actor_name"] == "manager"
    for role in ("manager", "agent", "analyst"):
        assert client.get("/api/v1/audit", headers=tokens[role]).status_code == 403


def test_audit_filters_by_actor(client, tokens):
    client.post("/api/v1/customers", json={"name": "A"}, headers=tokens["agent"])
    client.post("/api/v1/customers", json={"name": "B"}, headers=tokens["manager"])
    r = client.get(
        "/api/v1/audit", params={"actor": "agent", "entity": "customer"}, headers=tokens["admin"]
    )
    assert r.json()["total"] == 1 and r.json()["items"][0]["after"]["name"] == "A"
