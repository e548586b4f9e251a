"""The user and role forms' stale-edit page compares three ways (web.conflict): two tabs on one
user's profile or one custom role, each changing something. The second save lists only what
the second tab changed, and "Apply my values" keeps the first tab's change (a role's ticked
permissions too)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retento.auth.models import Role, User
from tests.factories import make_user
from tests.web.conflict_forms import form_of, form_post, rows_of
from tests.web.conftest import Browser


def _admin(client, users, db, locale: str = "en") -> Browser:
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    return web


def _two(tab: Browser, url: str, post=form_of, form_id: str | None = None):
    return post(tab.get(url).text, url, form_id), post(tab.get(url).text, url, form_id)


PROFILE = "user-profile-form"  # the user page's other form (deactivate) posts there too


@pytest.mark.parametrize(("locale", "label"), [("en", "Email"), ("zh_CN", "电子邮件")])
def test_user_other_field_listed_alone_and_both_changes_survive(client, users, db, locale, label):
    agent = make_user(db, display_name="Old name", email="old@example.com")
    db.commit()
    tab = _admin(client, users, db, locale)
    url = f"/admin/users/{agent.id}"
    first, second = _two(tab, url, form_id=PROFILE)
    assert second["base.display_name"] == "Old name"
    one = {**first, "display_name": "New name", "manager_id": str(users["manager"].id)}
    assert tab.post(url, one).status_code == 303
    stale = tab.post(url, {**second, "email": "new@example.com"})
    assert stale.status_code == 409, stale.text
    assert rows_of(stale.text) == {"email": ("new@example.com", "old@example.com")}
    assert f'<th scope="row">{label}</th>' in stale.text
    again = form_of(stale.text, url)
    assert again["display_name"] == "New name" and again["manager_id"] == str(users["manager"].id)
    assert tab.post(url, again).status_code == 303
    db.expire_all()
    u = db.get(User, agent.id)
    assert (u.display_name, u.email, u.manager_id) == (
        "New name", "new@example.com", users["manager"].id,
    )  # fmt: skip


def test_user_same_field_shows_both_values_and_managers_by_name(client, users, db):
    boss = make_user(db, role="manager", display_name="Boss Wang")
    agent = make_user(db, display_name="Old name")
    db.commit()
    tab = _admin(client, users, db)
    url = f"/admin/users/{agent.id}"
    first, second = _two(tab, url, form_id=PROFILE)
    assert tab.post(url, {**first, "manager_id": str(boss.id)}).status_code == 303
    stale = tab.post(url, {**second, "manager_id": str(users["manager"].id)})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert list(rows) == ["manager_id"] and rows["manager_id"][1] == "Boss Wang"
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    assert db.get(User, agent.id).manager_id == users["manager"].id


def _supervisor(tab: Browser, db) -> Role:
    perms = ["customer:read", "customer:update"]
    r = tab.post("/admin/roles/new", {"name": "supervisor", "scope": "own", "permissions": perms})
    assert r.status_code == 303, r.text
    return db.scalar(select(Role).where(Role.name == "supervisor"))


def test_role_permissions_of_the_other_tab_survive(client, users, db):
    tab = _admin(client, users, db)
    role = _supervisor(tab, db)
    url = "/admin/roles/supervisor"
    first, second = _two(tab, url, form_post)
    assert second["base.permissions"] == ["customer:read", "customer:update"]
    one = {**first, "permissions": ["customer:read", "customer:update", "score:read"]}
    assert tab.post(url, one).status_code == 303
    stale = tab.post(url, {**second, "name_zh": "主管"})
    assert stale.status_code == 409, stale.text
    assert rows_of(stale.text) == {"name_zh": ("主管", "—")}
    again = form_post(stale.text, url)
    assert again["permissions"] == ["customer:read", "customer:update", "score:read"]
    assert tab.post(url, again).status_code == 303
    db.expire_all()
    r = db.get(Role, role.id)
    assert (r.name_zh, r.permissions) == (
        "主管", ["customer:read", "customer:update", "score:read"],
    )  # fmt: skip


def test_role_same_field_shows_both_values_by_label(client, users, db):
    tab = _admin(client, users, db)
    role = _supervisor(tab, db)
    url = "/admin/roles/supervisor"
    first, second = _two(tab, url, form_post)
    assert tab.post(url, {**first, "permissions": ["customer:read"]}).status_code == 303
    stale = tab.post(url, {**second, "permissions": ["customer:read", "complaint:read"]})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert list(rows) == ["permissions"]
    assert "complaint:read" not in rows["permissions"][0]  # named as the form names them
    assert tab.post(url, form_post(stale.text, url)).status_code == 303
    db.expire_all()
    assert db.get(Role, role.id).permissions == ["customer:read", "complaint:read"]


def test_role_form_with_errors_keeps_the_values_it_was_loaded_with(client, users, db):
    tab = _admin(client, users, db)
    _supervisor(tab, db)
    url = "/admin/roles/supervisor"
    first, second = _two(tab, url, form_post)
    assert tab.post(url, {**first, "description": "Team leads"}).status_code == 303
    bad = tab.post(url, {**second, "name_zh": "主管" * 30})  # past 40 characters
    assert bad.status_code == 422
    shown = form_post(bad.text, url)
    assert shown["version"] == second["version"] and shown["base.description"] == ""
    stale = tab.post(url, {**shown, "name_zh": "主管"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["name_zh"]
