"""The cards of the Insights index and its tabs: each analysis registers one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from retento.auth.models import User
from retento.auth.permissions import can
from retento.web.render import render


@dataclass(frozen=True)
class Insight:
    """One analysis in the Insights area; ``title`` and ``summary`` are message ids."""

    key: str
    title: str
    summary: str
    href: str
    permission: str = "score:read"
    order: int = 100


INSIGHTS: list[Insight] = []


def register_insight(item: Insight) -> None:
    """Add (or replace, by key) an analysis card."""
    for i, existing in enumerate(INSIGHTS):
        if existing.key == item.key:
            INSIGHTS[i] = item
            return
    INSIGHTS.append(item)


def insights_for(user: User | None) -> list[Insight]:
    """The analyses ``user`` may open, in display order."""
    if user is None:
        return []
    return sorted((i for i in INSIGHTS if can(user, i.permission)), key=lambda i: (i.order, i.key))


def render_insight(
    request: Request, user: User, template: str, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    """Render an Insights page: ``render`` plus the tabs the user may open (``insight_tabs``),
    which ``insights/_tabs.html`` draws with ``{{ it.tabs('<key>') }}``."""
    return render(
        request, template, status_code=status_code, insight_tabs=insights_for(user), **extra
    )
