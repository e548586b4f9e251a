"""Complaint analytics: volume, Pareto, SLA times, remedies, recovery, repurchase, and the
form that logs a PDCA improvement."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints import analytics, improvements
from retento.complaints.models import (
    PDCA_STAGES,
)
from retento.complaints.pages.common import (
    category_options,
    is_zh,
    reraise_access,
    root_cause_options,
    user_options,
)
from retento.complaints.schemas import (
    ImprovementCreate,
)
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.web.charts import grid
from retento.web.forms import PageForm
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()


# --- dashboard ---------------------------------------------------------------------------------


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _cause_name(request: Request, cause: str | None) -> str:
    """A root cause in the page's language when it is a common one, else as typed."""
    msgid = label_msgid("root_cause", cause)
    return tr(request, msgid) if msgid.strip() else msgid


def _charts(request: Request, d: dict[str, Any]) -> dict[str, str]:
    """ECharts options (JSON) for the dashboard's charts."""
    frame = grid(right=8, bottom=4)

    def bar(names: list[str], values: list[Any], name: str, color: str = "#1f6feb") -> str:
        return json.dumps(
            {
                "grid": frame,
                "tooltip": {"trigger": "axis"},
                "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0}},
                "yAxis": {"type": "value"},
                "color": [color],
                "series": [{"name": name, "type": "bar", "data": values}],
            },
            ensure_ascii=False,
        )

    vol = d["volume"]
    count = tr(request, "Complaints")
    charts = {
        "category": bar(
            [r["name"] for r in vol["by_category"]], [r["count"] for r in vol["by_category"]], count
        ),
        "channel": bar(
            [
                tr(request, label_msgid("complaint_channel", r["channel"]))
                for r in vol["by_channel"]
            ],
            [r["count"] for r in vol["by_channel"]],
            count,
            "#7c4dff",
        ),
    }
    pareto = d["pareto"]
    charts["pareto"] = json.dumps(
        {
            "grid": frame,
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "xAxis": {
                "type": "category",
                "data": [_cause_name(request, r["root_cause"]) for r in pareto],
                # every cause named: slanted when five or more share the width, cut if long
                "axisLabel": {
                    "interval": 0,
                    "rotate": 30 if len(pareto) > 4 else 0,
                    "width": 120,
                    "overflow": "truncate",
                },
            },
            "yAxis": [
                {"type": "value"},
                {"type": "value", "max": 100, "axisLabel": {"formatter": "{value} %"}},
            ],
            "color": ["#1f6feb", "#e5484d"],
            "series": [
                {"name": count, "type": "bar", "data": [r["count"] for r in pareto]},
                {
                    "name": tr(request, "Cumulative share"),
                    "type": "line",
                    "yAxisIndex": 1,
                    "data": [_pct(r["cumulative"]) for r in pareto],
                },
            ],
        },
        ensure_ascii=False,
    )
    t = d["times"]
    labels = [tr(request, "First response"), tr(request, "Resolution")]
    charts["times"] = json.dumps(
        {
            "grid": frame,
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "xAxis": {"type": "category", "data": labels},
            "yAxis": {"type": "value", "name": tr(request, "hours")},
            "color": ["#22a06b", "#f5a524", "#e5484d"],
            "series": [
                {
                    "name": tr(request, "Median"),
                    "type": "bar",
                    "data": [t["first_response"]["median_hours"], t["resolution"]["median_hours"]],
                },
                {
                    "name": tr(request, "90th percentile"),
                    "type": "bar",
                    "data": [t["first_response"]["p90_hours"], t["resolution"]["p90_hours"]],
                },
                {
                    "name": tr(request, "SLA target (average)"),
                    "type": "line",
                    "data": [
                        t["first_response"]["target_hours_avg"],
                        t["resolution"]["target_hours_avg"],
                    ],
                },
            ],
        },
        ensure_ascii=False,
    )
    rep = d["repurchase"]

    def rate_bar(rows: list[dict], group: str) -> str:
        return bar(
            [tr(request, label_msgid(group, str(r["group"]))) for r in rows],
            [_pct(r["rate"]) for r in rows],
            tr(request, "Repurchase rate (%)"),
            "#22a06b",
        )

    charts["repurchase_severity"] = rate_bar(rep["by_severity"], "severity")
    charts["repurchase_speed"] = rate_bar(rep["by_resolution_speed"], "speed")
    monthly = d["monthly"]
    charts["monthly"] = bar([r["month"] for r in monthly], [r["count"] for r in monthly], count)
    return charts


@router.get("/complaints/dashboard")
def complaint_dashboard(request: Request, session: DbSession, user: PageUser) -> Response:
    """Complaint analytics: volume, Pareto, SLA times, remedies, recovery, repurchase, PDCA log."""
    return _render_dashboard(request, session, user)


def _render_dashboard(
    request: Request,
    session: Session,
    user: User,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    d = analytics.dashboard(session, actor=user)
    zh = is_zh(request)
    for r in d["volume"]["by_category"]:  # the table and the chart: in the reader's language
        r["name"] = r["name_zh"] if zh and r["name_zh"] else r["name"]
    return render(
        request,
        "complaints/dashboard.html",
        status_code=status_code,
        d=d,
        charts=_charts(request, d),
        pct=_pct,
        improvements=improvements.list_improvements(session, actor=user),
        users={u.id: (u.display_name or u.username) for u in session.scalars(select(User))},
        owners=user_options(session),
        categories=category_options(request, session, user),
        root_causes=root_cause_options(request, [r["root_cause"] for r in d["pareto"]]),
        form=form or {},
        errors=errors or {},
        stages=PDCA_STAGES,
    )


@router.post("/complaints/dashboard/improvements")
def improvement_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Log a PDCA improvement against a root cause."""
    require(user, "complaint:improve")
    keys = ("title", "root_cause", "category_id", "owner_id", "plan", "due_on")
    shown = {k: str(form.get(k) or "").strip() for k in keys}
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items()}
    data["title"], data["root_cause"], data["plan"] = (
        shown["title"],
        shown["root_cause"],
        shown["plan"],
    )
    try:
        a = improvements.create_improvement(session, ImprovementCreate(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        return _render_dashboard(request, session, user, shown, form_errors(request, exc), 422)
    flash(request, tr(request, "The improvement was logged."))
    return redirect(request, f"/complaints/improvements/{a.id}")
