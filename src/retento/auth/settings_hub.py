"""The administrators' Settings page: one link to every configurable area, with a line on what
it governs, and the deployment settings read from the environment, read-only, secrets masked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.engine import make_url

from retento.auth.permissions import can, require
from retento.core.config import Settings
from retento.web.i18n import N_
from retento.web.nav import NavItem, register_nav
from retento.web.render import PageUser, page_router, render

router = page_router()

register_nav(
    NavItem("admin.settings", N_("Settings"), "/admin/settings", "user:manage", 5, "admin")
)


@dataclass(frozen=True)
class Area:
    """One configurable area: a title, where it is, who may open it, what it governs."""

    title: str
    href: str
    permission: str
    governs: str


AREAS = (
    Area(
        N_("Users"),
        "/admin/users",
        "user:manage",
        N_("Who can log in, their role, manager (team), language and API tokens."),
    ),
    Area(
        N_("Roles"),
        "/admin/roles",
        "user:manage",
        N_("What each role may do; your own roles with a chosen set of permissions."),
    ),
    Area(
        N_("Customer fields"),
        "/admin/customer-fields",
        "user:manage",
        N_("The extra fields kept on every customer and shown on the customer form."),
    ),
    Area(
        N_("Value settings"),
        "/value/settings",
        "score:configure",
        N_(
            "Value pyramid shares and thresholds the next scoring run applies, and whether "
            "profiling needs the customer's consent."
        ),
    ),
    Area(
        N_("SLA policies and business hours"),
        "/complaints/sla",
        "sla:manage",
        N_("Response and resolution targets per priority, business calendars and holidays."),
    ),
    Area(
        N_("Complaint categories"),
        "/complaints/categories",
        "sla:manage",
        N_("The categories complaints are filed under."),
    ),
    Area(
        N_("Loyalty programme"),
        "/loyalty/programme",
        "loyalty:manage",
        N_("Points, expiry and the programme's tiers."),
    ),
    Area(
        N_("Earning rules"),
        "/loyalty/rules",
        "loyalty:manage",
        N_("How many points a purchase or an action earns."),
    ),
    Area(
        N_("Rewards"),
        "/loyalty/rewards",
        "loyalty:manage",
        N_("What members can redeem their points for."),
    ),
    Area(
        N_("Clubs"),
        "/loyalty/clubs",
        "loyalty:manage",
        N_("Customer clubs and their members."),
    ),
    Area(
        N_("Warning rules"),
        "/retention/rules",
        "retention:manage",
        N_("The churn early-warning rules, their thresholds and the retention settings."),
    ),
    Area(
        N_("Playbooks"),
        "/retention/playbooks",
        "retention:manage",
        N_("Win-back playbooks: the steps and offers applied to an alert."),
    ),
    Area(
        N_("Email outbox"),
        "/admin/mail",
        "mail:manage",
        N_("Outgoing email: what waits or failed, retries and a test email."),
    ),
    Area(
        N_("Notification preferences"),
        "/notifications/preferences",
        "token:own",
        N_("Which notifications you receive, in the app or by email (each user their own)."),
    ),
    Area(
        N_("Background work"),
        "/admin/work",
        "work:read",
        N_("Queued and running work, scheduled jobs and failed items to retry."),
    ),
    Area(
        N_("Audit log"),
        "/admin/audit",
        "audit:read",
        N_("Who changed what and when, including every change made here."),
    ),
)

# A password, secret or token, or a key (not a count of keys: max_custom_fields_keys).
SECRET = re.compile(r"password|secret|token|(^|_)key$", re.I)


def deployment_settings(settings: Settings) -> list[dict[str, Any]]:
    """Every deployment setting as (environment variable, shown value, set in the environment),
    secrets masked: a password, key or token only says whether it is set, and the database URL
    hides its password."""
    rows = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        env = f"RETENTO_{name.upper()}"
        secret = bool(SECRET.search(name))
        if secret:
            shown = ""  # never the value: the page says whether it is set
        elif name == "database_url":
            try:
                shown = make_url(str(value)).render_as_string(hide_password=True)
            except Exception:  # noqa: BLE001 - an unparsable URL: show only its scheme
                shown = str(value).split(":", 1)[0] + ":…"
        else:
            shown = str(value)
        rows.append(
            {
                "env": env,
                "value": shown,
                "secret": secret,
                "is_set": bool(str(value).strip()),
                "from_env": env in os.environ,
            }
        )
    return rows


@router.get("/admin/settings")
def settings_page(request: Request, user: PageUser) -> Response:
    """Links to every configurable area the administrator may open, and the deployment
    settings (read-only)."""
    require(user, "user:manage")
    return render(
        request,
        "auth/settings.html",
        areas=[a for a in AREAS if can(user, a.permission)],
        deployment=deployment_settings(request.app.state.settings),
    )
