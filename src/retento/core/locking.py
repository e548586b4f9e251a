"""Row locks for read-then-write work (DESIGN.md "Concurrency")."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

T = TypeVar("T")


def lock_row(session: Session, model: type[T], key: Any) -> T | None:
    """``SELECT ... FOR UPDATE`` the row of ``model`` with primary key ``key`` and return it fresh.

    Held until the transaction ends, so a second writer waits here and then reads what the first
    committed. ``populate_existing`` overwrites an object already in the session (loaded before
    the lock, possibly stale) and resets its lazy collections, so they reload under the lock.
    SQLite has no row locks; it serialises writers on the whole database instead.
    """
    pk = model.__mapper__.primary_key  # type: ignore[attr-defined]
    if len(pk) != 1:
        raise TypeError(
            f"lock_row needs a single-column primary key; {model.__name__} has {len(pk)}"
        )
    stmt = (
        select(model)
        .where(pk[0] == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()
