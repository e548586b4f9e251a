"""The surveys panel on the customer 360 page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can
from retento.customers.models import Customer
from retento.surveys import reports
from retento.surveys.models import (
    Survey,
)
from retento.web.i18n import N_
from retento.web.panels import Panel, register_panel


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict[str, Any]:
    """The customer's survey history and, for agents, the surveys to run on the phone."""
    history = reports.customer_history(session, customer.id, actor=user)
    active: list[Survey] = []
    if can(user, "survey:respond"):
        active = list(
            session.scalars(select(Survey).where(Survey.status == "active").order_by(Survey.name))
        )
    return {"history": history, "active": active, "customer": customer}


register_panel(
    Panel(
        key="surveys",
        title=N_("Surveys"),
        template="surveys/_panel.html",
        load=_panel,
        permission="survey:read",
        order=40,
        slot="main",
    )
)
