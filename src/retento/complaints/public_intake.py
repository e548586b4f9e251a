"""Complaints from the public (no login): the web form at ``/complain`` and
``POST /api/v1/public/complaints``. The sender is matched to a customer by e-mail address (a
new customer record when none has it), and the complaint is recorded through
:func:`retento.complaints.service.create_complaint_once` with the channel ``web_form``.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import role_permissions
from retento.auth.roles import works_like
from retento.complaints.models import Complaint
from retento.complaints.schemas import ComplaintCreate, PublicComplaintIn
from retento.complaints.service import (
    _event,
    category_by_code,
    category_offered,
    create_complaint_once,
)
from retento.core.errors import Conflict, InvalidInput, Msg
from retento.core.hooks import emit
from retento.core.idempotency import keyed_row
from retento.core.validation import clean_idempotency_key
from retento.customers.guard import merged_into
from retento.customers.models import Contact, Customer
from retento.web.i18n import N_, system_text


def _customer_for_public(
    session: Session, data: PublicComplaintIn, locale: str | None = None
) -> Customer:
    email = data.email.strip().lower()
    customer = session.scalar(
        select(Customer).where(func.lower(Customer.email) == email).order_by(Customer.id).limit(1)
    )
    if customer is None:
        customer = session.scalar(
            select(Customer)
            .join(Contact, Contact.customer_id == Customer.id)
            .where(func.lower(Contact.email) == email)
            .order_by(Customer.id)
            .limit(1)
        )
    # A merged duplicate (it may keep the address and have the lower id) stands for its
    # survivor: the complaint goes there (customers.guard refuses the duplicate itself).
    for _ in range(5):
        survivor = merged_into(customer) if customer is not None else None
        if survivor is None:
            break
        customer = session.get(Customer, survivor) or customer
    if customer is None:
        customer = Customer(
            name=data.name.strip(),
            name_key=data.name.strip().lower(),
            email=email,
            phone=data.phone,
            party_type="person",
            kind="consumer",
            # The form's language: the acknowledgement and later mail are written in it.
            custom_fields={"source": "public_complaint_form"}
            | ({"language": locale} if locale else {}),
        )
        session.add(customer)
        session.flush()
        record(session, None, "create", "customer", customer.id, None, snapshot(customer))
    return customer


def _public_with_key(session: Session, key: str, email: str, subject: str) -> Complaint | None:
    """The public complaint recorded with ``key``: returned only for the same e-mail address
    and subject (the key alone must not open someone else's complaint), else 409."""
    return keyed_row(
        session,
        Complaint,
        key,
        lambda c: (c.contact_email or "") == email and c.subject == subject.strip(),
    )


def earlier_submission(
    session: Session, data: PublicComplaintIn, idempotency_key: str | None
) -> Complaint | None:
    """The complaint this very submission (key, e-mail address, subject) recorded before, or
    None. A retry found here is answered without counting against the rate limit; anything else
    (no key, an unknown key, other details) goes through the limit to :func:`submit_public`."""
    key = clean_idempotency_key(idempotency_key)
    if not key:
        return None
    try:
        done = _public_with_key(session, key, data.email.strip().lower(), data.subject)
    except Conflict:
        done = None
    if done is None:
        # End the read before the limiter commits its hit in a transaction of its own: on
        # SQLite a read transaction that began before that commit cannot become a write.
        session.rollback()
    return done


def submit_public(
    session: Session,
    data: PublicComplaintIn,
    *,
    locale: str | None = None,
    idempotency_key: str | None = None,
) -> Complaint:
    """A complaint from the public web form (no login); the honeypot must be empty.

    With ``idempotency_key`` (the form's key, the public API's ``Idempotency-Key``) a repeated
    submission from the same e-mail address returns the first complaint: one tracking code, one
    acknowledgement, and no second customer record made for a new address."""
    if data.website:
        raise InvalidInput("The form could not be accepted.", field="website")
    key = clean_idempotency_key(idempotency_key)
    email = data.email.strip().lower()
    if key and (done := _public_with_key(session, key, email, data.subject)):
        return done
    attempt = session.begin_nested()
    try:
        c, created = _submit_public(session, data, locale, key)
    except BaseException:
        if attempt.is_active:
            attempt.rollback()
        raise
    if created:
        attempt.commit()
        return c
    # Another submission with the key won the race: undo this one's customer record too.
    attempt.rollback()
    done = _public_with_key(session, key, email, data.subject) if key else None
    if done is None:  # pragma: no cover - the key's row was found a moment ago
        raise Conflict(Msg("The complaint could not be recorded; send the form again."))
    return done


def _submit_public(
    session: Session, data: PublicComplaintIn, locale: str | None, key: str | None
) -> tuple[Complaint | None, bool]:
    customer = _customer_for_public(session, data, locale)
    category = category_by_code(session, data.category.strip().lower())
    if category is None or not category_offered(session, category):
        raise InvalidInput(
            Msg("Unknown complaint category '%(code)s'.", code=data.category),
            field="category",
        )
    description = data.description
    if data.order_reference:
        description += "\n\n" + system_text(
            N_("Order reference: %(reference)s"), reference=data.order_reference
        )
    create = ComplaintCreate(
        customer_id=customer.id,
        kind="complaint",
        channel="web_form",
        category_id=category.id,
        subject=data.subject,
        description=description,
        purposes=data.purposes,
        contact_name=data.name,
        contact_email=data.email.strip().lower(),
        contact_phone=data.phone,
        severity=1,
    )
    try:
        c, created = create_complaint_once(
            session, create, actor=None, source="public_form", idempotency_key=key
        )
    except Conflict as exc:
        if key and exc.field == "Idempotency-Key":
            # Another submission with the key won while this one made its own customer
            # record: the caller undoes this attempt and answers by e-mail and subject.
            return None, False
        raise
    if not created:
        return c, False
    if customer.owner_id is not None:
        owner = session.get(User, customer.owner_id)
        # The owner takes it if they work complaints: an agent, a manager or an admin (or a
        # custom role working like an agent or a manager) that may work complaints at all.
        if (
            owner is not None
            and owner.is_active
            and works_like(session, owner.role) in ("agent", "manager", "admin")
            and "complaint:update" in role_permissions(owner.role)
        ):
            c.assignee_id = owner.id
            c.team_manager_id = owner.manager_id
            _event(session, c, "assignment", None, data={"assignee_id": owner.id, "auto": True})
            session.flush()
    emit("complaint.created", session, complaint=c, actor=None)
    return c, True
