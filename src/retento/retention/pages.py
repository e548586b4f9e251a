"""Retention web pages (客户流失与预警): the at-risk list, the alerts inbox, the owner's task list,
the playbook editor and the retention dashboard.

This is the module the web app discovers for the retention domain; each screen lives in its own
``pages_<screen>.py`` and is included here. Nav hrefs never prefix one another, so exactly one
header item is highlighted on every retention page.
"""

from __future__ import annotations

from retento.retention.pages_atrisk import router as _atrisk_router
from retento.retention.pages_dashboard import router as _dashboard_router
from retento.web.i18n import N_
from retento.web.nav import NavItem, register_nav
from retento.web.render import page_router

router = page_router()

register_nav(NavItem("retention.at_risk", N_("At risk"), "/retention/at-risk", "score:read", 21))
register_nav(
    NavItem("retention.dashboard", N_("Retention"), "/retention/dashboard", "score:read", 22)
)

router.include_router(_atrisk_router)
router.include_router(_dashboard_router)
