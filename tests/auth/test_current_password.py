"""Setting one's own password needs the current one (QA finding F2: a stolen token or an
unattended session could set a new password and take the account over). Wrong current
passwords count like failed log-ins; ``user:manage`` resets another user's without it; the CLI
administers the installation and needs none; API tokens stay valid (docs/security.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from retento.auth import service
from retento.auth.security import verify_password
from retento.core.db import utcnow
from tests.factories import live_shared
from tests.factories.openapi import share_openapi
from tests.web.conftest import PASSWORD, Browser

# One database with real transactions per backend for the module (``live``).
live_pg_module = live_shared.live_pg_module
live_sqlite_module = live_shared.live_sqlite_module

NEW = "amber-Kettle-1999"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, frozen and moved by hand (``clock.now += ...``)."""

    class Clock:
        now = utcnow()

    monkeypatch.setattr(service, "utcnow", lambda: Clock.now)
    return Clock


def password_is(db, user, password: str) -> bool:
    db.refresh(user)
    return verify_password(user.password_hash, password)


# --- API ----------------------------------------------------------------------------------


def test_api_own_change_without_current_password_is_refused(app, client, db, users, tokens):
    browser = Browser(TestClient(app))
    browser.login("agent")
    url = f"/api/v1/users/{users['agent'].id}"
    for body in ({"password": NEW}, {"password": NEW, "current_password": None}):
        r = client.patch(url, json=body, headers=tokens["agent"])
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "current_password"
        assert r.json()["detail"] == "Enter your current password to set a new one."
        assert NEW not in r.text
    assert password_is(db, users["agent"], PASSWORD)
    assert browser.get("/api/v1/me").status_code == 200  # nothing happened to the sessions


def test_api_own_change_with_a_wrong_current_password_is_refused(app, client, db, users, tokens):
    browser = Browser(TestClient(app))
    browser.login("agent")
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}",
        json={"password": NEW, "current_password": "not-my-password"},
        headers=tokens["agent"],
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "current_password"
    assert r.json()["detail"] == "The current password is wrong."
    assert "not-my-password" not in r.text and NEW not in r.text
    assert password_is(db, users["agent"], PASSWORD)
    assert browser.get("/api/v1/me").status_code == 200
    # The version did not move: nothing was written.
    assert client.get("/api/v1/me", headers=tokens["agent"]).json()["version"] == 1


def test_api_errors_in_chinese(client, users, tokens):
    url = f"/api/v1/users/{users['agent'].id}"
    headers = {**tokens["agent"], "Accept-Language": "zh-CN"}
    r = client.patch(url, json={"password": NEW}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"] == "设置新密码前，请先输入当前密码。"
    r = client.patch(url, json={"password": NEW, "current_password": "nope"}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"] == "当前密码不正确。"


def test_api_own_change_with_the_right_current_password(app, client, db, users, tokens):
    laptop = Browser(TestClient(app))
    laptop.login("agent")
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}",
        json={"password": NEW, "current_password": PASSWORD},
        headers=tokens["agent"],
    )
    assert r.status_code == 200, r.text
    assert "current_password" not in r.json()
    assert password_is(db, users["agent"], NEW)
    assert laptop.get("/api/v1/me").status_code == 401  # web sessions end as before
    # API tokens stay valid (documented): the one used here included.
    assert client.get("/api/v1/me", headers=tokens["agent"]).status_code == 200
    assert Browser(TestClient(app)).login("agent", NEW).status_code == 303


def test_api_cookie_session_needs_the_current_password_too(app, db, users):
    browser = Browser(TestClient(app))
    browser.login("agent")
    url = f"/api/v1/users/{users['agent'].id}"
    csrf = {"X-CSRF-Token": browser.token}
    r = browser.client.patch(url, json={"password": NEW}, headers=csrf)
    assert r.status_code == 422 and r.json()["field"] == "current_password"
    r = browser.client.patch(
        url, json={"password": NEW, "current_password": PASSWORD}, headers=csrf
    )
    assert r.status_code == 200, r.text
    assert password_is(db, users["agent"], NEW)


def test_admin_sets_another_users_password_without_theirs(app, client, db, users, tokens):
    browser = Browser(TestClient(app))
    browser.login("agent")
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}", json={"password": NEW}, headers=tokens["admin"]
    )
    assert r.status_code == 200, r.text
    assert password_is(db, users["agent"], NEW)
    assert browser.get("/api/v1/me").status_code == 401


