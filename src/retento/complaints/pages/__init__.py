"""Web pages for complaints: agent queue, intake form, complaint page, SLA admin, dashboard,
the public complaint form with its status page, and the customer 360 panel.

This is the module the web app discovers for the complaints domain; each screen lives in its own
module of this package and its router is included here.
"""

from __future__ import annotations

from retento.complaints.pages import labels, panel  # noqa: F401  (register nav, labels, 360 box)
from retento.complaints.pages.categories import router as _categories_router
from retento.complaints.pages.common import sla_flag
from retento.complaints.pages.dashboard import router as _dashboard_router
from retento.complaints.pages.detail import router as _detail_router
from retento.complaints.pages.improvements import router as _improvements_router
from retento.complaints.pages.intake import router as _intake_router
from retento.complaints.pages.public_followup import router as _followup_router
from retento.complaints.pages.public_form import router as _public_router
from retento.complaints.pages.queue import router as _queue_router
from retento.complaints.pages.sla_admin import duration_input
from retento.complaints.pages.sla_admin import router as _sla_router
from retento.web.render import page_router

__all__ = ["duration_input", "router", "sla_flag"]

router = page_router()

# The order of the original single module (paths with an ``:int`` converter never shadow the
# fixed ones, but keeping it makes the route table read the same).
for _r in (
    _queue_router,
    _intake_router,
    _detail_router,
    _public_router,
    _followup_router,
    _categories_router,
    _sla_router,
    _dashboard_router,
    _improvements_router,
):
    router.include_router(_r)
