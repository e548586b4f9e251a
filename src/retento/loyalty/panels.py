"""Boxes on the loyalty dashboard, registered by the pages that fill them (``pages.py``,
``measure_pages.py``): kept apart from both so neither imports the other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from retento.auth.models import User


@dataclass(frozen=True)
class DashboardPanel:
    """A box on the loyalty dashboard: ``load(request, session, user)`` returns its context
    (``None`` hides it); the template sees it as ``p``."""

    key: str
    title: str
    template: str
    load: Callable[[Request, Session, User], dict[str, Any] | None]
    permission: str | None = "loyalty:read"
    order: int = 100


DASHBOARD_PANELS: list[DashboardPanel] = []


def register_dashboard_panel(panel: DashboardPanel) -> None:
    """Add (or replace, by key) a loyalty dashboard panel."""
    for i, existing in enumerate(DASHBOARD_PANELS):
        if existing.key == panel.key:
            DASHBOARD_PANELS[i] = panel
            return
    DASHBOARD_PANELS.append(panel)
