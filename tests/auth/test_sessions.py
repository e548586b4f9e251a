"""Server-side web sessions: logout, password change, deactivation and "log out everywhere" end
them; the cookie carries only a random id; the server refuses a missing or public secret key."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from retento.auth import sessions
from retento.auth.models import UserSession
from retento.core.db import utcnow
from tests.web.conftest import PASSWORD, Browser, csrf_of

COOKIE = "retento_session"


def cookie_payload(value: str) -> dict:
    """The JSON inside Starlette's signed session cookie (``base64(json).timestamp.signature``)."""
    data = value.split(".")[0]
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))


def replay(app, cookie: str) -> TestClient:
    """A second browser that only has a copy of the cookie."""
    other = TestClient(app)
    other.cookies.set(COOKIE, cookie)
    return other


def test_cookie_replayed_after_logout_no_longer_works(app, web):
    assert web.login("agent").status_code == 303
    stolen = web.client.cookies[COOKIE]
    assert replay(app, stolen).get("/api/v1/me").status_code == 200
    assert web.post("/logout").status_code == 303
    thief = replay(app, stolen)
    assert thief.get("/api/v1/me").status_code == 401
    r = thief.get("/customers", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_cookie_carries_no_secret_material(app, web, db, users):
    web.login("agent")
    payload = cookie_payload(web.client.cookies[COOKIE])
    assert set(payload) <= {"sid", "csrf", "locale", "flash"}
    assert "pw" not in payload and "user_id" not in payload
    assert users["agent"].password_hash[-12:] not in json.dumps(payload)
    # Only the id's hash is stored: the database alone cannot be replayed as a cookie.
    stored = db.scalars(select(UserSession.sid_hash)).all()
    assert payload["sid"] not in stored
    assert sessions.hash_sid(payload["sid"]) in stored


def test_login_replaces_the_session_id(app, web):
    web.login("agent")
    first = cookie_payload(web.client.cookies[COOKIE])["sid"]
    web.login("agent")
    second = cookie_payload(web.client.cookies[COOKIE])["sid"]
    assert first != second
    other = TestClient(app)
    other.cookies.set(COOKIE, web.client.cookies[COOKIE])
    assert other.get("/api/v1/me").status_code == 200


def test_password_change_ends_other_sessions(app, client, users):
    laptop, phone, admin = Browser(client), Browser(TestClient(app)), Browser(TestClient(app))
    laptop.login("agent")
    phone.login("agent")
    admin.login("admin")
    r = admin.post(f"/admin/users/{users['agent'].id}/password", {"password": "quiet-Harbour-77"})
    assert r.status_code == 303
    assert laptop.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/me").status_code == 401
    assert admin.get("/api/v1/me").status_code == 200


def test_own_password_change_keeps_this_browser_and_ends_the_others(app, client, users):
    here, there = Browser(client), Browser(TestClient(app))
    here.login("admin")
    there.login("admin")
    r = here.post(
        f"/admin/users/{users['admin'].id}/password",
        {"current_password": PASSWORD, "password": "quiet-Harbour-77"},
    )
    assert r.status_code == 303
    assert here.get("/api/v1/me").status_code == 200
    assert there.get("/api/v1/me").status_code == 401


def test_api_password_change_ends_sessions(app, client, users, tokens):
    browser = Browser(TestClient(app))
    browser.login("agent")
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}",
        json={"current_password": PASSWORD, "password": "quiet-Harbour-77"},
        headers=tokens["agent"],
    )
    assert r.status_code == 200, r.text
    assert browser.get("/api/v1/me").status_code == 401


def test_deactivation_ends_sessions(app, client, users):
    agent, admin = Browser(TestClient(app)), Browser(client)
    agent.login("agent")
    admin.login("admin")
    assert admin.post(f"/admin/users/{users['agent'].id}", {"is_active": "0"}).status_code == 303
    assert agent.get("/api/v1/me").status_code == 401
    # Reactivating does not bring the old session back.
    assert admin.post(f"/admin/users/{users['agent'].id}", {"is_active": "1"}).status_code == 303
    assert agent.get("/api/v1/me").status_code == 401


