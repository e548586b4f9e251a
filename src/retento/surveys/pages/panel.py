"""The surveys panel on the customer 360 page."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.surveys import reports
from retento.surveys.models import (
    Survey,
)
from retento.web.i18n import N_


@cache
def _active_stmt() -> Any:
    """The active surveys' ids and names (all the phone-survey picker shows), built once."""
    return select(Survey.id, Survey.name).where(Survey.status == "active").order_by(Survey.name)


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict[str, Any]:
    """The customer's survey history and, for agents, the surveys to run on the phone."""
    history = reports.customer_history(session, customer.id, actor=user)
    active: list[Any] = []
    if can(user, "survey:respond"):
        active = list(session.execute(_active_stmt()))
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
