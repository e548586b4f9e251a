"""The pool hands out only live PostgreSQL connections, without a ``SELECT 1`` per checkout: a
pooled connection whose backend went away (a PostgreSQL restart, ``pg_terminate_backend``, an
idle timeout) is replaced at checkout, so the next request does not fail."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL
from tests.factories import make_user


def _terminate_backends(database: str) -> int:
    """End every backend connected to ``database`` (what a restart does to the pool)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).all()
            )
    finally:
        admin.dispose()


def _count_pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real(c))
    return pings


def test_a_checkout_costs_no_round_trip(live_pg, monkeypatch):
    pings = _count_pings(live_pg.engine, monkeypatch)
    pids = set()
    for _ in range(5):
        with live_pg.engine.connect() as conn:
            pids.add(conn.execute(text("SELECT pg_backend_pid()")).scalar())
    assert len(pids) == 1  # the pooled connection was reused ...
    assert pings == []  # ... and not pinged (pool_pre_ping did on every checkout)


def test_connections_ended_by_the_server_are_replaced_at_checkout(live_pg, monkeypatch):
    with live_pg.session() as s:
        make_user(s, username="agent1", role="agent")
        s.commit()
    engine = live_pg.engine
    # Fill the pool with a few idle connections.
    conns = [engine.connect() for _ in range(3)]
    before = {c.execute(text("SELECT pg_backend_pid()")).scalar() for c in conns}
    for c in conns:
        c.close()
    database = engine.url.database
    assert _terminate_backends(database) >= 3
    time.sleep(0.2)  # the goodbye reaches the sockets
    pings = _count_pings(engine, monkeypatch)
    for _ in range(5):  # every pooled connection was dead: each checkout replaces one
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            assert pid not in before
    assert 1 <= len(pings) <= 3  # only the connections the server had said goodbye on


def test_a_request_after_the_database_dropped_every_connection(live_pg):
    from retento.auth.service import issue_token

    with live_pg.session() as s:
        admin = make_user(s, username="boss", role="admin")
        _row, plain = issue_token(s, admin, name="t", actor=None)
        s.commit()
    auth = {"Authorization": f"Bearer {plain}"}
    with live_pg.client() as c:
        for _ in range(3):
            assert c.get("/api/v1/me", headers=auth).status_code == 200
        assert _terminate_backends(live_pg.app.state.engine.url.database) >= 1
        time.sleep(0.2)
        for _ in range(5):
            r = c.get("/api/v1/me", headers=auth)
            assert r.status_code == 200, r.text


def test_the_pool_keeps_as_many_connections_as_configured(live_pg):
    """``RETENTO_DB_POOL_SIZE`` connections stay open between bursts: a second burst of that
    many concurrent requests reuses the same backends (SQLAlchemy's default kept only 5, so
    a web process under load opened and closed connections all the time); a burst past
    ``RETENTO_DB_MAX_OVERFLOW`` more waits for the pool instead of opening one."""
    from retento.app import create_app
    from retento.core.config import Settings

    app = create_app(
        Settings(
            database_url=live_pg.url,
            run_scheduler=False,
            secret_key="test-" + "x" * 32,
            db_pool_size=8,
            db_max_overflow=1,
        )
    )
    engine = app.state.engine
    try:

        def burst(n: int) -> set[int]:
            conns = [engine.connect() for _ in range(n)]
            try:
                return {c.execute(text("SELECT pg_backend_pid()")).scalar() for c in conns}
            finally:
                for c in conns:
                    c.close()

        first = burst(8)
        assert len(first) == 8
        assert burst(8) == first  # all eight kept open and reused
        assert engine.pool.size() == 8 and engine.pool._max_overflow == 1
    finally:
        engine.dispose()
