"""Survey reminders: nudge invitees who have not answered (idempotent, safe to run twice)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.core.db import utcnow
from retento.customers.models import Customer
from retento.jobs import job
from retento.mail.compose import emailable
from retento.mail.models import OutboxMessage
from retento.mail.service import queue_emails
from retento.surveys.distributions import EMAILED_CHANNELS
from retento.surveys.emails import survey_reminder_email
from retento.surveys.models import Survey, SurveyInvitation
from retento.web.i18n import N_

# Only channels with an address to write to get reminders; phone lists are worked by agents.
REMINDED_CHANNELS = ("online", "mail")


def due_reminders(survey: Survey, now: datetime) -> tuple:
    """The condition for invitations of ``survey`` that are due a reminder at ``now``."""
    cutoff = now - timedelta(days=survey.reminder_after_days)
    return (
        SurveyInvitation.survey_id == survey.id,
        SurveyInvitation.channel.in_(REMINDED_CHANNELS),
        SurveyInvitation.sent_at.is_not(None),
        SurveyInvitation.completed_at.is_(None),
        SurveyInvitation.expires_at > now,
        SurveyInvitation.reminder_count < survey.max_reminders,
        func.coalesce(SurveyInvitation.reminded_at, SurveyInvitation.sent_at) <= cutoff,
        # Customers archived (or erased) since they were invited are left alone.
        SurveyInvitation.customer_id.not_in(
            select(Customer.id).where(Customer.archived_at.is_not(None))
        ),
    )


def queue_reminder_emails(
    session: Session, survey: Survey, invitation_ids: list[int], now: datetime
) -> int:
    """Queue a reminder e-mail for the reminded online invitations that may be e-mailed.

    An invitation whose previous e-mail still waits in the outbox gets none: the customer would
    otherwise receive the invitation and its reminder together once sending is enabled.
    """
    waiting = (
        select(OutboxMessage.related_id)
        .where(
            OutboxMessage.related_type == "survey_invitation",
            OutboxMessage.related_id.is_not(None),
            OutboxMessage.status.in_(("queued", "sending")),
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(SurveyInvitation.id, SurveyInvitation.expires_at, Customer)
        .join(Customer, Customer.id == SurveyInvitation.customer_id)
        .where(
            SurveyInvitation.id.in_(invitation_ids),
            SurveyInvitation.channel.in_(EMAILED_CHANNELS),
            SurveyInvitation.id.not_in(waiting),
        )
        .order_by(SurveyInvitation.id)
    ).all()
    emails = [
        survey_reminder_email(customer, survey, inv_id, expires)
        for inv_id, expires, customer in rows
        if emailable(customer)
    ]
    return queue_emails(session, emails, actor=None, now=now)


@job("survey_reminders", every_seconds=3600, label=N_("Send survey reminders"))
def send_reminders(session: Session, now: datetime | None = None) -> int:
    """Mark due invitations as reminded (count + time); returns how many were reminded.

    An invitation is due when it was sent, is neither answered nor expired, has had fewer than
    the survey's ``max_reminders`` and its last contact is ``reminder_after_days`` old. Online
    invitees with an address and e-mail consent get a reminder e-mail (``mail_outbox``); the
    others' links are rebuilt with ``distributions.invitation_links``. A second run at the same
    moment finds nothing due.
    """
    now = now or utcnow()
    total = 0
    surveys = session.scalars(
        select(Survey).where(Survey.status == "active", Survey.max_reminders > 0)
    ).all()
    for survey in surveys:
        cond = due_reminders(survey, now)
        ids = list(session.scalars(select(SurveyInvitation.id).where(*cond)))
        if not ids:
            continue
        session.execute(
            update(SurveyInvitation)
            .where(SurveyInvitation.id.in_(ids))
            .values(reminded_at=now, reminder_count=SurveyInvitation.reminder_count + 1)
        )
        emailed = queue_reminder_emails(session, survey, ids, now)
        record(
            session,
            None,
            "remind",
            "survey",
            survey.id,
            None,
            {"reminded": len(ids), "emails_queued": emailed, "at": now.isoformat()},
        )
        total += len(ids)
    session.flush()
    return total
