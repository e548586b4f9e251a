"""Password policy on every path (API create and change, web create and reset, CLI), and no
password ever echoed in an error body."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from retento.auth.password_policy import MIN_LENGTH, common_passwords, password_problem
from retento.auth.security import verify_password
from retento.demo.generator import DEMO_PASSWORD
from tests.web.conftest import PASSWORD, Browser

WEAK = ["12345678", "password", "123456789012", "password1234", "Password2024!", "qwertyuiop123",
        "aaaaaaaaaaaaaa", "abcdefghijkl", "iloveyou!!!!!"]  # fmt: skip
STRONG = ["retento-demo", "ledger-Sesame-42", "correct horse battery", "Tr0ub4dor&3x-staple"]


@pytest.mark.parametrize("pw", WEAK)
def test_weak_passwords_are_refused(pw):
    assert password_problem(pw) is not None


@pytest.mark.parametrize("pw", STRONG)
def test_reasonable_passwords_pass(pw):
    assert password_problem(pw) is None


def test_policy_details():
    assert MIN_LENGTH == 12
    assert len(common_passwords()) > 10_000  # the shipped list (auth/data/)
    assert password_problem("Zebra-7-ok!") == "Use at least 12 characters."
    assert password_problem("98765432101234") == "Use more than digits."
    assert password_problem("x" * 201 + "yzw") == "Use at most 200 characters."
    assert (
        password_problem("alice-in-chains", "Alice") == "Do not put the username in the password."
    )


def test_demo_password_meets_the_policy():
    assert DEMO_PASSWORD == "retento-demo" and password_problem(DEMO_PASSWORD) is None


@pytest.mark.parametrize("pw", ["12345678", "password", "password1234", "123456789012345"])
def test_api_refuses_weak_passwords_and_does_not_echo_them(client, tokens, pw):
    r = client.post(
        "/api/v1/users",
        json={"username": "newbie", "password": pw, "role": "agent"},
        headers=tokens["admin"],
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "password"
    assert all("value" not in e for e in r.json().get("errors", []))
    assert pw not in r.text.replace('"password"', "").replace("password:", "")


def test_api_password_change_follows_the_policy(client, tokens, users):
    url = f"/api/v1/users/{users['agent'].id}"
    body = {"current_password": PASSWORD}
    r = client.patch(url, json={**body, "password": "password1234"}, headers=tokens["agent"])
    assert r.status_code == 422 and r.json()["field"] == "password"
    assert "password1234" not in r.text
    r = client.patch(url, json={**body, "password": "quiet-Harbour-77"}, headers=tokens["agent"])
    assert r.status_code == 200


def test_web_create_and_reset_show_the_policy_message(web, users, db):
    web.login("admin")
    r = web.post(
        "/admin/users/new",
        {"username": "newbie", "password": "password1234", "role": "agent", "locale": "en"},
    )
    assert r.status_code == 422
    assert "This password is too common" in r.text
    assert "password1234" not in r.text
    r = web.post(f"/admin/users/{users['agent'].id}/password", {"password": "qwertyuiop123"})
    assert r.status_code == 422 and "This password is too common" in r.text
    db.refresh(users["agent"])
    assert not verify_password(users["agent"].password_hash, "qwertyuiop123")


def test_web_policy_message_in_chinese(app, client, users, db):
    users["admin"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("admin")
    r = web.post(f"/admin/users/{users['agent'].id}/password", {"password": "password1234"})
    assert r.status_code == 422 and "这个密码太常见" in r.text


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    from retento.core.config import get_settings
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_cli_create_and_password_follow_the_policy(cli_db):
    from retento.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["user", "create", "boss", "--role", "admin", "--password", "12345678"])
    assert r.exit_code == 1 and "password" in r.output
    r = runner.invoke(
        app, ["user", "create", "boss", "--role", "admin", "--password", "password1234"]
    )
    assert r.exit_code == 1 and "too common" in r.output
    r = runner.invoke(
        app, ["user", "create", "boss", "--role", "admin", "--password", "ledger-Sesame-42"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "password", "boss", "--password", "password"])
    assert r.exit_code == 1
    r = runner.invoke(app, ["user", "password", "boss", "--password", "quiet-Harbour-77"])
    assert r.exit_code == 0 and "changed" in r.output
    r = runner.invoke(app, ["user", "logout", "boss"])
    assert r.exit_code == 0 and "Ended 0 open session(s)" in " ".join(r.output.split())


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_cli_asks_for_the_password_when_it_is_not_given(cli_db, lang):
    """The deployment guide's first admin: ``retento user create admin --role admin`` asks for
    the password twice (not echoed; an argument shows in ``ps`` and the shell's history)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from retento.auth.models import User
    from retento.cli import app

    runner = CliRunner()
    asked = {"en": ("Password:", "Repeat the password:"), "zh_CN": ("密码:", "再次输入密码:")}
    pw, new = "ledger-Sesame-42", "quiet-Harbour-77"
    r = runner.invoke(app, ["--lang", lang, "user", "create", "boss", "--role", "admin"],
                      input=f"{pw}\n{pw}\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert all(q in r.output for q in asked[lang]) and pw not in r.output
    r = runner.invoke(app, ["--lang", lang, "user", "password", "boss"], input=f"{new}\nother\n")
    said = {"en": "The two passwords differ.", "zh_CN": "两次输入的密码不一致。"}[lang]
    assert r.exit_code == 1 and said in r.output and new not in r.output
    r = runner.invoke(app, ["--lang", lang, "user", "password", "boss"], input=f"{new}\n{new}\n")
    assert r.exit_code == 0, r.output
    engine = create_engine(cli_db)
    with Session(engine) as s:
        boss = s.scalar(select(User).where(User.username == "boss"))
        assert boss.role == "admin" and verify_password(boss.password_hash, new)
    engine.dispose()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x", "password": "hunter2-secret", "role": "agent"},  # username too short
        {"username": "newbie", "password": "hunter2-secret", "role": "boss"},  # bad role
        {"username": "newbie", "password": ["hunter2-secret"], "role": "agent"},
    ],
)
def test_422_bodies_never_echo_a_password(client, tokens, body):
    r = client.post("/api/v1/users", json=body, headers=tokens["admin"])
    assert r.status_code == 422
    assert "hunter2-secret" not in r.text


def test_422_keeps_echoing_ordinary_values(client, tokens):
    r = client.post(
        "/api/v1/users",
        json={"username": "newbie", "password": "hunter2-secret-x", "role": "the boss"},
        headers=tokens["admin"],
    )
    assert r.status_code == 422
    # (a role name has no spaces; "boss" alone would be a custom role that does not exist)
    assert any(e.get("value") == "the boss" for e in r.json()["errors"])
