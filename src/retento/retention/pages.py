"""Retention web pages (客户流失与预警): the at-risk list, the alerts inbox, the owner's task list,
the playbook editor, the warning rules and settings, and the retention dashboard.

This is the module the web app discovers for the retention domain; each screen lives in its own
``pages_<screen>.py`` and is included here.
"""

from __future__ import annotations

from retento.retention import pages_panel  # noqa: F401  (registers the 360 box)
from retento.retention.pages_alerts import router as _alerts_router
from retento.retention.pages_atrisk import router as _atrisk_router
from retento.retention.pages_dashboard import router as _dashboard_router
from retento.retention.pages_playbooks import router as _playbooks_router
from retento.retention.pages_rules import router as _rules_router
from retento.retention.pages_tasks import router as _tasks_router
from retento.retention.pages_uplift import router as _uplift_router
from retento.web.i18n import N_
from retento.web.nav import NavItem, register_nav
from retento.web.render import page_router

router = page_router()

# One header item for the whole domain: "/retention" prefixes every retention page, so it is
# the one highlighted item there; the screens are tabs inside (templates/retention/_tabs.html).
register_nav(NavItem("retention", N_("Retention"), "/retention", "retention:read", 22))

for _r in (
    _atrisk_router,
    _dashboard_router,
    _alerts_router,
    _tasks_router,
    _playbooks_router,
    _rules_router,
    _uplift_router,
):
    router.include_router(_r)
