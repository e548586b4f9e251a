"""The ``notification_digest`` job: each user's daily digest e-mail (idempotent per user and day)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.jobs import job
from retento.notifications.digest import DigestReport, send_digests
from retento.web.i18n import N_


@job("notification_digest", every_seconds=3600, label=N_("Send notification digests"))
def notification_digest(session: Session) -> DigestReport:
    """Queue the day's digest for users who chose "Daily digest" for some kind."""
    return send_digests(session)
