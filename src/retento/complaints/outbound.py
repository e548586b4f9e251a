"""The complaint e-mails to the complainant, in the customer's language, through the outbox.

Transactional mail, sent to every complainant with a usable address whatever their marketing
consent (docs/mail.md, docs/complaints.md):

* ``complaint_ack`` — on intake: the tracking code and the status page link; one per complaint.
* ``complaint_message`` — each "message to the customer" an agent writes; one per message.
* ``complaint_followup`` — on resolution: the resolution text, the one-time follow-up link
  (built at sending time; cancelled if the follow-up was answered first) and the status link.

The address is the contact address given with the complaint, else the customer's. The service
queues them; ``emails`` (which the mail layer discovers, ``mail.kinds.load_email_modules``)
imports this module, so the kinds and the follow-up link are registered wherever mail is sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.complaints.models import Complaint, ComplaintEvent
from retento.customers.models import Customer
from retento.mail.compose import customer_email, customer_locale, t
from retento.mail.kinds import register_kind
from retento.mail.models import OutboxMessage
from retento.mail.service import BASE, LINK, Email, queue_email, register_link, valid_address
from retento.web.i18n import N_, normalise_locale

# Where a resolved complaint's follow-up question is answered: the public web page (no login).
FOLLOWUP_PATH = "/complain/followup/"
STATUS_PATH = "/complain/status/"

KINDS = ("complaint_ack", "complaint_message", "complaint_followup")
register_kind("complaint_ack", N_("Complaint acknowledgement"), to_customer="complaint:read")
register_kind("complaint_message", N_("Message about a complaint"), to_customer="complaint:read")
register_kind(
    "complaint_followup", N_("Complaint resolution and follow-up"), to_customer="complaint:read"
)


def complainant_address(c: Complaint, customer: Customer | None) -> str | None:
    """Where mail about ``c`` goes: the contact address given with it, else the customer's."""
    for value in (c.contact_email, customer.email if customer is not None else None):
        value = (value or "").strip()
        if valid_address(value):
            return value
    return None


def _subject(loc: str, c: Complaint, message: str) -> str:
    # Every subject carries the tracking code: a reply is threaded back to its complaint by it.
    return t(loc, message, code=c.tracking_code)[:300]


def _status_line(loc: str, c: Complaint) -> str:
    return t(
        loc,
        N_("The status of your complaint: %(url)s"),
        url=BASE + STATUS_PATH + c.tracking_code,
    )


def _to(email: Email, address: str) -> Email:
    return replace(email, recipient=address)


def acknowledgement_email(c: Complaint, customer: Customer, address: str) -> Email:
    """We received the complaint: its tracking code and where to follow it."""
    loc = customer_locale(customer)
    name = c.contact_name or customer.name
    email = customer_email(
        customer,
        loc,
        _subject(loc, c, N_("We received your complaint %(code)s")),
        [
            t(loc, N_("Dear %(name)s,"), name=name),
            t(
                loc,
                N_("We received your complaint “%(subject)s”. Your tracking code is %(code)s."),
                subject=c.subject,
                code=c.tracking_code,
            ),
            _status_line(loc, c),
            t(loc, N_("You can reply to this email; keep the tracking code in the subject.")),
        ],
        kind="complaint_ack",
        related_type="complaint_ack",
        related_id=c.id,
    )
    return _to(email, address)


def message_email(c: Complaint, customer: Customer, ev: ComplaintEvent, address: str) -> Email:
    """An agent's message to the customer about the complaint."""
    loc = customer_locale(customer)
    email = customer_email(
        customer,
        loc,
        _subject(loc, c, N_("About your complaint %(code)s")),
        [
            t(loc, N_("Dear %(name)s,"), name=c.contact_name or customer.name),
            ev.body or "",
            _status_line(loc, c),
            t(loc, N_("You can reply to this email; keep the tracking code in the subject.")),
        ],
        kind="complaint_message",
        related_type="complaint_event",
        related_id=ev.id,
    )
    return _to(email, address)


