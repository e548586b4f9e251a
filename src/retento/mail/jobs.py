"""The ``mail_outbox`` job: hand queued e-mails to the SMTP server (idempotent, safe to run twice)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.jobs import job
from retento.mail.service import SendReport, send_queued
from retento.web.i18n import N_


@job("mail_outbox", every_seconds=60, label=N_("Send queued emails"))
def send_outbox(session: Session) -> SendReport:
    """Send due messages; with ``RETENTO_SMTP_HOST`` empty it only counts what waits."""
    return send_queued(session)