def test_admin_changing_their_own_password_gives_the_current_one(client, db, users, tokens):
    url = f"/api/v1/users/{users['admin'].id}"
    r = client.patch(url, json={"password": NEW}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["field"] == "current_password"
    # Also when other fields (only an administrator may change) come along.
    r = client.patch(url, json={"password": NEW, "display_name": "Boss"}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["field"] == "current_password"
    assert password_is(db, users["admin"], PASSWORD)
    r = client.patch(
        url, json={"password": NEW, "current_password": PASSWORD}, headers=tokens["admin"]
    )
    assert r.status_code == 200, r.text
    assert password_is(db, users["admin"], NEW)


def test_current_password_is_only_checked_with_a_new_password(client, users, tokens):
    r = client.patch(
        f"/api/v1/users/{users['agent'].id}",
        json={"display_name": "Agent A", "current_password": "whatever"},
        headers=tokens["agent"],
    )
    assert r.status_code == 200 and r.json()["display_name"] == "Agent A"


def test_others_still_cannot_set_a_password(client, db, users, tokens):
    r = client.patch(
        f"/api/v1/users/{users['manager'].id}",
        json={"password": NEW, "current_password": PASSWORD},
        headers=tokens["agent"],
    )
    assert r.status_code == 403
    assert password_is(db, users["manager"], PASSWORD)


def test_openapi_schema_has_current_password(app, client):
    share_openapi(app)  # built once per process, not once per test
    spec = client.get("/openapi.json").json()
    schema = spec["components"]["schemas"]["UserUpdate"]
    prop = schema["properties"]["current_password"]
    assert prop["anyOf"][0] == {"type": "string", "maxLength": 1000}
    assert "current_password" not in schema.get("required", [])
    assert "current_password" in prop["description"]
    assert "current_password" not in spec["components"]["schemas"]["UserRead"]["properties"]
    assert "current_password" in spec["paths"]["/api/v1/users/{user_id}"]["patch"]["description"]


# --- Web ----------------------------------------------------------------------------------


def test_own_user_page_asks_for_the_current_password(web, users):
    web.login("admin")
    own = web.get(f"/admin/users/{users['admin'].id}").text
    assert 'name="current_password"' in own and 'autocomplete="current-password"' in own
    assert "Change your password" in own and "API tokens stay valid" in own
    other = web.get(f"/admin/users/{users['agent'].id}").text
    assert 'name="current_password"' not in other and "Reset password" in other


@pytest.mark.parametrize(
    ("locale", "missing", "wrong"),
    [
        ("en", "Enter your current password to set a new one.", "The current password is wrong."),
        ("zh_CN", "设置新密码前，请先输入当前密码。", "当前密码不正确。"),
    ],
)
def test_web_own_change_needs_the_current_password(app, client, db, users, locale, missing, wrong):
    users["admin"].locale = locale
    db.commit()
    here, there = Browser(client), Browser(TestClient(app))
    here.login("admin")
    there.login("admin")
    url = f"/admin/users/{users['admin'].id}/password"
    r = here.post(url, {"password": NEW})
    assert r.status_code == 422 and missing in r.text
    assert 'id="e-current_password"' in r.text and NEW not in r.text
    r = here.post(url, {"password": NEW, "current_password": "not-my-password"})
    assert r.status_code == 422 and wrong in r.text and "not-my-password" not in r.text
    assert password_is(db, users["admin"], PASSWORD)
    assert there.get("/api/v1/me").status_code == 200
    r = here.post(url, {"password": NEW, "current_password": PASSWORD})
    assert r.status_code == 303
    assert password_is(db, users["admin"], NEW)
    assert there.get("/api/v1/me").status_code == 401  # the other browser is logged out
    page = here.get(r.headers["location"])  # this one keeps a fresh session
    assert page.status_code == 200
    assert ("API tokens stay valid" if locale == "en" else "API 令牌仍然有效") in page.text


def test_web_admin_resets_another_users_password_without_theirs(app, client, db, users):
    agent, admin = Browser(TestClient(app)), Browser(client)
    agent.login("agent")
    admin.login("admin")
    r = admin.post(f"/admin/users/{users['agent'].id}/password", {"password": NEW})
    assert r.status_code == 303
    assert password_is(db, users["agent"], NEW)
    assert agent.get("/api/v1/me").status_code == 401
    assert "Their API tokens stay valid" in admin.get(r.headers["location"]).text


# --- Throttling ---------------------------------------------------------------------------
# The throttle writes its counts in transactions of their own, which must outlive the request's
# rollback (a wrong current password is an error): the shared rolled-back connection of the
# ``client`` fixture cannot show that, so these tests run on a database with real commits.


@pytest.fixture
def live(request, backend):
    """An app on a database with real transactions: the module's PostgreSQL database or
    migrated SQLite file (``tests.factories.live_shared``), put back to its migrated state,
    with an admin and an agent and a token for each."""
    from tests.factories import make_user

    out = request.getfixturevalue(f"live_{'pg' if backend == 'postgres' else 'sqlite'}_module")
    out.reset()
    with out.session() as s:
        out.ids = {}
        out.tokens = {}
        for role in ("admin", "agent"):
            user = make_user(s, username=role, role=role)
            s.flush()
            _, plain = service.issue_token(s, user, name="test", actor=None)
            out.ids[role] = user.id
            out.tokens[role] = {"Authorization": f"Bearer {plain}"}
        s.commit()
    yield out
    out.dispose_app()


def live_password_is(live, role: str, password: str) -> bool:
    from retento.auth.models import User

    with live.session() as s:
        return verify_password(s.get(User, live.ids[role]).password_hash, password)


def test_wrong_current_passwords_are_throttled_like_failed_log_ins(live, clock):
    client = live.client()
    url = f"/api/v1/users/{live.ids['agent']}"
    agent = live.tokens["agent"]
    statuses = [
        client.patch(
            url, json={"password": NEW, "current_password": f"guess-{i}"}, headers=agent
        ).status_code
        for i in range(8)
    ]
    assert statuses[:5] == [422] * 5 and set(statuses[5:]) == {429}
    # Locked: even the right password is not checked, and the web login shares the lock.
    right = {"password": NEW, "current_password": PASSWORD}
    r = client.patch(url, json=right, headers=agent)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 2
    assert "Too many failed log-ins. Try again in" in r.json()["detail"]
    r = client.patch(url, json=right, headers={**agent, "Accept-Language": "zh-CN"})
    assert r.status_code == 429 and "登录失败次数过多" in r.json()["detail"]
    assert Browser(live.client()).login("agent").status_code == 429
    assert live_password_is(live, "agent", PASSWORD)
    clock.now += timedelta(seconds=900)  # the lock runs out
    assert client.patch(url, json=right, headers=agent).status_code == 200
    assert live_password_is(live, "agent", NEW)
    # Only a successful log-in clears the counts (docs/security.md).
    from sqlalchemy import select

    from retento.auth.models import LoginThrottle

    with live.session() as s:
        assert min(s.scalars(select(LoginThrottle.failures))) == 5  # 429s are not counted


def test_a_missing_current_password_is_not_counted(live, clock):
    client = live.client()
    url = f"/api/v1/users/{live.ids['agent']}"
    for _ in range(8):
        r = client.patch(url, json={"password": NEW}, headers=live.tokens["agent"])
        assert r.status_code == 422
    assert Browser(live.client()).login("agent").status_code == 303


def test_failed_log_ins_lock_the_password_change_too(live, clock):
    browser = Browser(live.client())
    for i in range(5):
        assert browser.login("agent", f"wrong-{i}").status_code == 401
    r = live.client().patch(
        f"/api/v1/users/{live.ids['agent']}",
        json={"password": NEW, "current_password": PASSWORD},
        headers=live.tokens["agent"],
    )
    assert r.status_code == 429
    assert live_password_is(live, "agent", PASSWORD)


@pytest.mark.parametrize(
    ("locale", "text"),
    [("en", "Too many failed log-ins. Wait"), ("zh_CN", "登录失败次数过多")],
)
def test_web_own_change_is_throttled(live, clock, locale, text):
    from retento.auth.models import User

    with live.session() as s:
        s.get(User, live.ids["admin"]).locale = locale
        s.commit()
    web = Browser(live.client())
    assert web.login("admin").status_code == 303
    url = f"/admin/users/{live.ids['admin']}/password"
    for i in range(5):
        r = web.post(url, {"password": NEW, "current_password": f"guess-{i}"})
        assert r.status_code == 422
    r = web.post(url, {"password": NEW, "current_password": PASSWORD})
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert text in r.text and 'id="e-current_password"' in r.text
    assert live_password_is(live, "admin", PASSWORD)


# --- CLI ----------------------------------------------------------------------------------


def test_cli_sets_a_password_without_the_current_one(live_sqlite_module, monkeypatch):
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from retento.audit.models import AuditEntry
    from retento.auth.models import User
    from retento.cli import app
    from retento.core.config import get_settings

    live_sqlite_module.reset()  # the migrated SQLite file of the tests above
    url = live_sqlite_module.url
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(
            app, ["user", "create", "boss", "--role", "admin", "--password", PASSWORD]
        )
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["user", "password", "boss", "--password", NEW])
        assert r.exit_code == 0 and "changed" in r.output, r.output
        engine = create_engine(url)
        with Session(engine) as s:
            user = s.scalar(select(User).where(User.username == "boss"))
            assert verify_password(user.password_hash, NEW)
            entry = s.scalars(
                select(AuditEntry).where(AuditEntry.entity == "user").order_by(AuditEntry.id)
            ).all()[-1]
            assert entry.after["password"] == "changed" and entry.actor_id is None
        engine.dispose()
    finally:
        get_settings.cache_clear()
