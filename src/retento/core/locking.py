"""Row locks for read-then-write work (DESIGN.md "Concurrency")."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

T = TypeVar("T")


IN_TRANSACTION_COUNTERS = "retento.in_transaction_counters"
"""``session.info`` key: counters that are normally reserved in a short transaction of their own
(``retention.playbook_apply.reserve_seq``) are taken in the session's own transaction instead.
For a unit of work that writes a whole data set alone and may have changed the counters itself
(the demo's reset and generation): a second connection would wait for its own locks."""


def lock_row(session: Session, model: type[T], key: Any) -> T | None:
    """``SELECT ... FOR UPDATE`` the row of ``model`` with primary key ``key`` and return it fresh.

    Held until the transaction ends, so a second writer waits here and then reads what the first
    committed. ``populate_existing`` overwrites an object already in the session (loaded before
    the lock, possibly stale) and resets its lazy collections, so they reload under the lock.
    SQLite has no row locks; it serialises writers on the whole database instead.

    On PostgreSQL the lock is ``FOR NO KEY UPDATE`` (what an ``UPDATE`` of the row takes): it
    serialises writers of the row but lets other transactions insert rows that reference it
    (their foreign-key check takes ``KEY SHARE``), so an insert elsewhere neither waits for the
    lock holder nor deadlocks with it. Lock the row *first*, before reading what the decision
    depends on, and never lock a row many requests share (a user, a token).
    """
    pk = model.__mapper__.primary_key  # type: ignore[attr-defined]
    if len(pk) != 1:
        raise TypeError(
            f"lock_row needs a single-column primary key; {model.__name__} has {len(pk)}"
        )
    stmt = (
        select(model)
        .where(pk[0] == key)
        # OF the model's table: eager joins (LEFT OUTER JOIN) may not be locked on PostgreSQL.
        .with_for_update(key_share=True, of=model)
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


def key_share_row(session: Session, model: type[T], key: Any) -> T | None:
    """``SELECT ... FOR KEY SHARE`` the row of ``model`` with primary key ``key``: keep it from
    being deleted (or its key changed) until the transaction ends, without making anyone else
    wait. It is the lock a foreign-key check takes; take it first when the rows this
    transaction will insert under a shared parent (a playbook) decide whether a delete of the
    parent is allowed. Updates (``NO KEY UPDATE``, ``lock_row``) and other key-share readers
    proceed; a ``FOR UPDATE`` or ``DELETE`` waits. SQLite ignores it.
    """
    pk = model.__mapper__.primary_key  # type: ignore[attr-defined]
    stmt = select(model).where(pk[0] == key).with_for_update(read=True, key_share=True, of=model)
    return session.scalars(stmt).one_or_none()


def lock_each(stmt: Select[Any], *, skip_locked: bool = False) -> Select[Any]:
    """The rows of ``stmt`` locked like ``lock_row`` (``FOR NO KEY UPDATE``), fresh from the table.

    ``skip_locked`` leaves out rows another transaction holds: for jobs that run in several
    processes, so two passes never take the same row (the other pass handles it, or the next
    tick does).
    """
    entity = stmt.column_descriptions[0]["entity"]
    return stmt.with_for_update(
        key_share=True, skip_locked=skip_locked, of=entity
    ).execution_options(populate_existing=True)
