"""A customer's own "unsubscribe" from marketing e-mail, through the link every such e-mail
carries (``mail.unsubscribe``): their e-mail consent is withdrawn, with an audit entry, and the
mail layer cancels whatever marketing mail is still queued for them when its turn comes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.customers.guard import merged_into
from retento.customers.models import Customer
from retento.customers.service import customer_snapshot


def may_get_marketing(session: Session, customer_id: int) -> bool:
    """The customer still agrees to e-mail, read fresh when the message is sent."""
    row = session.execute(
        select(Customer.consent_email, Customer.erased_at).where(Customer.id == customer_id)
    ).one_or_none()
    return row is not None and bool(row.consent_email) and row.erased_at is None


def unsubscribed(session: Session, customer_id: int) -> bool:
    """No marketing mail goes to this customer (any more, or ever: erased, deleted), nor, for a
    merged duplicate, to the survivor who now gets their mail."""
    if may_get_marketing(session, customer_id):
        return False
    c = session.get(Customer, customer_id)
    survivor = merged_into(c) if c is not None else None
    return survivor in (None, customer_id) or not may_get_marketing(session, survivor)


def _lock(session: Session, customer_id: int) -> Customer | None:
    return session.scalars(
        select(Customer)
        .where(Customer.id == customer_id)
        .with_for_update(of=Customer)
        .execution_options(populate_existing=True)
    ).one_or_none()


def unsubscribe(session: Session, customer_id: int) -> int:
    """Withdraw the customer's e-mail consent (and, for a merged duplicate, the survivor's,
    who now gets their mail); returns how many customers changed. Safe to repeat."""
    c = _lock(session, customer_id)
    if c is None:
        return 0
    survivor_id = merged_into(c)
    survivor = _lock(session, survivor_id) if survivor_id not in (None, c.id) else None
    changed = 0
    for row in (c, survivor):
        if row is None or not row.consent_email or row.erased_at is not None:
            continue
        before = customer_snapshot(row)
        row.consent_email = False
        session.flush()
        # No user acted: the entry's actor is "system"; the customer used their own link.
        record(session, None, "update", "customer", row.id, before, customer_snapshot(row))
        changed += 1
    return changed
