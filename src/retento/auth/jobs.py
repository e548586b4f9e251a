"""The ``auth_cleanup`` job: forget ended web sessions and stale login failures (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from retento.auth.models import LoginThrottle, UserSession
from retento.auth.throttle import FORGET_AFTER
from retento.core.db import utcnow
from retento.jobs import job
from retento.web.i18n import N_

KEEP_ENDED_SESSIONS = timedelta(days=30)  # admins can still see recent sign-ins


@job("auth_cleanup", every_seconds=3600, label=N_("Clean up ended sessions and old login failures"))
def cleanup(session: Session) -> dict[str, int]:
    """Delete sessions that ended over 30 days ago and login failures over a day old."""
    now = utcnow()
    cutoff = now - KEEP_ENDED_SESSIONS
    sessions = session.execute(
        delete(UserSession).where(
            or_(UserSession.revoked_at < cutoff, UserSession.expires_at < cutoff)
        )
    ).rowcount
    failures = session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < now - FORGET_AFTER,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    ).rowcount
    return {"sessions": sessions or 0, "login_failures": failures or 0}