def test_admin_logs_a_user_out_everywhere_from_the_user_page(app, client, users):
    agent1, agent2, admin = Browser(TestClient(app)), Browser(TestClient(app)), Browser(client)
    agent1.login("agent")
    agent2.login("agent")
    admin.login("admin")
    page = admin.get(f"/admin/users/{users['agent'].id}")
    assert page.status_code == 200
    assert 'id="user-sessions"' in page.text and "testclient" in page.text
    assert f'action="/admin/users/{users["agent"].id}/sessions/revoke"' in page.text
    r = admin.post(f"/admin/users/{users['agent'].id}/sessions/revoke")
    assert r.status_code == 303
    assert "2 open sessions were ended." in admin.get(r.headers["location"]).text
    assert agent1.get("/api/v1/me").status_code == 401
    assert agent2.get("/api/v1/me").status_code == 401
    assert admin.get("/api/v1/me").status_code == 200


def test_log_out_everywhere_api(app, client, users, tokens):
    browser = Browser(TestClient(app))
    browser.login("manager")
    mid = users["manager"].id
    listed = client.get(f"/api/v1/users/{mid}/sessions", headers=tokens["manager"])
    assert listed.status_code == 200 and len(listed.json()) == 1
    assert set(listed.json()[0]) == {
        "id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "user_agent",
        "ip",
    }
    # Another user may not; an administrator and the user themself may.
    assert (
        client.delete(f"/api/v1/users/{mid}/sessions", headers=tokens["agent"]).status_code == 403
    )
    r = client.delete(f"/api/v1/users/{mid}/sessions", headers=tokens["admin"])
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert browser.get("/api/v1/me").status_code == 401
    # API tokens are not sessions: they keep working.
    assert client.get("/api/v1/me", headers=tokens["manager"]).status_code == 200
    assert client.get(f"/api/v1/users/{mid}/sessions", headers=tokens["manager"]).json() == []


def _resolve(factory, plain, **kw):
    """The live session behind ``plain`` as the request resolves it, in a session of its own."""
    with factory() as s:
        return sessions.resolve_user(s, plain, **kw)


def test_idle_and_absolute_expiry(db, users, session_factory):
    plain = sessions.start(db, users["agent"], absolute_seconds=3600)
    db.commit()
    now = utcnow()
    assert _resolve(session_factory, plain, idle_seconds=600, now=now)
    assert (
        _resolve(session_factory, plain, idle_seconds=600, now=now + timedelta(minutes=11)) is None
    )
    assert (
        _resolve(session_factory, plain, idle_seconds=7200, now=now + timedelta(minutes=61)) is None
    )
    assert _resolve(session_factory, "not-a-session", idle_seconds=600) is None


def test_last_seen_is_written_at_most_once_a_minute(db, users, session_factory):
    plain = sessions.start(db, users["agent"], absolute_seconds=3600)
    db.commit()
    row = db.scalar(select(UserSession))
    start = row.last_seen_at
    _resolve(session_factory, plain, idle_seconds=600, now=start + timedelta(seconds=30))
    db.expire_all()
    assert db.get(UserSession, row.id).last_seen_at == start
    later = start + timedelta(seconds=90)
    _resolve(session_factory, plain, idle_seconds=600, now=later)
    db.expire_all()
    assert db.get(UserSession, row.id).last_seen_at == later


# --- the secret key ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "   ", "retento-dev-secret-change-me"])
def test_app_refuses_an_empty_or_public_secret_key(key):
    from retento.app import create_app
    from retento.core.config import InsecureSecretKey, Settings

    with pytest.raises(InsecureSecretKey, match="RETENTO_SECRET_KEY"):
        create_app(Settings(database_url="sqlite://", run_scheduler=False, secret_key=key))


