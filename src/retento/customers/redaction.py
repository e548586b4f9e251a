"""What the records about one customer are, and their personal data blanked: the customer's
identifying strings replaced in free text and in the audit log's before/after snapshots.

Used by the privacy requests (``privacy``: export, erasure) and by the purge of a customer
entered by mistake (``service.purge_customer``), so it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from retento.audit.models import AuditEntry
from retento.customers.models import Customer

MARK = "[erased]"

# Per audited entity, the keys of its before/after snapshots that hold personal data.
PERSONAL_KEYS: dict[str, set[str]] = {
    "customer": {
        "name", "name_key", "email", "phone", "address", "city", "external_id", "custom_fields",
        "note", "tags", "contacts", "birth_date",
    },
    "order": {"note"},
    "refund": {"reason"},
    "touchpoint": {"note"},
    "complaint": {
        "subject", "description", "contact_name", "contact_email", "contact_phone", "feedback",
        "followup_token",
    },
    "complaint_event": {"body"},
    "complaint_remedy": {"note"},
    "complaint_attachment": {"filename", "path"},
    "survey_response": {"text"},
    "mail_message": {"recipient", "body_text", "body_html", "last_error"},
}  # fmt: skip


# Audit actions whose before/after hold counts, not a record's snapshot.
COUNT_ONLY = frozenset({"export"})


def domain_models() -> dict[str, Any]:
    """The other domains' tables (imported here: customers sits below them)."""
    from retento.complaints import models as complaints
    from retento.mail import models as mail
    from retento.orders import models as orders
    from retento.products import models as products
    from retento.scoring import models as scoring
    from retento.surveys import models as surveys
    from retento.touchpoints import models as touchpoints

    return {
        "Complaint": complaints.Complaint,
        "ComplaintAttachment": complaints.ComplaintAttachment,
        "ComplaintEvent": complaints.ComplaintEvent,
        "ComplaintNotification": complaints.ComplaintNotification,
        "Remedy": complaints.Remedy,
        "OutboxMessage": mail.OutboxMessage,
        "Order": orders.Order,
        "OrderLine": orders.OrderLine,
        "Refund": orders.Refund,
        "Product": products.Product,
        "CustomerScore": scoring.CustomerScore,
        "ScoreRun": scoring.ScoreRun,
        "Survey": surveys.Survey,
        "SurveyAnswer": surveys.SurveyAnswer,
        "SurveyInvitation": surveys.SurveyInvitation,
        "SurveyQuestion": surveys.SurveyQuestion,
        "SurveyResponse": surveys.SurveyResponse,
        "Touchpoint": touchpoints.Touchpoint,
    }


@dataclass
class Holdings:
    """The ids of every record about one customer, per audited entity."""

    ids: dict[str, list[int]] = field(default_factory=dict)

    def of(self, entity: str) -> list[int]:
        return self.ids.get(entity, [])


def holdings(session: Session, customer_id: int) -> Holdings:
    """Ids of the customer's orders, refunds, touchpoints, complaints (and their events,
    remedies, attachments), survey responses and e-mails."""
    m = domain_models()

    def ids(stmt) -> list[int]:
        return list(session.scalars(stmt))

    orders = ids(select(m["Order"].id).where(m["Order"].customer_id == customer_id))
    complaints = ids(select(m["Complaint"].id).where(m["Complaint"].customer_id == customer_id))
    by_complaint = lambda model: ids(  # noqa: E731
        select(model.id).where(model.complaint_id.in_(complaints))
    )
    return Holdings(
        {
            "customer": [customer_id],
            "order": orders,
            "refund": ids(select(m["Refund"].id).where(m["Refund"].order_id.in_(orders))),
            "touchpoint": ids(
                select(m["Touchpoint"].id).where(m["Touchpoint"].customer_id == customer_id)
            ),
            "complaint": complaints,
            "complaint_event": by_complaint(m["ComplaintEvent"]),
            "complaint_remedy": by_complaint(m["Remedy"]),
            "complaint_attachment": by_complaint(m["ComplaintAttachment"]),
            "survey_response": ids(
                select(m["SurveyResponse"].id).where(m["SurveyResponse"].customer_id == customer_id)
            ),
            "mail_message": ids(
                select(m["OutboxMessage"].id).where(m["OutboxMessage"].customer_id == customer_id)
            ),
        }
    )


