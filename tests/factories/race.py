"""Helpers for concurrency tests on ``live_pg``: one bearer token and one client per thread."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from retento.auth.models import User
from retento.auth.service import issue_token


def bearer_headers(session, user: User, n: int) -> list[dict[str, str]]:
    """``n`` bearer headers for ``user``, one token each.

    One token per thread keeps the threads from queueing on the token row (its ``last_used_at``
    is written on every request), which would hide the race under test.
    """
    out = []
    for i in range(n):
        _, plain = issue_token(session, user, name=f"race {i}", actor=None)
        out.append({"Authorization": f"Bearer {plain}"})
    return out


def statuses(results: list[Any]) -> Counter:
    """Count the HTTP status codes returned by the threads; a raised exception fails the test."""
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise AssertionError(f"{len(errors)} threads raised; first: {errors[0]!r}") from errors[0]
    return Counter(results)


def post_each(live_pg, url: str, make_kwargs: Callable[[int], dict]) -> Callable[[int], int]:
    """A ``run_parallel`` body: thread ``i`` posts to ``url`` with its own TestClient."""

    def call(i: int) -> int:
        with live_pg.client() as client:
            return client.post(url, follow_redirects=False, **make_kwargs(i)).status_code

    return call


def until_a_lock_is_awaited(live_pg, done: threading.Event, timeout: float = 10.0) -> bool:
    """Wait until another connection to the test's database waits for a lock (True), or
    ``done`` is set or ``timeout`` passes (False): a fixed sleep may end before the waiter
    gets there."""
    deadline = time.monotonic() + timeout
    with live_pg.engine.connect() as conn:
        while not done.is_set() and time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
            conn.rollback()  # a fresh snapshot of pg_stat_activity on the next read
            if waiting:
                return True
            time.sleep(0.01)
    return False
