"""Record when a token or web session was last used, without ever making a request wait.

The write runs in its own short transaction (never the request's), at most once a minute per
row, and gives up instead of waiting when the row or the database is locked: on PostgreSQL the
row is claimed with ``FOR UPDATE SKIP LOCKED`` (plus a short ``lock_timeout``), on SQLite the
connection's busy timeout is set to zero for the statement.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger("retento.auth")

# A last-use time is a hint for administrators ("used today"), not an audit record.
RESOLUTION = timedelta(minutes=1)
SQLITE_BUSY_TIMEOUT_MS = 30_000  # what core.db.make_engine configures (timeout=30)


def is_stale(last: datetime | None, now: datetime) -> bool:
    """True when ``last`` is old enough to be worth writing again."""
    return last is None or last < now - RESOLUTION


def touch(session: Session, model: Any, column: str, row_id: int, now: datetime) -> bool:
    """Set ``model.<column> = now`` for ``row_id`` unless it is recent or locked; commits.

    ``session`` must have no transaction of its own going (a fresh one, or one just ended).
    Returns True when the row was written; False when it was recent, locked by someone else or the database was busy.
    """
    col = getattr(model, column)
    recent = or_(col.is_(None), col < now - RESOLUTION)
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    raw = conn.connection.dbapi_connection if dialect == "sqlite" else None
    written = False
    try:
        if dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
            claimed = (
                select(model.id)
                .where(model.id == row_id, recent)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            result = session.execute(update(model).where(model.id == claimed).values({column: now}))
        else:
            if raw is not None:
                raw.execute("PRAGMA busy_timeout = 0")
            result = session.execute(
                update(model).where(model.id == row_id, recent).values({column: now})
            )
        written = bool(result.rowcount)
        session.commit()
    except DBAPIError as exc:  # locked or busy: the next request will try again
        log.debug("last-use update of %s %s skipped: %s", model.__tablename__, row_id, exc)
        session.rollback()
        written = False
    finally:
        if raw is not None:  # the connection goes back to the pool: restore its patience
            raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return written


def touch_apart(
    request_session: Session, model: Any, column: str, row_id: int, now: datetime
) -> bool:
    """:func:`touch` for a row the request read in its own session (the token or session lookup
    is the request's first statement: one connection per request), in a short transaction of its
    own on the same connection, committed before the request goes on.

    The request's read transaction is ended first (rolled back: it has only read the lookup, and
    the user it loaded reloads on first use): on SQLite its snapshot would be older than this
    write and its own first write would fail at once (``SQLITE_BUSY_SNAPSHOT``); everywhere, the
    request's later work must not share a transaction with this write. Never a second pooled
    connection: a burst of requests holding one each and waiting for another would empty the
    pool and wait on each other.
    """
    request_session.rollback()
    return touch(request_session, model, column, row_id, now)
