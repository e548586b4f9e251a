"""Mails of the retention domain: the owner's alert notice and the customer's win-back email.

Both go through the outbox (``retento.mail``) with their own kinds, ``retention_alert`` and
``retention_winback``; the win-back email is queued only with the customer's consent to email.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.customers.models import Customer
from retento.mail.compose import CONSENT_NOTE, customer_locale, emailable
from retento.mail.service import BASE, Email, html_body, queue_email, valid_address
from retento.retention.models import RetentionAlert, RetentionPlaybook
from retento.retention.reasons import CLASS_NAMES, SEVERITY_NAMES, label, render_reason
from retento.web.i18n import N_, normalise_locale, translate


def notify_owner(session: Session, alert: RetentionAlert, customer: Customer, now) -> bool:
    """Queue the alert notice to the owner's address; False when the owner has none."""
    if alert.owner_id is None:
        return False
    owner = session.get(User, alert.owner_id)
    if owner is None or not owner.is_active or not valid_address((owner.email or "").strip()):
        return False
    loc = normalise_locale(owner.locale)
    paragraphs = [
        translate(loc, N_("Hello %(name)s,"), name=owner.display_name or owner.username),
        translate(
            loc,
            N_("A retention warning was raised for your customer %(customer)s (%(class)s):"),
            customer=customer.name,
            **{"class": label(CLASS_NAMES, alert.value_class, loc)},
        ),
        render_reason(alert.reason_code, alert.reason_params, loc),
        translate(
            loc, N_("Severity: %(severity)s"), severity=label(SEVERITY_NAMES, alert.severity, loc)
        ),
        f"{BASE}/customers/{customer.id}",
    ]
    queue_email(
        session,
        Email(
            recipient=owner.email.strip(),  # type: ignore[union-attr]
            subject=translate(loc, N_("Retention warning: %(customer)s"), customer=customer.name)[
                :300
            ],
            body_text="\n\n".join(paragraphs) + "\n",
            body_html=html_body(paragraphs, loc),
            locale=loc,
            kind="retention_alert",
            related_type="retention_alert",
            related_id=alert.id,
            customer_id=customer.id,
        ),
        actor=None,
        now=now,
    )
    return True


def winback_email(
    session: Session, customer: Customer, playbook: RetentionPlaybook, case_id: int, now
) -> bool:
    """Queue the playbook's email to the customer; False (nothing queued) without consent."""
    if not emailable(customer):
        return False
    loc = customer_locale(customer)
    script = playbook.script_zh if loc.startswith("zh") else playbook.script_en
    paragraphs = [
        translate(loc, N_("Dear %(name)s,"), name=customer.name),
        script or translate(loc, N_("We miss you. We would be glad to see you again.")),
        translate(loc, CONSENT_NOTE),
    ]
    queue_email(
        session,
        Email(
            recipient=(customer.email or "").strip(),
            subject=translate(loc, N_("We miss you, %(name)s"), name=customer.name)[:300],
            body_text="\n\n".join(paragraphs) + "\n",
            body_html=html_body(paragraphs, loc),
            locale=loc,
            kind="retention_winback",
            related_type="retention_case",
            related_id=case_id,
            customer_id=customer.id,
        ),
        actor=None,
        now=now,
    )
    return True
