"""The customer 360 panel hook: later capabilities (scores, complaints, surveys, loyalty) add panels.

A panel is a template plus a function that returns its context; the 360 page renders every
panel the user may see, in order. Example, from ``complaints/pages.py``::

    register_panel(Panel(key="complaints", title=N_("Complaints"),
                         template="complaints/_panel.html", load=complaints_for_panel,
                         permission="complaint:read", order=30, slot="main"))

``load(request, session, customer, user)`` returns the template's context (``None`` hides the
panel); the template also sees ``customer``, ``user``, ``can``, ``fmt`` and ``label``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can
from retento.customers.models import Customer

PanelLoader = Callable[[Request, Session, Customer, User], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    """One box on the customer 360 page; ``load`` returning ``None`` hides it for that customer."""

    key: str
    title: str
    template: str
    load: PanelLoader
    permission: str | None = None
    order: int = 100
    slot: str = "main"  # "main" (below the timeline) or "side" (below the profile)


CUSTOMER_PANELS: list[Panel] = []


def register_panel(panel: Panel) -> None:
    """Add (or replace, by key) a customer 360 panel."""
    for i, existing in enumerate(CUSTOMER_PANELS):
        if existing.key == panel.key:
            CUSTOMER_PANELS[i] = panel
            return
    CUSTOMER_PANELS.append(panel)


def panels_for(
    request: Request, session: Session, customer: Customer, user: User
) -> list[tuple[Panel, dict]]:
    """The panels ``user`` may see for ``customer``, each with its loaded context."""
    out = []
    for panel in sorted(CUSTOMER_PANELS, key=lambda p: (p.order, p.key)):
        if panel.permission is not None and not can(user, panel.permission):
            continue
        ctx = panel.load(request, session, customer, user)
        if ctx is not None:
            out.append((panel, ctx))
    return out