def complaint_followup_email(
    customer: Customer, complaint: Complaint, address: str | None = None
) -> Email:
    """After a resolution: what we did, and how satisfied is the customer, would they buy again?"""
    c = complaint
    loc = customer_locale(customer)
    paragraphs = [
        t(loc, N_("Dear %(name)s,"), name=c.contact_name or customer.name),
        t(
            loc,
            N_("We have resolved your complaint “%(subject)s” (%(code)s)."),
            subject=c.subject,
            code=c.tracking_code,
        ),
    ]
    if c.feedback:
        paragraphs += [t(loc, N_("Our resolution:")), c.feedback]
    paragraphs += [
        t(
            loc,
            N_(
                "Please tell us how satisfied you are with the resolution and whether you "
                "would buy from us again. Your link:"
            ),
        ),
        LINK,
        _status_line(loc, c),
        t(loc, N_("Thank you for your time.")),
    ]
    email = customer_email(
        customer,
        loc,
        _subject(loc, c, N_("How did we handle your complaint %(code)s?")),
        paragraphs,
        kind="complaint_followup",
        related_type="complaint",
        related_id=c.id,
    )
    return _to(email, address or email.recipient)


def followup_path(c: Complaint, locale: str | None = None) -> str | None:
    """The site path of the follow-up question while it can be answered (None otherwise)."""
    if not c.followup_token or c.survey_answered_at is not None:
        return None
    lang = f"?lang={normalise_locale(locale)}" if locale else ""
    return f"{FOLLOWUP_PATH}{c.followup_token}{lang}"


def _followup_link(session: Session, complaint_id: int, locale: str) -> str | None:
    c = session.get(Complaint, complaint_id)
    return followup_path(c, locale) if c is not None else None


register_link("complaint", _followup_link)


def _customer(session: Session, c: Complaint) -> Customer | None:
    return session.get(Customer, c.customer_id) if c.customer_id else None


def _already(session: Session, kind: str, related_type: str, related_id: int) -> bool:
    return (
        session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.kind == kind,
                OutboxMessage.related_type == related_type,
                OutboxMessage.related_id == related_id,
            )
            .limit(1)
        )
        is not None
    )


def queue_acknowledgement(
    session: Session, c: Complaint, *, actor: User | None, now: datetime | None = None
) -> OutboxMessage | None:
    """Queue the intake acknowledgement once per complaint (None: no address, or already)."""
    customer = _customer(session, c)
    address = complainant_address(c, customer)
    if (
        customer is None
        or address is None
        or _already(session, "complaint_ack", "complaint_ack", c.id)
    ):
        return None
    return queue_email(session, acknowledgement_email(c, customer, address), actor=actor, now=now)


def queue_message(
    session: Session, c: Complaint, ev: ComplaintEvent, *, actor: User | None, now=None
) -> OutboxMessage | None:
    """E-mail an agent's message to the customer, once per message (None: no address)."""
    customer = _customer(session, c)
    address = complainant_address(c, customer)
    if customer is None or address is None:
        return None
    if _already(session, "complaint_message", "complaint_event", ev.id):
        return None
    return queue_email(session, message_email(c, customer, ev, address), actor=actor, now=now)


def queue_complaint_followup(
    session: Session, complaint: Complaint, *, actor: User | None, now: datetime
) -> OutboxMessage | None:
    """Queue the resolution and follow-up e-mail of a just-resolved complaint (None: no address).

    Transactional: consent to marketing e-mail is not needed."""
    customer = _customer(session, complaint)
    address = complainant_address(complaint, customer)
    if customer is None or address is None:
        return None
    email = complaint_followup_email(customer, complaint, address)
    return queue_email(session, email, actor=actor, now=now)


def sent_emails(session: Session, c: Complaint) -> list[OutboxMessage]:
    """Every e-mail about ``c`` (acknowledgement, messages, follow-ups), oldest first."""
    event_ids = select(ComplaintEvent.id).where(ComplaintEvent.complaint_id == c.id)
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind.in_(KINDS),
                or_(
                    (OutboxMessage.related_type.in_(("complaint", "complaint_ack")))
                    & (OutboxMessage.related_id == c.id),
                    (OutboxMessage.related_type == "complaint_event")
                    & OutboxMessage.related_id.in_(event_ids),
                ),
            )
            .order_by(OutboxMessage.id)
        )
    )
