"""``/``: the dashboard of the user's role — manager (KPIs, value at risk, complaints breaching,
NPS trend, open alerts), agent (my queue and tasks) or analyst (model health, data freshness) —
with the period and segment filters; ``?view=`` switches to another permitted view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import role_name
from retento.core.deps import DbSession
from retento.core.errors import Forbidden, Msg, Term, choice_error
from retento.home import queries
from retento.scoring import pages_filtered
from retento.web.charts import grid
from retento.web.i18n import N_
from retento.web.render import PageUser, page_router, render, tr

router = page_router()

SEVERITIES = (("high", N_("High")), ("medium", N_("Medium")), ("low", N_("Low")))

VIEW_TITLES = {
    "manager": N_("Manager dashboard"),
    "agent": N_("My work"),
    "analyst": N_("Model and data health"),
}


def _nps_chart(request: Request, points: list[dict[str, Any]]) -> str:
    """NPS per month as a line (−100 … 100), the answers per month as bars behind it."""
    return json.dumps(
        {
            "grid": grid(right=8, top=32, bottom=4),
            "legend": {"top": 0},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": [p["month"] for p in points]},
            "yAxis": [
                {"type": "value", "min": -100, "max": 100, "name": "NPS"},
                {"type": "value", "minInterval": 1, "splitLine": {"show": False}},
            ],
            "color": ["#1f6feb", "#c8d1dc"],
            "series": [
                {
                    "name": "NPS",
                    "type": "line",
                    "data": [p["nps"] for p in points],
                    "label": {"show": True},
                    "z": 3,
                },
                {
                    "name": tr(request, "Answers"),
                    "type": "bar",
                    "yAxisIndex": 1,
                    "data": [p["answers"] for p in points],
                },
            ],
        },
        ensure_ascii=False,
    )


@router.get("/")
def home(request: Request, session: DbSession, user: PageUser) -> Response:
    """The start page: the dashboard of the user's role (or the permitted one chosen)."""
    allowed = queries.views_for(user)
    if not allowed:
        raise Forbidden(
            Msg("The role %(role)s has no home dashboard.", role=role_name(user.role)),
            role=user.role,
        )
    view = request.query_params.get("view", "").strip() or allowed[0]
    if view not in queries.VIEWS:
        raise choice_error(
            "view", N_("Dashboard"), [(v, VIEW_TITLES[v]) for v in queries.VIEWS]
        ).refuse()
    if view not in allowed:
        raise Forbidden(
            Msg(
                "The role %(role)s may not open this dashboard: %(view)s.",
                role=role_name(user.role),
                view=Term(view, VIEW_TITLES[view]),
            ),
            role=user.role,
        )
    f = pages_filtered.parse(request, default_period="30")
    now = datetime.now(UTC)
    if view == "manager":
        data = queries.manager_view(session, f, now)
        chart = _nps_chart(request, data["nps"]) if data["nps"] else ""
    elif view == "agent":
        data = queries.agent_view(session, user, f, now)
        chart = ""
    else:
        data = queries.analyst_view(session, f, now)
        chart = ""
    keep = [("view", view)] if view != allowed[0] else []
    segment_name = ""
    for _group, options in pages_filtered.segment_choices(request):
        segment_name = next((t for c, t in options if c == f.segment), segment_name)
    return render(
        request,
        "home/home.html",
        view=view,
        views=[(v, tr(request, VIEW_TITLES[v])) for v in allowed],
        title=tr(request, VIEW_TITLES[view]),
        d=data,
        nps_chart=chart,
        filter_query=f.query(),
        segment_name=segment_name,
        last_day=(f.end - timedelta(days=1)) if f.period == "custom" and f.end else None,
        severities=[(c, tr(request, n)) for c, n in SEVERITIES],
        **pages_filtered.template_context(request, f, "/", keep),
    )
