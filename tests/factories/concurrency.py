"""Run the same call from N threads released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_parallel(n: int, fn: Callable[[int], Any], *, timeout: float = 60.0) -> list[Any]:
    """Call ``fn(i)`` for i in 0..n-1, each in its own thread, all starting at once.

    Returns the results in order; an exception raised by a call is returned in its place (so a
    test can assert on the mix of successes and failures).
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout)
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if any(t.is_alive() for t in threads):
        raise TimeoutError(f"{sum(t.is_alive() for t in threads)} threads still running")
    return results
