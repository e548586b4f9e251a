"""A tiny in-process event registry so a lower layer can notify a higher one without importing it.

The orders service calls ``emit("order.created", session, order=..., actor=...)``; the loyalty
domain subscribes in ``retento/loyalty/__init__.py``. Subscribers run inside the caller's
transaction (they flush, never commit), so the order and its points commit or roll back together.

Events: ``order.created`` (order, actor), ``orders.imported`` (order_ids, actor),
``order.refunded`` (order, refund, actor), ``order.cancelled`` (order, actor: the status became
cancelled), ``order.changed`` (order, actor: lines or discount changed the revenue, down or up),
``orders.updated`` (order_ids, actor: a file import changed existing orders),
``complaint.remedy`` (remedy, complaint, actor), ``survey.answered`` (response, actor: once per
completed response on every completion path; subscribers must be idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Subscriber = Callable[..., Any]

_SUBSCRIBERS: dict[str, list[Subscriber]] = {}


def subscribe(event: str, fn: Subscriber) -> None:
    """Call ``fn(session, **payload)`` on every ``emit(event, ...)`` (once per function)."""
    subs = _SUBSCRIBERS.setdefault(event, [])
    if fn not in subs:
        subs.append(fn)


def emit(event: str, session: Session, **payload: Any) -> None:
    """Run the subscribers of ``event`` in the caller's transaction."""
    for fn in list(_SUBSCRIBERS.get(event, ())):
        fn(session, **payload)
