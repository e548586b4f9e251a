"""A user's e-mail address is checked as a customer's is (``core.validation.EMAIL_PATTERN``):
"nope" was stored from the admin form, the API (201) and the CLI. Now a 422 naming ``email``
on create and update, in the reader's language, and nothing is saved."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from retento.auth.models import User
from tests.auth.test_password_policy import cli_db  # noqa: F401 (fixture)
from tests.web.conftest import Browser

NEW = {"username": "newbie", "password": "ledger-Sesame-42", "role": "agent", "locale": "en"}
MESSAGE = {
    "en": "Enter an email address such as name@example.com.",
    "zh_CN": "请输入电子邮件地址，例如 name@example.com。",
}


def _named(db, username: str) -> User | None:
    return db.scalars(select(User).where(User.username == username)).one_or_none()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
@pytest.mark.parametrize("email", ["nope", "a b@example.com", "name@example", "@example.com"])
def test_web_create_refuses_an_address_that_is_none(client, users, db, locale, email):
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    r = web.post("/admin/users/new", {**NEW, "email": email})
    assert r.status_code == 422, r.text
    assert MESSAGE[locale] in r.text
    assert _named(db, "newbie") is None


def test_web_create_keeps_a_good_address(web, users, db):
    web.login("admin")
    r = web.post("/admin/users/new", {**NEW, "email": " newbie@example.com "})
    assert r.status_code == 303, r.text
    assert _named(db, "newbie").email == "newbie@example.com"


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_web_update_refuses_an_address_that_is_none(client, users, db, locale):
    users["admin"].locale = locale
    users["agent"].email = "agent@example.com"
    db.commit()
    web = Browser(client)
    web.login("admin")
    agent = users["agent"]
    r = web.post(
        f"/admin/users/{agent.id}",
        {"display_name": "Agent", "email": "nope", "role": "agent", "version": str(agent.version)},
    )
    assert r.status_code == 422 and MESSAGE[locale] in r.text
    db.expire_all()
    assert db.get(User, agent.id).email == "agent@example.com"
    # Emptying it is allowed (no address).
    r = web.post(
        f"/admin/users/{agent.id}",
        {"display_name": "Agent", "email": "", "role": "agent", "version": str(agent.version)},
    )
    assert r.status_code == 303, r.text
    db.expire_all()
    assert db.get(User, agent.id).email is None


def test_api_create_and_update_refuse_an_address_that_is_none(client, users, tokens, db):
    h = tokens["admin"]
    body = {**NEW, "email": "nope"}
    r = client.post("/api/v1/users", json=body, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "email", r.text
    assert _named(db, "newbie") is None
    r = client.patch(f"/api/v1/users/{users['agent'].id}", json={"email": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "email"
    r = client.post("/api/v1/users", json={**NEW, "email": "newbie@example.com"}, headers=h)
    assert r.status_code == 201 and r.json()["email"] == "newbie@example.com"


def test_cli_create_refuses_an_address_that_is_none(cli_db):  # noqa: F811
    from retento.cli import app

    runner = CliRunner()
    args = ["user", "create", "boss", "--role", "admin", "--password", "ledger-Sesame-42"]
    r = runner.invoke(app, [*args, "--email", "nope"])
    assert r.exit_code == 1
    out = " ".join(r.output.split())
    assert "Email (--email): Enter an email address such as name@example.com." in out
    assert "should match pattern" not in out
    r = runner.invoke(app, ["--lang", "zh_CN", *args, "--email", "nope"])
    assert r.exit_code == 1 and "请输入电子邮件地址" in r.output
    r = runner.invoke(app, [*args, "--email", "boss@example.com"])
    assert r.exit_code == 0, r.output
