"""The customer-facing e-mails (survey invitation and reminder, complaint follow-up, test) in the
customer's language, and the resolvers that put their one-time links in at sending time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.complaints.models import Complaint
from retento.core.config import Settings, get_settings
from retento.core.db import utcnow
from retento.customers.models import Customer
from retento.mail.models import OutboxMessage
from retento.mail.service import (
    BASE,
    LINK,
    Email,
    html_body,
    on_sent,
    queue_email,
    register_link,
    valid_address,
)
from retento.surveys.models import Survey, SurveyInvitation
from retento.web.i18n import LOCALES, N_, Formatter, gettext, normalise_locale

# Where a resolved complaint's follow-up question is answered: the public web page (no login).
FOLLOWUP_PATH = "/complain/followup/"
STATUS_PATH = "/complain/status/"
SURVEY_PATH = "/s/"

CONSENT_NOTE = N_("You receive this email because you agreed to hear from us by email.")


def _t(locale: str, message: str, **params: object) -> str:
    text = gettext(locale, message)
    return text % params if params else text


def customer_locale(customer: Customer, fallback: str | None = None) -> str:
    """The customer's language: ``language`` (or ``locale``) in the custom fields if it is one we
    speak, else Chinese for customers in mainland China, else ``fallback`` (the survey's
    language) or the installation's default."""
    custom = customer.custom_fields or {}
    for key in ("language", "locale"):
        value = custom.get(key)
        if isinstance(value, str) and value.strip():
            loc = normalise_locale(value)
            if loc in LOCALES and (loc != "en" or value.lower().startswith("en")):
                return loc
    if (customer.country or "").upper() == "CN":
        return "zh_CN"
    return normalise_locale(fallback or get_settings().default_locale)


def emailable(customer: Customer) -> bool:
    """A customer may be e-mailed: a usable address and consent to e-mail."""
    return bool(customer.consent_email) and valid_address((customer.email or "").strip())


def _email(
    customer: Customer, locale: str, subject: str, paragraphs: list[str], **kw: object
) -> Email:
    return Email(
        recipient=(customer.email or "").strip(),
        subject=subject,
        body_text="\n\n".join(paragraphs) + "\n",
        body_html=html_body(paragraphs, locale),
        locale=locale,
        customer_id=customer.id,
        **kw,  # type: ignore[arg-type]
    )


def _valid_until(expires_at: datetime, locale: str) -> str:
    settings = get_settings()
    return Formatter(locale, settings.timezone, settings.currency).date(expires_at, "long")


def survey_invitation_email(
    customer: Customer, survey: Survey, invitation_id: int, expires_at: datetime
) -> Email:
    """The invitation to answer ``survey`` through the invitation's one-time link."""
    loc = customer_locale(customer, survey.language)
    return _email(
        customer,
        loc,
        _t(loc, N_("We would like your opinion: %(survey)s"), survey=survey.name),
        [
            _t(loc, N_("Dear %(name)s,"), name=customer.name),
            _t(
                loc,
                N_(
                    "Would you answer a short survey about your experience with us? "
                    "It takes a few minutes: %(survey)s."
                ),
                survey=survey.name,
            ),
            _t(
                loc,
                N_("Your personal link works once and until %(date)s:"),
                date=_valid_until(expires_at, loc),
            ),
            LINK,
            _t(loc, N_("Thank you for your time.")),
            _t(loc, CONSENT_NOTE),
        ],
        kind="survey_invitation",
        related_type="survey_invitation",
        related_id=invitation_id,
    )


def survey_reminder_email(
    customer: Customer, survey: Survey, invitation_id: int, expires_at: datetime
) -> Email:
    """A reminder for an invitation that is still unanswered."""
    loc = customer_locale(customer, survey.language)
    return _email(
        customer,
        loc,
        _t(loc, N_("Reminder: %(survey)s"), survey=survey.name),
        [
            _t(loc, N_("Dear %(name)s,"), name=customer.name),
            _t(
                loc,
                N_(
                    "A few days ago we asked for your opinion in our survey %(survey)s. "
                    "If you have not found the time yet, your link still works until %(date)s:"
                ),
                survey=survey.name,
                date=_valid_until(expires_at, loc),
            ),
            LINK,
            _t(loc, N_("Thank you for your time.")),
            _t(loc, CONSENT_NOTE),
        ],
        kind="survey_reminder",
        related_type="survey_invitation",
        related_id=invitation_id,
    )


def complaint_followup_email(customer: Customer, complaint: Complaint) -> Email:
    """After a resolution: how satisfied is the customer, would they buy again?"""
    loc = customer_locale(customer)
    return _email(
        customer,
        loc,
        _t(loc, N_("How did we handle your complaint %(code)s?"), code=complaint.tracking_code),
        [
            _t(loc, N_("Dear %(name)s,"), name=customer.name),
            _t(
                loc,
                N_("We have resolved your complaint “%(subject)s” (%(code)s)."),
                subject=complaint.subject,
                code=complaint.tracking_code,
            ),
            _t(
                loc,
                N_(
                    "Please tell us how satisfied you are with the resolution and whether you "
                    "would buy from us again. Your link:"
                ),
            ),
            LINK,
            _t(
                loc,
                N_("The status of your complaint: %(url)s"),
                url=BASE + STATUS_PATH + complaint.tracking_code,
            ),
            _t(loc, N_("Thank you for your time.")),
            _t(loc, CONSENT_NOTE),
        ],
        kind="complaint_followup",
        related_type="complaint",
        related_id=complaint.id,
    )


def smtp_test_email(address: str, settings: Settings) -> Email:
    """A test message proving the SMTP settings work (sent in the installation's language)."""
    loc = normalise_locale(settings.default_locale)
    paragraphs = [
        _t(loc, N_("This is a test email from Retento.")),
        _t(
            loc,
            N_("It was sent through %(host)s:%(port)s as %(sender)s."),
            host=settings.smtp_host or "—",
            port=settings.smtp_port,
            sender=settings.mail_from,
        ),
    ]
    return Email(
        recipient=address,
        subject=_t(loc, N_("Retento test email")),
        body_text="\n\n".join(paragraphs) + "\n",
        body_html=html_body(paragraphs, loc),
        locale=loc,
        kind="test",
    )


# --- link resolvers: the one-time links are built only when the e-mail goes out -------------


def _survey_link(session: Session, invitation_id: int, locale: str) -> str | None:
    from retento.surveys.service import link_token

    inv = session.get(SurveyInvitation, invitation_id)
    if inv is None or inv.completed_at is not None or inv.expires_at <= utcnow():
        return None
    survey = session.get(Survey, inv.survey_id)
    if survey is None or survey.status != "active":
        return None
    return f"{SURVEY_PATH}{link_token(inv)}?lang={normalise_locale(locale)}"


def _followup_link(session: Session, complaint_id: int, locale: str) -> str | None:
    c = session.get(Complaint, complaint_id)
    if c is None or not c.followup_token or c.survey_answered_at is not None:
        return None
    return f"{FOLLOWUP_PATH}{c.followup_token}?lang={normalise_locale(locale)}"


register_link("survey_invitation", _survey_link)
register_link("complaint", _followup_link)


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


def queue_complaint_followup(
    session: Session, complaint: Complaint, *, actor: User | None, now: datetime
) -> OutboxMessage | None:
    """Queue the follow-up e-mail of a just-resolved complaint (None: no address or consent)."""
    customer = session.get(Customer, complaint.customer_id) if complaint.customer_id else None
    if customer is None or not emailable(customer):
        return None
    return queue_email(session, complaint_followup_email(customer, complaint), actor=actor, now=now)
