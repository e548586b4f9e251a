from __future__ import annotations


def test_crud_through_the_api(client, tokens, db):
    from tests.factories.custom_fields import define_fields

    define_fields(db, "size")
    db.commit()
    h = tokens["manager"]
    r = client.post(
        "/api/v1/customers",
        json={
            "name": "Chen Jie",
            "kind": "consumer",
            "tags": ["new"],
            "consent_email": True,
            "custom_fields": {"size": "L"},
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["scope"] == "external"
    r = client.patch(f"/api/v1/customers/{cid}", json={"city": "Shanghai"}, headers=h)
    assert r.status_code == 200 and r.json()["city"] == "Shanghai"
    r = client.get(
        "/api/v1/customers", params={"q": "chen", "limit": 10}, headers=tokens["analyst"]
    )
    assert r.json()["total"] == 1 and r.json()["items"][0]["id"] == cid
    # DELETE archives: the customer leaves the list but stays readable by id.
    assert client.delete(f"/api/v1/customers/{cid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/customers/{cid}", headers=h).json()["archived_at"] is not None
    r = client.get("/api/v1/customers", params={"q": "chen"}, headers=h)
    assert r.json()["total"] == 0


def test_bad_input_is_422_problem_naming_the_field(client, tokens):
    r = client.post(
        "/api/v1/customers", json={"name": "", "kind": "alien"}, headers=tokens["admin"]
    )
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in body["errors"]} == {"name", "kind"}


def test_problems_with_stored_rows_are_listed_together(client, tokens):
    """An unknown owner, a taken external id and two primary contacts: one answer lists all
    three (it used to name the owner, then the id, then the contact, one request at a time)."""
    h = tokens["admin"]
    r = client.post("/api/v1/customers", json={"name": "First", "external_id": "E-1"}, headers=h)
    assert r.status_code == 201
    contacts = [{"name": "A", "is_primary": True}, {"name": "B", "is_primary": True}]
    body = {"name": "Second", "external_id": "E-1", "owner_id": 987654, "contacts": contacts}
    r = client.post("/api/v1/customers", json=body, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "owner_id"
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["owner_id", "external_id", "contacts.1.is_primary"]
    r = client.get("/api/v1/customers", params={"q": "Second"}, headers=h)
    assert r.json()["total"] == 0


def test_no_token_is_401_and_analyst_cannot_write(client, tokens):
    assert client.get("/api/v1/customers").status_code == 401
    r = client.get("/api/v1/customers", headers={"Authorization": "Bearer rt_wrong"})
    assert r.status_code == 401
    r = client.post("/api/v1/customers", json={"name": "X"}, headers=tokens["analyst"])
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_pagination_limits_are_validated(client, tokens):
    r = client.get("/api/v1/customers", params={"limit": 0}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["field"] == "limit"
    r = client.get("/api/v1/customers", params={"limit": "abc"}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["field"] == "limit"


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_country_is_an_iso_code_in_either_case_and_an_unknown_one_is_named(client, tokens):
    h = tokens["manager"]
    r = client.post("/api/v1/customers", json={"name": "Li Lei", "country": "cn"}, headers=h)
    assert r.status_code == 201 and r.json()["country"] == "CN"
    cid = r.json()["id"]
    r = client.patch(f"/api/v1/customers/{cid}", json={"country": "China"}, headers=h)
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "country" and "not a country code" in error["message"]
    assert client.get(f"/api/v1/customers/{cid}", headers=h).json()["country"] == "CN"
    r = client.patch(f"/api/v1/customers/{cid}", json={"country": None}, headers=h)
    assert r.status_code == 200 and r.json()["country"] is None
