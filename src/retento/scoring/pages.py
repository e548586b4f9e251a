"""Value web pages: the value dashboard with its scoring runs, the filtered scores list and its
export, the value settings page, and the customer 360 scores and relationship panels.

This is the module the web app discovers for the scoring domain: it registers the domain's menu
item and labels, and includes the screens, each of which lives in its own ``pages_<screen>.py``.
"""

from __future__ import annotations

from retento.scoring import pages_panel, pages_relationship  # noqa: F401  (register the 360 boxes)
from retento.scoring.pages_dashboard import router as _dashboard_router
from retento.scoring.pages_export import router as _export_router
from retento.scoring.pages_scores import router as _scores_router
from retento.scoring.pages_settings import router as _settings_router
from retento.scoring.pages_tables import router as _tables_router
from retento.web.i18n import N_
from retento.web.labels import register_labels
from retento.web.nav import NavItem, register_nav
from retento.web.render import page_router

router = page_router()

register_nav(NavItem("value", N_("Value"), "/value", "score:read", 20))

register_labels("entity", {"score_run": N_("Scoring run")})
register_labels(
    "value_class",
    {
        "vip": N_("VIP"),
        "major": N_("Major"),
        "ordinary": N_("Ordinary"),
        "small": N_("Small"),
        "below_zero": N_("Below zero"),
    },
)
register_labels(
    "value_label",
    {
        "mvc": N_("Most valuable customer (MVC)"),
        "mgc": N_("Most growth-capable customer (MGC)"),
        "bz": N_("Below-zero customer (BZ)"),
        "other": N_("No special label"),
    },
)
register_labels(
    "score_model",
    {
        "bgnbd": N_("BG/NBD (buy till you die)"),
        "mbgnbd": N_("MBG/NBD (one-time buyers can be gone)"),
        "pareto": N_("Pareto/NBD"),
    },
)
register_labels(
    "run_status",
    {"running": N_("Running"), "succeeded": N_("Succeeded"), "failed": N_("Failed")},
)

for _r in (_dashboard_router, _scores_router, _export_router, _settings_router, _tables_router):
    router.include_router(_r)
