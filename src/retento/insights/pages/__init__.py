"""Insights web pages: the index at ``/insights`` and every analysis module in this package.

A module here defines ``router = page_router()`` and calls ``register_insight(...)``; it is
included automatically (sorted by module name), so analyses plug in without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import Request
from fastapi.responses import Response

from retento.insights.registry import insights_for, render_insight
from retento.web.i18n import N_
from retento.web.nav import NavItem, register_nav
from retento.web.render import PageUser, page_router

router = page_router()

register_nav(NavItem("insights", N_("Insights"), "/insights", "score:read", 24))


@router.get("/insights")
def insights_index(request: Request, user: PageUser) -> Response:
    """The Insights index: one card per analysis the user may open."""
    return render_insight(request, user, "insights/index.html", items=insights_for(user))


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    router.include_router(importlib.import_module(f"{__name__}.{_info.name}").router)
