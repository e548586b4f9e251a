"""Insights: the journey funnel (SPEC §2) — customers reaching each stage, conversion and
drop-off overall and per channel, days between stages (``retento.journey.funnel``)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.insights.registry import Insight, register_insight, render_insight
from retento.journey import labels as _labels  # noqa: F401  (registers the labels)
from retento.journey.charts import api_url, channel_chart, funnel_chart
from retento.journey.funnel import SOURCE_LABELS, SOURCES, journey_funnel, parse_sources
from retento.web import dashfilters
from retento.web.i18n import N_
from retento.web.render import PageUser, page_router

router = page_router()

register_insight(
    Insight(
        key="journey",
        title=N_("Journey funnel"),
        summary=N_(
            "How far customers get through the journey stages, where they drop off, by channel, "
            "and how long they take from one stage to the next."
        ),
        href="/insights/journey",
        permission="touchpoint:read",
        order=60,
    )
)


@router.get("/insights/journey")
def journey_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """The journey funnel for a period."""
    require(user, "touchpoint:read")
    dash = dashfilters.parse(request, {}, default_period="365")
    sources = parse_sources(request.query_params.getlist("include"))
    funnel = journey_funnel(session, start=dash.start, end=dash.end, sources=sources)
    by_stage: dict[str, list] = {}
    for row in funnel.channels:
        by_stage.setdefault(row.stage, []).append(row)
    return render_insight(
        request,
        user,
        "insights/journey.html",
        funnel=funnel,
        channel_rows=by_stage,
        dash=dash,
        dash_periods=dashfilters.PERIOD_OPTIONS,
        charts={
            "funnel": funnel_chart(request, funnel),
            "channels": channel_chart(request, funnel),
        },
        api_url=api_url("/api/v1/insights/journey", dash, include=sources),
        period_checks=[("include", src, SOURCE_LABELS[src], src in sources) for src in SOURCES],
    )
