from __future__ import annotations

from tests.factories import make_order, make_product


def test_product_crud_money_validation_and_delete_guard(client, tokens, db):
    r = client.post(
        "/api/v1/products",
        json={"name": "Jasmine tea", "unit_price": "12.5", "unit_cost": "7"},
        headers=tokens["manager"],
    )
    assert r.status_code == 201 and r.json()["unit_price"] == "12.50"
    r = client.post(
        "/api/v1/products",
        json={"name": "X", "unit_price": "abc", "unit_cost": "1"},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "unit_price"
    r = client.post(
        "/api/v1/products",
        json={"name": "X", "unit_price": "-1", "unit_cost": "1"},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "unit_price"
    p = make_product(db)
    make_order(db, lines=[(p, 1)])
    db.commit()
    r = client.delete(f"/api/v1/products/{p.id}", headers=tokens["manager"])
    assert r.status_code == 409
    r = client.get("/api/v1/products", params={"q": "jasmine"}, headers=tokens["agent"])
    assert r.json()["total"] == 1
