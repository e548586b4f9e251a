"""Login throttling (per account and per client address, kept in the database) and equal work
for unknown users."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from retento.auth import service
from retento.auth.models import LoginThrottle
from retento.auth.security import hash_password
from retento.auth.throttle import lock_seconds
from retento.core.db import utcnow
from tests.web.conftest import PASSWORD, Browser


def test_back_off_doubles_up_to_the_maximum():
    assert [lock_seconds(n, 5, 900) for n in range(1, 16)] == [
        0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900,
    ]  # fmt: skip
    assert lock_seconds(10_000, 5, 900) == 900


@pytest.fixture
def clock(monkeypatch):
    """The login service's clock, frozen and moved by hand (``clock.now += ...``)."""

    class Clock:
        now = utcnow()

    monkeypatch.setattr(service, "utcnow", lambda: Clock.now)
    return Clock


def test_sixty_wrong_passwords_then_the_right_one_is_refused(web, db, clock):
    statuses = [web.login("agent", f"wrong-{i}").status_code for i in range(60)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}  # not even checked: no answer to learn from
    r = web.login("agent", PASSWORD)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "2"
    assert "Too many failed log-ins. Wait 2 seconds and try again." in r.text
    # Only hashes are stored: neither the username nor the address appears in the table.
    keys = db.scalars(select(LoginThrottle.key)).all()
    assert keys and all(k.startswith(("user:", "ip:")) and "agent" not in k for k in keys)


def test_each_further_failure_doubles_the_wait(web, clock):
    for i in range(5):
        assert web.login("agent", f"wrong-{i}").status_code == 401
    waits = []
    for i in range(8):
        r = web.login("agent", "still-wrong")
        assert r.status_code == 429
        waits.append(int(r.headers["Retry-After"]))
        clock.now += timedelta(seconds=waits[-1])
        assert web.login("agent", f"wrong-again-{i}").status_code == 401
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256]
    r = web.login("agent", "x-wrong")
    assert r.status_code == 429 and r.headers["Retry-After"] == "512"
    assert "Wait 9 minutes" in r.text


def test_after_the_wait_the_right_password_works_and_clears_the_count(web, db, clock):
    for i in range(5):
        assert web.login("agent", f"wrong-{i}").status_code == 401
    assert web.login("agent", PASSWORD).status_code == 429
    clock.now += timedelta(seconds=2)  # the lock runs out
    assert web.login("agent", PASSWORD).status_code == 303
    assert set(db.scalars(select(LoginThrottle.failures))) == {0}
    # The count starts again from zero: one more mistake is not locked.
    assert web.login("agent", "wrong-again").status_code == 401


def test_unknown_users_are_throttled_the_same_way(web, clock):
    codes = [web.login("nobody-here", f"guess-{i}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]


def test_one_address_guessing_many_accounts_is_throttled(app, client, db, users, clock):
    from tests.factories import make_user

    for n in range(25):
        make_user(db, username=f"staff{n}")
    db.commit()
    b = Browser(client)
    codes = [b.login(f"staff{n}", "Summer-guess-1").status_code for n in range(21)]
    # Each account saw one failure; the address saw 20, so the 21st is refused.
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_throttled_page_in_chinese(app, client, users, clock):
    b = Browser(client)
    for i in range(5):
        b.login("agent", f"wrong-{i}")
    r = client.post(
        "/login",
        data={"username": "agent", "password": PASSWORD, "csrf_token": b.token},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert "登录失败次数过多" in r.text


def test_failures_are_counted_even_when_the_request_fails(live_pg):
    """The count is written in its own committed transaction, not the request's: rolling the
    request back (as any error does) keeps it. Real connections, so PostgreSQL."""
    from retento.core.config import Settings
    from tests.factories import make_user

    with live_pg.session() as s:
        make_user(s, username="agent")
        s.commit()
    settings = Settings(secret_key="x" * 32)
    for i in range(3):
        request_session = live_pg.session()
        try:
            service.login(
                live_pg.session_factory,
                request_session,
                settings,
                "agent",
                f"bad-{i}",
                client_ip="10.0.0.9",
            )
        except Exception:
            request_session.rollback()  # the request's own work is undone
        finally:
            request_session.close()
    with live_pg.session() as s:
        assert max(s.scalars(select(LoginThrottle.failures))) == 3


def _median_seconds(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def test_unknown_and_deactivated_users_cost_as_much_as_known_ones(db, users):
    from retento.core.errors import Unauthorized

    users["analyst"].is_active = False
    # Real users' hashes have the production cost (the factory's test hash is the cheapest).
    production_hash = hash_password(PASSWORD)  # one argon2 hash, not one per user
    for role in ("agent", "analyst"):
        users[role].password_hash = production_hash
    db.flush()

    def attempt(name):
        def run():
            try:
                service.authenticate(db, name, "not-the-password")
            except Unauthorized:
                pass

        return run

    known = _median_seconds(attempt("agent"))
    unknown = _median_seconds(attempt("no-such-user"))
    inactive = _median_seconds(attempt("analyst"))
    # Before: unknown 2 ms against 218 ms known. Now both run one argon2 verification.
    assert unknown > 0.5 * known and inactive > 0.5 * known, (known, unknown, inactive)


def test_other_processes_see_the_same_lock(app, client, session_factory, users, clock):
    """A second app instance on the same database refuses the same account."""
    from retento.app import create_app
    from retento.core.config import Settings

    b = Browser(client)
    for i in range(5):
        b.login("agent", f"wrong-{i}")
    other = create_app(Settings(database_url="sqlite://", run_scheduler=False, secret_key="t2"))
    other.state.session_factory = session_factory
    b2 = Browser(TestClient(other))
    assert b2.login("agent", PASSWORD).status_code == 429
