"""A bearer call records its token's last use without ever waiting: before, the write sat in the
request's transaction, so a long import made with the same token held the row and every other
call with it waited (16.8 s measured; 16 of them exhausted the pool and /healthz waited 24 s)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import create_engine, select, text, update

from retento.auth.models import ApiToken
from retento.auth.service import issue_token
from retento.core.db import utcnow
from tests.factories import make_user
from tests.factories.concurrency import run_parallel


def _token(live_pg) -> tuple[int, dict]:
    with live_pg.session() as s:
        user = make_user(s, username="importer", role="admin")
        token, plain = issue_token(s, user, name="etl", actor=None)
        s.commit()
        return token.id, {"Authorization": f"Bearer {plain}"}


def test_bearer_call_answers_while_another_transaction_holds_the_token_row(live_pg):
    token_id, auth = _token(live_pg)
    holder = live_pg.engine.connect()
    tx = holder.begin()
    holder.execute(text("SELECT id FROM api_tokens WHERE id = :id FOR UPDATE"), {"id": token_id})
    try:
        with live_pg.client() as c:
            assert c.get("/healthz").status_code == 200  # the app's first-request costs
            started = time.perf_counter()
            r = c.get("/api/v1/me", headers=auth)
            elapsed = time.perf_counter() - started
            assert r.status_code == 200 and r.json()["username"] == "importer"
            # Waiting for the row would last the lock timeout (RETENTO_DB_LOCK_TIMEOUT_MS,
            # 10 s) and then answer 503; a bound at half of it stays clear of a busy machine
            # (a CI run under load once took 1.55 s for this first call).
            assert elapsed < 5.0, f"waited {elapsed:.2f} s for a locked token row"
            # Writes with the same token go through too.
            r = c.post(
                "/api/v1/customers",
                json={"name": "During import", "party_type": "person", "kind": "consumer"},
                headers=auth,
            )
            assert r.status_code == 201, r.text
    finally:
        tx.rollback()
        holder.close()
    with live_pg.session() as s:
        # The locked row was skipped, not waited for: the next call records the use.
        assert s.get(ApiToken, token_id).last_used_at is None
    with live_pg.client() as c:
        assert c.get("/api/v1/me", headers=auth).status_code == 200
    with live_pg.session() as s:
        assert s.get(ApiToken, token_id).last_used_at is not None


def test_many_parallel_calls_with_one_token_while_it_is_locked(live_pg):
    token_id, auth = _token(live_pg)
    holder = live_pg.engine.connect()
    tx = holder.begin()
    holder.execute(text("SELECT id FROM api_tokens WHERE id = :id FOR UPDATE"), {"id": token_id})
    try:

        def call(_i: int) -> tuple[int, float]:
            with live_pg.client() as c:
                t = time.perf_counter()
                r = c.get("/api/v1/me", headers=auth)
                return r.status_code, time.perf_counter() - t

        results = run_parallel(16, call)
        with live_pg.client() as c:
            t = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            assert time.perf_counter() - t < 5.0  # the pool was exhausted: 24 s measured
    finally:
        tx.rollback()
        holder.close()
    assert [code for code, _ in results] == [200] * 16
    assert max(s for _, s in results) < 5.0, results


def test_last_use_is_written_at_most_once_a_minute(live_pg):
    token_id, auth = _token(live_pg)
    with live_pg.client() as c:
        assert c.get("/api/v1/me", headers=auth).status_code == 200
        with live_pg.session() as s:
            first = s.get(ApiToken, token_id).last_used_at
        assert first is not None
        for _ in range(5):
            assert c.get("/api/v1/me", headers=auth).status_code == 200
        with live_pg.session() as s:
            assert s.get(ApiToken, token_id).last_used_at == first
            # A minute later the next call writes again.
            s.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id)
                .values(last_used_at=utcnow() - timedelta(minutes=2))
            )
            s.commit()
        assert c.get("/api/v1/me", headers=auth).status_code == 200
        with live_pg.session() as s:
            assert s.get(ApiToken, token_id).last_used_at > first - timedelta(seconds=1)


def test_sqlite_write_lock_does_not_stall_bearer_calls(tmp_path):
    """SQLite: another connection holding the write lock (an import) makes the last-use write
    give up at once instead of waiting out the 30 s busy timeout."""
    from fastapi.testclient import TestClient

    from retento.app import create_app
    from retento.core.config import Settings
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'lock.db'}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        user = make_user(s, username="importer", role="admin")
        _, plain = issue_token(s, user, name="etl", actor=None)
    app = create_app(Settings(database_url=url, run_scheduler=False, secret_key="t" * 32))
    locker = create_engine(url, connect_args={"timeout": 0}).connect()
    locker.exec_driver_sql("BEGIN IMMEDIATE")  # holds the database's write lock
    try:
        with TestClient(app) as c:
            assert c.get("/healthz").status_code == 200  # the app's first-request costs
            t = time.perf_counter()
            r = c.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"})
            assert r.status_code == 200
            # Waiting for the write lock would last SQLite's busy timeout (30 s).
            assert time.perf_counter() - t < 5.0
    finally:
        locker.exec_driver_sql("ROLLBACK")
        locker.close()
        engine.dispose()
    check = make_engine(url)
    with check.connect() as conn:
        assert conn.execute(select(ApiToken.last_used_at)).scalar() is None  # skipped, not waited
    check.dispose()
