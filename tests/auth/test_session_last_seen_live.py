"""A page request reads its web session and user in its own unit of work (one connection) and
records the session's last use at most once a minute, apart, without waiting on a lock."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, text, update

from retento.auth.models import UserSession
from retento.core.db import utcnow
from tests.factories import make_user
from tests.web.conftest import PASSWORD, Browser


def _logged_in(live_pg, c) -> int:
    with live_pg.session() as s:
        make_user(s, username="agent7", role="agent")
        s.commit()
    web = Browser(c)
    assert web.login("agent7", PASSWORD).status_code == 303
    with live_pg.session() as s:
        return s.scalar(select(UserSession.id).order_by(UserSession.id.desc()))


def _last_seen(live_pg, sid: int):
    with live_pg.session() as s:
        return s.get(UserSession, sid).last_seen_at


def _age(live_pg, sid: int, minutes: int) -> None:
    with live_pg.session() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.id == sid)
            .values(last_seen_at=utcnow() - timedelta(minutes=minutes))
        )
        s.commit()


def test_last_seen_is_written_apart_at_most_once_a_minute(live_pg):
    with live_pg.client() as c:
        sid = _logged_in(live_pg, c)
        first = _last_seen(live_pg, sid)
        for _ in range(3):
            assert c.get("/customers").status_code == 200
        assert _last_seen(live_pg, sid) == first  # recent: not written again
        _age(live_pg, sid, 2)
        aged = _last_seen(live_pg, sid)
        assert c.get("/customers").status_code == 200
        assert _last_seen(live_pg, sid) > aged + timedelta(seconds=60)


def test_a_locked_session_row_neither_stalls_the_page_nor_is_waited_for(live_pg):
    with live_pg.client() as c:
        sid = _logged_in(live_pg, c)
        _age(live_pg, sid, 2)
        aged = _last_seen(live_pg, sid)
        holder = live_pg.engine.connect()
        tx = holder.begin()
        holder.execute(text("SELECT id FROM user_sessions WHERE id = :id FOR UPDATE"), {"id": sid})
        try:
            t = time.perf_counter()
            assert c.get("/customers").status_code == 200
            # Waiting for the row would last the lock timeout (10 s), then answer 503.
            assert time.perf_counter() - t < 5.0
        finally:
            tx.rollback()
            holder.close()
        assert _last_seen(live_pg, sid) == aged  # skipped, not waited for
        assert c.get("/customers").status_code == 200
        assert _last_seen(live_pg, sid) > aged


def test_an_idle_expired_session_is_refused(live_pg):
    with live_pg.client() as c:
        sid = _logged_in(live_pg, c)
        _age(live_pg, sid, 60 * 24 * 30)
        r = c.get("/customers", follow_redirects=False)
        assert r.status_code in (302, 303, 401) and r.status_code != 200
