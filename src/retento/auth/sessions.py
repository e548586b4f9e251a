"""Server-side web sessions: the cookie carries a random id, the ``user_sessions`` row the rest.

A session ends when it is idle longer than ``session_max_age_seconds``, when it is older than
``session_absolute_seconds``, at logout, when the user's password changes, when the user is
deactivated, and when an administrator (or the user) logs the user out everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from retento.auth import last_use, roles
from retento.auth.models import User, UserSession
from retento.core.db import utcnow

COOKIE_KEY = "sid"  # the key inside the signed session cookie


def hash_sid(plain: str) -> str:
    # 256-bit random ids: a fast hash is enough, and a stolen table cannot be replayed.
    return hashlib.sha256(plain.encode()).hexdigest()


def start(
    session: Session,
    user: User,
    *,
    absolute_seconds: int,
    user_agent: str = "",
    ip: str = "",
) -> str:
    """Create a session row for ``user``; returns the plain id for the cookie (never stored)."""
    plain = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            sid_hash=hash_sid(plain),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=absolute_seconds),
            user_agent=user_agent[:300],
            ip=ip[:64],
        )
    )
    session.flush()
    return plain


def _live(row: Any, user_active: bool, now: datetime, idle_seconds: int) -> bool:
    """A session row (revoked, expiry and last-seen times) that is still usable."""
    return (
        row.revoked_at is None
        and user_active
        and row.expires_at > now
        and row.last_seen_at + timedelta(seconds=idle_seconds) > now
    )


@cache
def _session_user_statement() -> Any:
    """Built once: building a statement costs more CPU than running this one."""
    return (
        select(
            UserSession.id,
            UserSession.last_seen_at,
            UserSession.expires_at,
            UserSession.revoked_at,
            User,
            # The custom roles' stamp rides along: no extra query per request (auth.roles).
            roles.stamp_column(),
        )
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.sid_hash == bindparam("sid_hash", type_=UserSession.sid_hash.type))
    )


def resolve_user(
    session: Session,
    plain: str,
    *,
    idle_seconds: int,
    now: datetime | None = None,
) -> tuple[int, User] | None:
    """The live session behind a cookie id and its user, or None, read with one statement in
    the request's own ``session`` (one connection per request). A plain read takes no lock, so
    it never waits; the last use is written at most once a minute, in a short transaction of its
    own that never waits on a lock (:func:`last_use.touch_apart`). Returns ``(session row id, user)``."""
    now = now or utcnow()
    row = session.execute(_session_user_statement(), {"sid_hash": hash_sid(plain)}).first()
    if row is None or not _live(row, row.User.is_active, now, idle_seconds):
        return None
    roles.seen(session, row.role_stamp)
    if last_use.is_stale(row.last_seen_at, now):
        last_use.touch_apart(session, UserSession, "last_seen_at", row.id, now)
    return row.id, row.User


def revoke(session: Session, plain: str) -> None:
    """End the session behind a cookie id (logout)."""
    session.execute(
        update(UserSession)
        .where(UserSession.sid_hash == hash_sid(plain), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user_id: int) -> int:
    """End every open session of a user; returns how many were open."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0


def open_sessions(session: Session, user_id: int, *, idle_seconds: int) -> list[UserSession]:
    """A user's sessions that are neither revoked nor expired, newest first."""
    now = utcnow()
    rows = session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            UserSession.last_seen_at > now - timedelta(seconds=idle_seconds),
        )
        .order_by(UserSession.last_seen_at.desc())
    )
    return list(rows)
