"""My account: every user changes their own password, ends their sessions and revokes their
tokens on a page of their own (the admin user page needs user:manage; agents and analysts had
only the API). SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from retento.auth import service
from retento.auth.models import ApiToken
from tests.web.conftest import PASSWORD, Browser

NEW = "amber-Kettle-1999-x"


@pytest.mark.parametrize(
    ("locale", "title", "wrong"),
    [
        ("en", "My account", "The current password is wrong."),
        ("zh_CN", "我的账户", "当前密码不正确。"),
    ],
)
def test_an_agent_changes_their_own_password(client, users, db, locale, title, wrong):
    users["agent"].locale = locale
    db.commit()
    web = Browser(client)
    assert web.login("agent").status_code == 303
    page = web.get("/account")
    assert page.status_code == 200 and title in page.text
    assert 'href="/account"' in web.get("/customers").text  # in the user menu
    r = web.post("/account/password", {"current_password": "not-it-at-all", "password": NEW})
    assert r.status_code == 422 and wrong in r.text
    db.expire_all()
    assert service.authenticate(db, "agent", PASSWORD) is not None
    r = web.post("/account/password", {"current_password": PASSWORD, "password": NEW})
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert web.get("/account").status_code == 200  # this browser got a fresh session
    db.expire_all()
    assert service.authenticate(db, "agent", NEW) is not None


def test_own_tokens_are_revoked_and_others_are_refused(client, users, db):
    mine, _ = service.issue_token(db, users["agent"], name="mine", actor=users["admin"])
    theirs, _ = service.issue_token(db, users["analyst"], name="theirs", actor=users["admin"])
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get("/account").text
    assert "mine" in page and "theirs" not in page
    assert web.post(f"/account/tokens/{theirs.id}/revoke").status_code == 403
    assert web.post(f"/account/tokens/{mine.id}/revoke").status_code == 303
    db.expire_all()
    assert db.get(ApiToken, mine.id).revoked_at is not None
    assert db.get(ApiToken, theirs.id).revoked_at is None


def test_log_out_everywhere_ends_this_browser_too(client, users):
    web = Browser(client)
    web.login("analyst")
    r = web.post("/account/sessions/revoke")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert web.get("/account", follow_redirects=False).status_code in (302, 303, 401)