@pytest.fixture
def serve_env(monkeypatch, tmp_path):
    """`retento serve` with uvicorn replaced by a recorder, in an empty data directory."""
    import uvicorn

    from retento.core.config import get_settings

    calls: list[tuple] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.setenv("RETENTO_SECRET_KEY", "")
    monkeypatch.setenv("RETENTO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RETENTO_PUBLIC_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield calls
    os.environ.pop("RETENTO_PUBLIC_BASE_URL", None)  # set by `serve --demo` itself
    get_settings.cache_clear()


def test_serve_refuses_to_start_without_a_secret_key(serve_env):
    from retento.cli import app

    r = CliRunner().invoke(app, ["serve"])
    out = " ".join(r.output.split())
    assert r.exit_code == 2, out
    assert "RETENTO_SECRET_KEY is not set" in out and "retento serve --demo" in out
    assert serve_env == []  # the server never started


def test_serve_demo_generates_and_keeps_a_random_key(serve_env, tmp_path):
    from retento.cli import app
    from retento.core.config import get_settings

    r = CliRunner().invoke(app, ["serve", "--demo"])
    assert r.exit_code == 0, r.output
    assert len(serve_env) == 1
    key_file = tmp_path / "data" / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 32 and key_file.stat().st_mode & 0o077 == 0
    assert get_settings().secret_key == key
    # Started again, the demo keeps the same key (sessions survive a restart).
    r = CliRunner().invoke(app, ["serve", "--demo"])
    assert r.exit_code == 0 and key_file.read_text().strip() == key


def test_serve_demo_links_for_customers_point_at_the_served_port(serve_env):
    """QA: a demo served on port 8765 showed complaint follow-up links on port 8000."""
    from retento.cli import app
    from retento.core.config import get_settings
    from retento.mail.service import absolute

    r = CliRunner().invoke(app, ["serve", "--demo", "--port", "8765"])
    assert r.exit_code == 0, r.output
    assert "http://127.0.0.1:8765" in " ".join(r.output.split())
    assert absolute(get_settings(), "/complain/followup/x") == (
        "http://127.0.0.1:8765/complain/followup/x"
    )


def test_serve_warns_when_links_for_customers_would_point_elsewhere(serve_env, monkeypatch):
    from retento.cli import app
    from retento.core.config import get_settings

    monkeypatch.setenv("RETENTO_SECRET_KEY", "k" * 48)
    get_settings.cache_clear()
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "9000"])
    out = " ".join(r.output.split())
    assert r.exit_code == 0, out
    assert "RETENTO_PUBLIC_BASE_URL is not set" in out and "http://127.0.0.1:8000" in out
    assert get_settings().public_base_url == "http://127.0.0.1:8000"  # unchanged
    monkeypatch.setenv("RETENTO_PUBLIC_BASE_URL", "https://crm.example.com")
    get_settings.cache_clear()
    r = CliRunner().invoke(app, ["serve", "--port", "9000"])
    assert r.exit_code == 0 and "RETENTO_PUBLIC_BASE_URL" not in r.output


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_serve_refuses_a_data_dir_it_cannot_write(serve_env, monkeypatch, tmp_path, lang):
    """Deployment QA: RETENTO_DATA_DIR=/var/lib/retento, never created, started fine and then
    answered 500 to every complaint attachment. A missing folder is created; one that cannot be
    (here under a file, as a read-only parent would) stops the start, naming the folder."""
    from retento.cli import app
    from retento.core.config import get_settings

    monkeypatch.setenv("RETENTO_SECRET_KEY", "k" * 48)
    (tmp_path / "a-file").write_text("")
    bad = tmp_path / "a-file" / "retento"
    monkeypatch.setenv("RETENTO_DATA_DIR", str(bad))
    get_settings.cache_clear()
    r = CliRunner().invoke(app, ["--lang", lang, "serve"])
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and serve_env == [], out
    said = {"en": "cannot be created or written", "zh_CN": "无法创建或写入"}[lang]
    assert said in out and str(bad) in "".join(r.output.split())
    made = tmp_path / "new" / "data"
    monkeypatch.setenv("RETENTO_DATA_DIR", str(made))
    get_settings.cache_clear()
    r = CliRunner().invoke(app, ["serve"])
    assert r.exit_code == 0 and made.is_dir() and len(serve_env) == 1, r.output


def test_serve_with_a_real_key_starts(serve_env, monkeypatch):
    from retento.cli import app
    from retento.core.config import get_settings

    monkeypatch.setenv("RETENTO_SECRET_KEY", "k" * 48)
    get_settings.cache_clear()
    r = CliRunner().invoke(app, ["serve"])
    assert r.exit_code == 0, r.output
    assert len(serve_env) == 1


def test_login_page_csrf_token_changes_at_login(web):
    before = csrf_of(web.client.get("/login").text)
    web.login("agent", PASSWORD)
    assert web.token and web.token != before
