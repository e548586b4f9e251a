"""Changing one's own password on My account (or on one's own admin user page) on a real
database, with real commits and a connection per unit of work.

QA: on the demo (SQLite) "Change password" waited 30 s and answered 503 "The record is being
changed in another request": the request's transaction had written the new hash and ended the
user's sessions (holding SQLite's write lock; on PostgreSQL, the rows of those sessions), then
the browser's fresh session was started in a transaction of its own, which waited for the
request's locks until the busy or lock timeout. The test ``client`` shares one connection
between all sessions, so it could not show it.
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from retento.app import create_app
from retento.auth import service
from retento.auth.models import User, UserSession
from retento.core.config import Settings
from retento.core.db import make_engine, make_session_factory, transaction
from retento.core.migrate import upgrade
from tests.factories import make_user
from tests.web.conftest import PASSWORD, Browser

NEW = "amber-Kettle-1999-x"


def _change_own_password(app, factory, url_of_form: str, username: str) -> None:
    with TestClient(app) as c:
        web = Browser(c)
        assert web.login(username).status_code == 303
        other = Browser(TestClient(app))
        assert other.login(username).status_code == 303  # a second browser, to be logged out
        t = time.perf_counter()
        r = web.post(url_of_form, {"current_password": PASSWORD, "password": NEW})
        assert r.status_code == 303, r.text[:500]
        assert time.perf_counter() - t < 5.0  # no wait for a lock the request holds itself
        assert web.get("/account").status_code == 200  # this browser has a fresh session
        assert other.get("/account", follow_redirects=False).status_code in (302, 303)
    with factory() as s:
        assert service.authenticate(s, username, NEW) is not None
        user_id = s.scalar(select(User.id).where(User.username == username))
        live = s.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        )
        assert live == 1  # only the fresh one


def _users(factory) -> None:
    with transaction(factory) as s:
        make_user(s, username="agent", role="agent", password=PASSWORD)
        make_user(s, username="admin", role="admin", password=PASSWORD)


def test_own_password_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'own-password.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    _users(factory)
    app = create_app(Settings(database_url=url, run_scheduler=False, secret_key="t" * 32))
    try:
        _change_own_password(app, factory, "/account/password", "agent")
        admin_id = _id(factory, "admin")
        _change_own_password(app, factory, f"/admin/users/{admin_id}/password", "admin")
    finally:
        app.state.engine.dispose()
        engine.dispose()


def test_own_password_on_postgresql(live_pg):
    _users(live_pg.session_factory)
    _change_own_password(live_pg.app, live_pg.session_factory, "/account/password", "agent")
    admin_id = _id(live_pg.session_factory, "admin")
    _change_own_password(
        live_pg.app, live_pg.session_factory, f"/admin/users/{admin_id}/password", "admin"
    )


def _id(factory, username: str) -> int:
    with factory() as s:
        return s.scalar(select(User.id).where(User.username == username))
