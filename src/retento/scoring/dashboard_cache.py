"""The value dashboard's charts and tables, built once per scoring run and reused on every view.

A successful run never changes after it is stored (its report and its score rows are written
in the same transaction that marks it succeeded), so the dashboard of run N in language L with
filters F is the same on every view: it is built on the first view and kept here, keyed by
``(run id, language, filters)``. A new scoring run has a new id, so the default page (the latest
run) shows it on the next view — there is nothing to invalidate. A filter on the period reads
orders, which do change: its key also carries the highest order id, so a new order shows at the
next view. Each process keeps its own cache; ``MAX_ENTRIES`` bounds it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_ENTRIES = 48

_lock = threading.Lock()
_store: OrderedDict[Hashable, Any] = OrderedDict()
stats = {"hits": 0, "misses": 0}


def cached(key: Hashable, compute: Callable[[], Any]) -> Any:
    """The value stored under ``key``, else ``compute()`` stored under it."""
    with _lock:
        if key in _store:
            _store.move_to_end(key)
            stats["hits"] += 1
            return _store[key]
    value = compute()
    with _lock:
        stats["misses"] += 1
        _store[key] = value
        _store.move_to_end(key)
        while len(_store) > MAX_ENTRIES:
            _store.popitem(last=False)
    return value


def run_ids() -> set[int]:
    """The runs with something stored (tests)."""
    with _lock:
        return {k[0] for k in _store if isinstance(k, tuple) and k and isinstance(k[0], int)}


def clear() -> None:
    """Forget everything (tests, benchmarks)."""
    with _lock:
        _store.clear()
