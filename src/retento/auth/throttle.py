"""Login throttling: exponential back-off per account and per client address, kept in the
database so every process of an installation shares it (table ``login_throttle``).

After ``free`` consecutive failures a key is locked for 2 s, then 4 s, 8 s, ... up to
``login_lockout_max_seconds``; a successful log-in clears the account's and the address's
counters; failures are forgotten after a day without any.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from retento.auth.models import LoginThrottle
from retento.core.errors import Msg, RetentoError

FORGET_AFTER = timedelta(days=1)


class LoginThrottled(RetentoError):
    """Too many failed log-ins for this account or address: wait ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(
            429,
            "rate_limited",
            Msg("Too many failed log-ins. Try again in %(n)s seconds.", n=retry_after),
        )
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def client_ip(request: Any) -> str:
    """The client's address as the server sees it (behind a proxy: see docs/security.md)."""
    return request.client.host if request.client else ""


@dataclass(frozen=True)
class ThrottleKey:
    key: str  # "user:<sha256>" or "ip:<sha256>": no usernames or addresses stored in clear
    free: int  # failures allowed before back-off starts


def keys_for(
    username: str, client_ip: str, *, account_free: int, ip_free: int
) -> list[ThrottleKey]:
    """The account key (for known and unknown names alike) and the client-address key."""
    name = username.strip().lower()
    out = [ThrottleKey("user:" + hashlib.sha256(name.encode()).hexdigest(), account_free)]
    if client_ip:
        out.append(ThrottleKey("ip:" + hashlib.sha256(client_ip.encode()).hexdigest(), ip_free))
    return out


def lock_seconds(failures: int, free: int, max_seconds: int) -> int:
    """How long a key with ``failures`` consecutive failures stays locked (0 = not locked)."""
    if failures < free:
        return 0
    exponent = failures - free + 1
    if exponent > 30:
        return max_seconds
    return min(2**exponent, max_seconds)


def state(session: Session, keys: list[ThrottleKey], now: datetime) -> tuple[int, bool]:
    """Seconds until every key is unlocked (0 if none is locked), and whether any key has
    failures to clear after a success."""
    rows = session.execute(
        select(LoginThrottle.failures, LoginThrottle.locked_until).where(
            LoginThrottle.key.in_([k.key for k in keys])
        )
    ).all()
    waits = [(u - now).total_seconds() for _, u in rows if u is not None and u > now]
    return max((math.ceil(w) for w in waits), default=0), any(f > 0 for f, _ in rows)


def _insert(dialect: str):
    return pg_insert if dialect == "postgresql" else sqlite_insert


def record_failure(
    factory: sessionmaker[Session], keys: list[ThrottleKey], now: datetime, max_seconds: int
) -> int:
    """Count one failure on every key in its own committed transaction; returns the new lock
    (seconds) of the most restricted key. Atomic per key (INSERT ... ON CONFLICT DO UPDATE)."""
    longest = 0
    with factory() as s:
        dialect = s.get_bind().dialect.name
        for k in keys:
            stmt = _insert(dialect)(LoginThrottle).values(
                key=k.key, failures=1, last_failure_at=now, locked_until=None
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={
                    "failures": case(
                        (LoginThrottle.last_failure_at < now - FORGET_AFTER, 1),
                        else_=LoginThrottle.failures + 1,
                    ),
                    "last_failure_at": now,
                },
            ).returning(LoginThrottle.failures)
            failures = s.execute(stmt).scalar_one()
            wait = lock_seconds(failures, k.free, max_seconds)
            if wait:
                s.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.key == k.key)
                    .values(locked_until=now + timedelta(seconds=wait))
                )
                longest = max(longest, wait)
        s.commit()
    return longest


def clear(factory: sessionmaker[Session], keys: list[ThrottleKey]) -> None:
    """Forget the failures of ``keys`` (after a successful log-in)."""
    with factory() as s:
        s.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key.in_([k.key for k in keys]), LoginThrottle.failures > 0)
            .values(failures=0, locked_until=None)
        )
        s.commit()
