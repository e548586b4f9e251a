"""`retento demo` keeps a login that existed before it (the administrator's own ``admin``) and
then says so: it printed ``admin / retento-demo`` for every demo name, a password that did not
open the existing account."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from retento.auth.models import User
from retento.auth.schemas import UserCreate
from retento.auth.security import verify_password
from retento.auth.service import create_user
from retento.demo import generator
from retento.demo.cli import demo_logins

OWN_PASSWORD = "ledger-Sesame-42"


def _user(session, name: str, role: str, *, active: bool = True) -> User:
    u = create_user(
        session, UserCreate(username=name, password=OWN_PASSWORD, role=role), actor=None
    )
    u.is_active = active
    session.flush()
    return u


def test_demo_logins_tell_the_demo_password_from_a_kept_one(db):
    # The ``users`` fixture is not used: it makes "admin", "manager", "agent" of its own.
    assert demo_logins(db) == []
    _user(db, "admin", "admin")
    _user(db, "analyst", "analyst", active=False)
    ctx = generator.DemoContext(n_customers=0, seed=1, today=date(2026, 6, 1), progress=print)
    generator.step_users(db, None, ctx)
    db.flush()
    assert demo_logins(db) == [
        ("admin", "admin", "kept"),
        ("manager", "manager", "demo"),
        ("agent", "agent", "demo"),
        ("agent2", "agent", "demo"),
        ("analyst", "analyst", "inactive"),
    ]
    admin = db.scalar(select(User).where(User.username == "admin"))
    assert verify_password(admin.password_hash, OWN_PASSWORD)  # never changed by the demo


def _run(args: list[str], lang: str) -> str:
    from retento.cli import app

    r = CliRunner().invoke(app, args, env={"RETENTO_LANG": lang})
    assert r.exit_code == 0, r.output
    return " ".join(r.output.split())


@pytest.mark.parametrize(
    ("lang", "kept", "header"),
    [
        (
            "en",
            "admin existed already and was kept: log in with its own password (admin)",
            "log in as:",
        ),
        ("zh_CN", "admin 此用户原已存在并予以保留：请用其原有密码登录 (admin)", "以下列身份登录："),
    ],
)
def test_the_command_keeps_an_existing_admin_and_prints_no_wrong_password(
    cli_url, monkeypatch, lang, kept, header
):
    from retento.core.db import make_engine, make_session_factory

    engine = make_engine(cli_url)
    try:
        with make_session_factory(engine)() as s:
            _user(s, "admin", "admin")
            s.commit()
    finally:
        engine.dispose()
    # The demo's own steps only (customers, orders ...): the logins are what is checked here.
    monkeypatch.setattr(generator, "domain_steps", lambda: [])
    out = _run(["demo", "--customers", "20", "--seed", "3"], lang)
    assert header in out and kept in out
    assert "admin / retento-demo" not in out
    assert "manager / retento-demo (manager)" in out and "agent2 / retento-demo (agent)" in out
    # Run again with --if-empty: nothing generated, the same logins told the same way.
    out = _run(["demo", "--customers", "20", "--if-empty"], lang)
    assert kept in out and "admin / retento-demo" not in out
    assert "manager / retento-demo (manager)" in out
    engine = make_engine(cli_url)
    try:
        with make_session_factory(engine)() as s:
            admin = s.scalar(select(User).where(User.username == "admin"))
            assert verify_password(admin.password_hash, OWN_PASSWORD)
    finally:
        engine.dispose()


def test_no_demo_login_at_all_is_said_too(cli_url, monkeypatch):
    from retento.core.db import make_engine, make_session_factory
    from tests.factories import make_customer

    engine = make_engine(cli_url)
    try:
        with make_session_factory(engine)() as s:
            make_customer(s, name="Real Data Only")
            s.commit()
    finally:
        engine.dispose()
    out = _run(["demo", "--if-empty"], "en")
    assert "No demo login exists in this database: log in with your own account." in out
    assert "retento-demo" not in out
    out = _run(["demo", "--if-empty"], "zh_CN")
    assert "此数据库中没有演示登录账号：请用您自己的账号登录。" in out
