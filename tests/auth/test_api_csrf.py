"""The JSON API with the session cookie: unsafe calls need the X-CSRF-Token header (a cross-site
form or script cannot send it); bearer-token calls do not; reads need nothing."""

from __future__ import annotations

from tests.web.conftest import Browser


def customer(name: str) -> dict:
    return {"name": name, "party_type": "person", "kind": "consumer"}


def test_cookie_json_write_without_the_header_is_refused(web, db):
    web.login("agent")
    r = web.client.post("/api/v1/customers", json=customer("Forged Ltd"))
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = web.client.post(
        "/api/v1/customers", json=customer("Forged Ltd"), headers={"X-CSRF-Token": "guess"}
    )
    assert r.status_code == 403
    assert web.client.get("/api/v1/customers?q=Forged").json()["total"] == 0


def test_cookie_json_write_with_the_header_works(web):
    web.login("agent")
    r = web.client.post(
        "/api/v1/customers", json=customer("Real Ltd"), headers={"X-CSRF-Token": web.token}
    )
    assert r.status_code == 201, r.text


def test_cookie_multipart_and_delete_need_the_header(web, users):
    web.login("admin")
    files = {"file": ("c.csv", b"external_id,name,party_type,kind\nX1,Forged,person,consumer\n")}
    r = web.client.post("/api/v1/imports/customers", files=files)
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = web.client.delete(f"/api/v1/users/{users['agent'].id}/sessions")
    assert r.status_code == 403
    r = web.client.delete(
        f"/api/v1/users/{users['agent'].id}/sessions", headers={"X-CSRF-Token": web.token}
    )
    assert r.status_code == 200


def test_cookie_form_post_to_the_api_is_refused(web):
    """A classic cross-site attack: an auto-submitted HTML form carrying the victim's cookie."""
    web.login("agent")
    r = web.client.post("/api/v1/customers", data={"name": "Forged Ltd"})
    assert r.status_code == 403


def test_cookie_reads_need_no_header(web):
    web.login("agent")
    assert web.client.get("/api/v1/me").status_code == 200


def test_bearer_calls_need_no_header(client, tokens):
    r = client.post("/api/v1/customers", json=customer("Token Ltd"), headers=tokens["agent"])
    assert r.status_code == 201, r.text


def test_pages_keep_their_own_csrf_check(app, client, users):
    b = Browser(client)
    b.login("agent")
    r = client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
