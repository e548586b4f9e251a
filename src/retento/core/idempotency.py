"""Records made once per idempotency key: what a retried or double-clicked create does.

A table whose rows a client may create twice by retrying (orders, complaints, customers,
touchpoints, experience records, products) has a nullable ``idempotency_key`` column with a
unique index. A create with a key first looks for the row recorded with it (:func:`keyed_row`);
if there is none it inserts in a savepoint (:func:`insert_keyed`), and when another request
with the same key won the unique index meanwhile, the loser rolls back only its savepoint and
answers with the winner's row. The same key with other details (another customer, another
subject: a page sent back after Back with something new typed in) is a 409 naming
``Idempotency-Key``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.core.errors import Conflict, Msg

KEY_REUSED = Msg("This form was already sent with other details; check them and send it again.")

T = TypeVar("T")


def keyed_row(session: Session, model: type[T], key: str, same: Callable[[T], bool]) -> T | None:
    """The ``model`` row recorded with ``key``, or None; 409 (``Idempotency-Key``) when that
    row was recorded for other details than this request's (``same(row)`` is false)."""
    done = session.scalar(select(model).where(model.idempotency_key == key))  # type: ignore[attr-defined]
    if done is not None and not same(done):
        raise Conflict(KEY_REUSED, field="Idempotency-Key")
    return done


def insert_keyed(
    session: Session,
    row: T,
    key: str | None,
    same: Callable[[T], bool],
    prepare: Callable[[], Any] | None = None,
) -> tuple[T, bool]:
    """Add ``row`` (its ``idempotency_key`` already set to ``key``) and flush it in a savepoint.

    Returns ``(row, True)``, or ``(the row another request recorded with key, False)`` when
    that request won the unique index first. ``prepare`` runs inside the savepoint after the
    row is added (computing what needs the row in the session). Any other integrity error is
    raised, with only the savepoint rolled back.
    """
    try:
        with session.begin_nested():  # flushes what is pending first: the row is added inside
            session.add(row)
            if prepare is not None:
                prepare()
            session.flush()
    except IntegrityError:
        if key and (done := keyed_row(session, type(row), key, same)) is not None:
            return done, False
        raise
    return row, True
