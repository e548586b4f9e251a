"""The survey e-mails: invitation and reminder in the customer's language, the resolver that
builds the one-time survey link at sending time, and the hooks recording when they went out.

Marketing mail: queued only for customers with e-mail consent (``mail.compose.emailable``).
Discovered and imported by the mail layer (``mail.kinds.load_email_modules``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.mail.compose import CONSENT_NOTE, Recipient, customer_email, customer_locale, t
from retento.mail.compose import valid_until as _valid_until
from retento.mail.kinds import register_kind
from retento.mail.service import LINK, Email, on_sent, register_link
from retento.surveys.languages import pick_language, survey_text
from retento.surveys.models import Survey, SurveyInvitation
from retento.surveys.tokens import link_token
from retento.web.i18n import N_, normalise_locale

SURVEY_PATH = "/s/"

register_kind("survey_invitation", N_("Survey invitation"), to_customer="survey:read", consent=True)
register_kind("survey_reminder", N_("Survey reminder"), to_customer="survey:read", consent=True)


def survey_invitation_email(
    customer: Recipient, survey: Survey, invitation_id: int, expires_at: datetime
) -> Email:
    """The invitation to answer ``survey`` through the invitation's one-time link."""
    # The customer's language only if the survey has it complete (surveys.languages).
    loc = pick_language(survey, customer_locale(customer, survey.language))
    name = survey_text(survey, "name", loc)
    return customer_email(
        customer,
        loc,
        t(loc, N_("We would like your opinion: %(survey)s"), survey=name),
        [
            t(loc, N_("Dear %(name)s,"), name=customer.name),
            t(
                loc,
                N_(
                    "Would you answer a short survey about your experience with us? "
                    "It takes a few minutes: %(survey)s."
                ),
                survey=name,
            ),
            t(
                loc,
                N_("Your personal link works once and until %(date)s:"),
                date=_valid_until(expires_at, loc),
            ),
            LINK,
            t(loc, N_("Thank you for your time.")),
            t(loc, CONSENT_NOTE),
        ],
        kind="survey_invitation",
        related_type="survey_invitation",
        related_id=invitation_id,
    )


def survey_reminder_email(
    customer: Recipient, survey: Survey, invitation_id: int, expires_at: datetime
) -> Email:
    """A reminder for an invitation that is still unanswered."""
    # The customer's language only if the survey has it complete (surveys.languages).
    loc = pick_language(survey, customer_locale(customer, survey.language))
    name = survey_text(survey, "name", loc)
    return customer_email(
        customer,
        loc,
        t(loc, N_("Reminder: %(survey)s"), survey=name),
        [
            t(loc, N_("Dear %(name)s,"), name=customer.name),
            t(
                loc,
                N_(
                    "A few days ago we asked for your opinion in our survey %(survey)s. "
                    "If you have not found the time yet, your link still works until %(date)s:"
                ),
                survey=name,
                date=_valid_until(expires_at, loc),
            ),
            LINK,
            t(loc, N_("Thank you for your time.")),
            t(loc, CONSENT_NOTE),
        ],
        kind="survey_reminder",
        related_type="survey_invitation",
        related_id=invitation_id,
    )


def _survey_link(session: Session, invitation_id: int, locale: str) -> str | None:
    inv = session.get(SurveyInvitation, invitation_id)
    if inv is None or inv.completed_at is not None or inv.expires_at <= utcnow():
        return None
    survey = session.get(Survey, inv.survey_id)
    if survey is None or survey.status != "active":
        return None
    return f"{SURVEY_PATH}{link_token(inv)}?lang={normalise_locale(locale)}"


register_link("survey_invitation", _survey_link)


def _invitation_sent(session: Session, invitation_id: int, when: datetime) -> None:
    # Reminders count from when the customer got the link: with sending disabled for a while,
    # counting from the distribution would remind people the day their invitation arrives.
    inv = session.get(SurveyInvitation, invitation_id)
    if inv is not None:
        inv.sent_at = when


def _reminder_sent(session: Session, invitation_id: int, when: datetime) -> None:
    inv = session.get(SurveyInvitation, invitation_id)
    if inv is not None:
        inv.reminded_at = when


on_sent("survey_invitation", _invitation_sent)
on_sent("survey_reminder", _reminder_sent)
