"""The surveys panel on the customer 360 page."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.surveys import reports
from retento.surveys.languages import name_in
from retento.surveys.models import (
    Survey,
)
from retento.web.i18n import N_
from retento.web.render import request_locale


@cache
def _active_stmt() -> Any:
    """The active surveys' ids and names (all the phone-survey picker shows), built once."""
    return select(Survey.id, Survey.name, Survey.language, Survey.translations).where(
        Survey.status == "active"
    )


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict[str, Any]:
    """The customer's survey history and, for agents, the surveys to run on the phone (names
    in the reader's language where the survey has it)."""
    lang = request_locale(request)
    history = reports.customer_history(session, customer.id, actor=user, lang=lang)
    active: list[Any] = []
    if can(user, "survey:respond"):
        active = sorted(
            (
                SimpleNamespace(id=i, name=name_in(name, own, texts, lang))
                for i, name, own, texts in session.execute(_active_stmt())
            ),
            key=lambda s: s.name,
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
