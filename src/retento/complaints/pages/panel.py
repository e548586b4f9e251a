"""The complaints box on the customer 360 page."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can
from retento.complaints import queries
from retento.complaints.pages.common import (
    sla_flag,
)
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.web.i18n import N_

# --- customer 360 panel ------------------------------------------------------------------------


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict | None:
    """The customer's complaints and their latest timeline events (two queries: the box shows
    no total, so none is counted)."""
    rows, _ = queries.list_complaints(
        session, actor=user, customer_id=customer.id, sort="-received_at", limit=20, count=False
    )
    events = queries.customer_timeline(session, customer.id, actor=user, limit=20)
    subjects = {c.id: c.subject for c in rows}
    return {
        "complaints": [(c, sla_flag(c)) for c in rows],
        "events": events,
        "subjects": subjects,
        "may_create": can(user, "complaint:create"),
    }


register_panel(
    Panel(
        key="complaints",
        title=N_("Complaints"),
        template="complaints/_panel.html",
        load=_panel,
        permission="complaint:read",
        order=30,
        slot="main",
    )
)