def audit_about(held: Holdings):
    """The WHERE clause of the audit entries about the customer and its records."""
    parts = [
        and_(AuditEntry.entity == entity, AuditEntry.entity_id.in_([str(i) for i in ids]))
        for entity, ids in held.ids.items()
        if ids
    ]
    return or_(*parts)


@dataclass
class Redactor:
    """Replaces a customer's personal data inside free text and audit snapshots."""

    values: set[str]

    @classmethod
    def for_customer(cls, session: Session, customer: Customer) -> Redactor:
        """The customer's identifying strings: name, e-mail, phone, address, external id,
        contacts, and the contact details given with complaints."""
        m = domain_models()
        found = [
            customer.name,
            customer.email,
            customer.phone,
            customer.address,
            customer.external_id,
        ]
        for k in customer.contacts:
            found += [k.name, k.email, k.phone]
        for row in session.execute(
            select(
                m["Complaint"].contact_name,
                m["Complaint"].contact_email,
                m["Complaint"].contact_phone,
            ).where(m["Complaint"].customer_id == customer.id)
        ):
            found += list(row)
        return cls({v.strip() for v in found if v and v.strip()})

    def text(self, value: str) -> str:
        """``value`` with every known personal string replaced (case-insensitive)."""
        if value.strip().lower() in {v.lower() for v in self.values}:
            return MARK
        out = value
        # Longest first, so "Wang Fang" goes before "Wang"; very short values (a two-letter
        # name) are replaced only as whole values above, not inside other words.
        for v in sorted(self.values, key=len, reverse=True):
            if len(v) < 3:
                continue
            lower = out.lower()
            key = v.lower()
            start = lower.find(key)
            while start >= 0:
                out = out[:start] + MARK + out[start + len(v) :]
                lower = out.lower()
                start = lower.find(key, start + len(MARK))
        return out

    def scrub(self, value: Any, keys: set[str] | frozenset[str] = frozenset()) -> Any:
        """A copy of a JSON value with ``keys`` blanked and personal strings replaced."""
        if isinstance(value, dict):
            return {
                k: (MARK if v not in (None, "", [], {}) else v)
                if k in keys
                else self.scrub(v, keys)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.scrub(v, keys) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def redact_audit(session: Session, customer: Customer, redactor: Redactor) -> int:
    """Blank the personal data in the before/after of every audit entry about the customer and
    its records; returns how many entries changed."""
    held = holdings(session, customer.id)
    n = 0
    for entry in session.scalars(select(AuditEntry).where(audit_about(held))):
        # A data export's entry holds row counts per section ("contacts": 3), not the data:
        # only personal strings are replaced there (the counts were blanked as if data).
        keys = set() if entry.action in COUNT_ONLY else PERSONAL_KEYS.get(entry.entity, set())
        before = redactor.scrub(entry.before, keys) if entry.before is not None else None
        after = redactor.scrub(entry.after, keys) if entry.after is not None else None
        if before != entry.before or after != entry.after:
            # New objects, so the JSON columns are seen as changed.
            entry.before, entry.after = before, after
            n += 1
    return n


def forget_mail(session: Session, message_ids: list[int], redactor: Redactor) -> int:
    """The customer's e-mails in the outbox (``holdings(...).of("mail_message")``): those not
    sent yet are cancelled, and the address and bodies of all are removed (the message stays
    as a record that something was sent). Used at erasure and at deletion: a purged customer's
    queued mail was still sent to their address. How many messages."""
    m = domain_models()
    mails = list(
        session.scalars(select(m["OutboxMessage"]).where(m["OutboxMessage"].id.in_(message_ids)))
    )
    for msg in mails:
        if msg.status in ("queued", "sending"):
            msg.status = "cancelled"
        msg.recipient = MARK
        msg.body_text = ""
        msg.body_html = None
        msg.last_error = redactor.text(msg.last_error) if msg.last_error else msg.last_error
    session.flush()
    return len(mails)
