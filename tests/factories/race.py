"""Helpers for concurrency tests on ``live_pg``: one bearer token and one client per thread."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

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
