from __future__ import annotations


def test_admin_manages_users_and_tokens(client, tokens, users):
    h = tokens["admin"]
    r = client.post(
        "/api/v1/users",
        json={"username": "mei", "password": "longpassword", "role": "agent"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    r = client.post(f"/api/v1/users/{uid}/tokens", json={"name": "script"}, headers=h)
    assert r.status_code == 201
    token = r.json()["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "mei"
    listed = client.get(f"/api/v1/users/{uid}/tokens", headers=h).json()
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    assert client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=h).status_code == 204
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_deactivated_user_token_stops_working(client, tokens, users):
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}", json={"is_active": False}, headers=tokens["admin"]
    )
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=tokens["agent"]).status_code == 401
    # QA: reactivating the user brought the old token back to life; it stays revoked.
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}", json={"is_active": True}, headers=tokens["admin"]
    )
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=tokens["agent"]).status_code == 401
    listed = client.get(f"/api/v1/users/{users['agent'].id}/tokens", headers=tokens["admin"])
    assert listed.json() and all(t["revoked_at"] for t in listed.json())


def test_only_admins_manage_users(client, tokens):
    body = {"username": "x1", "password": "longpassword", "role": "agent"}
    for role in ("manager", "agent", "analyst"):
        assert client.post("/api/v1/users", json=body, headers=tokens[role]).status_code == 403
    assert client.get("/api/v1/users", headers=tokens["manager"]).status_code == 403


def test_duplicate_username_is_conflict(client, tokens):
    body = {"username": "Agent", "password": "longpassword", "role": "agent"}
    r = client.post("/api/v1/users", json=body, headers=tokens["admin"])
    assert r.status_code == 409 and r.json()["field"] == "username"


def test_passwords_are_argon2_hashed(db, users):
    from retento.auth.service import authenticate
    from retento.core.errors import Unauthorized

    assert users["admin"].password_hash.startswith("$argon2")
    assert authenticate(db, "ADMIN", "ledger-Sesame-42").id == users["admin"].id
    import pytest

    with pytest.raises(Unauthorized):
        authenticate(db, "admin", "wrong-password")
