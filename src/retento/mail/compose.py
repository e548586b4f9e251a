"""Domain-free helpers for customer-facing e-mails: the customer's language, whether and how a
customer can be e-mailed, the consent note, one builder for a message to a customer, the "valid
until" date text and the SMTP test message.

The e-mails themselves live with their domains (``retento/<domain>/emails.py``: survey
invitations and reminders, complaint acknowledgement, replies, resolution and follow-up,
loyalty and retention notices). Those modules register their kinds, link resolvers and sent
hooks with the mail layer; the mail layer never imports them (see ``kinds.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from retento.core.config import get_settings
from retento.mail.service import Email, html_body, smtp_test_email, valid_address
from retento.web.i18n import LOCALES, N_, Formatter, normalise_locale
from retento.web.i18n import translate as t

__all__ = [
    "CONSENT_NOTE",
    "Recipient",
    "customer_email",
    "customer_locale",
    "emailable",
    "has_address",
    "smtp_test_email",
    "t",
    "valid_until",
]

CONSENT_NOTE = N_("You receive this email because you agreed to hear from us by email.")


class Recipient(Protocol):
    """What the helpers need of a customer (``customers.models.Customer`` fits)."""

    id: int
    name: str
    email: str | None
    consent_email: bool
    country: str | None
    custom_fields: Any


def customer_locale(customer: Recipient, fallback: str | None = None) -> str:
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


def has_address(customer: Recipient) -> bool:
    """The customer has a usable e-mail address (enough for transactional mail)."""
    return valid_address((customer.email or "").strip())


def emailable(customer: Recipient) -> bool:
    """A customer may get marketing e-mail (surveys, campaigns): an address and consent."""
    return bool(customer.consent_email) and has_address(customer)


def customer_email(
    customer: Recipient, locale: str, subject: str, paragraphs: list[str], **kw: object
) -> Email:
    """An e-mail to ``customer`` whose body is ``paragraphs`` (text and HTML)."""
    return Email(
        recipient=(customer.email or "").strip(),
        subject=subject,
        body_text="\n\n".join(paragraphs) + "\n",
        body_html=html_body(paragraphs, locale),
        locale=locale,
        customer_id=customer.id,
        **kw,  # type: ignore[arg-type]
    )


def valid_until(expires_at: datetime, locale: str) -> str:
    """A link's expiry date in words, in ``locale`` and the installation's time zone."""
    settings = get_settings()
    return Formatter(locale, settings.timezone, settings.currency).date(expires_at, "long")
