"""Complaint analytics: volume, Pareto, SLA times, remedies, recovery, repurchase, and the
form that logs a PDCA improvement. Every figure follows the page's filters (period, value
class, channel, category), and the same filters download the figures as CSV."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    CHANNELS,
    PDCA_STAGES,
)
from retento.complaints.pages.common import (
    category_options,
    is_zh,
    reraise_access,
    root_cause_options,
    tree_label,
    user_options,
)
from retento.complaints.policies import VALUE_CLASSES
from retento.complaints.schemas import (
    ImprovementCreate,
)
from retento.complaints.settings import category_tree
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.dataio.downloads import Batches, download
from retento.web import dashfilters
from retento.web.charts import grid
from retento.web.forms import PageForm
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    error_text,
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


# --- filters -----------------------------------------------------------------------------------

# The segment select offers the value classes only: a complaint records its customer's class at
# intake (the class its SLA was chosen for), so the filter needs no scoring run.
SEGMENTS = {"value_class": VALUE_CLASSES}


@dataclass(frozen=True)
class Filters:
    """The dashboard's parsed filters; ``errors`` (field → message) when the query was bad,
    and then the figures are those of every complaint."""

    dash: dashfilters.DashFilters
    channel: str = ""
    category: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def dashboard_args(self) -> dict[str, Any]:
        """The keyword arguments of ``analytics.dashboard`` for these filters."""
        if self.errors:
            return {}
        return {
            "since": self.dash.start,
            "until": self.dash.end,
            "value_class": self.dash.segment_value or None,
            "channel": self.channel or None,
            "category": self.category or None,
        }

    def query(self) -> str:
        """The filters as a query string (the CSV link keeps them)."""
        return self.dash.query(channel=self.channel, category=self.category)


def parse_filters(request: Request, session: Session) -> Filters:
    """The period, value class (``segment=value_class:vip``), channel and category of the
    query string; bad values are collected as field errors in the reader's language."""
    errors: dict[str, str] = {}
    dash, bad = dashfilters.parse_or_typed(request, SEGMENTS, default_period="all")
    if bad is not None:
        errors[bad.field or "period"] = error_text(request, bad.message)
    channel = request.query_params.get("channel", "").strip()
    category = request.query_params.get("category", "").strip().lower()
    for name, value in (("channel", channel), ("category", category)):
        try:
            analytics.make_scope(session, **{name: value})
        except InvalidInput as exc:
            errors[exc.field or name] = error_text(request, exc.message)
    return Filters(dash, channel, category, errors)


def _filter_context(request: Request, session: Session, f: Filters) -> dict[str, Any]:
    """What ``_dash_filters.html`` needs, with the channel and category selects."""
    classes = [
        (f"value_class:{c}", tr(request, label_msgid("value_class", c))) for c in VALUE_CLASSES
    ]
    channels = [(c, tr(request, label_msgid("complaint_channel", c))) for c in CHANNELS]
    categories = [(c.code, tree_label(request, path)) for c, _, path in category_tree(session)]
    return {
        "dash": f.dash,
        "dash_segments": [(tr(request, "Value class"), classes)],
        "dash_segment_label": tr(request, "Value class"),
        "dash_periods": dashfilters.PERIOD_OPTIONS,
        "dash_action": "/complaints/dashboard",
        "dash_selects": [
            ("channel", tr(request, "Channel"), channels, f.channel),
            ("category", tr(request, "Category"), categories, f.category),
        ],
        "dash_errors": f.errors,
        "filters": f,
    }


@router.get("/complaints/dashboard")
def complaint_dashboard(request: Request, session: DbSession, user: PageUser) -> Response:
    """Complaint analytics: volume, Pareto, SLA times, remedies, recovery, repurchase, PDCA log.

    A bad filter gives the page back (422) with the field's error, showing every complaint."""
    require(user, "complaint:read")
    f = parse_filters(request, session)
    return _render_dashboard(
        request, session, user, filters=f, status_code=422 if f.errors else 200
    )


def _render_dashboard(
    request: Request,
    session: Session,
    user: User,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    filters: Filters | None = None,
) -> Response:
    f = filters or parse_filters(request, session)
    d = analytics.dashboard(session, actor=user, **f.dashboard_args())
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
        **_filter_context(request, session, f),
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


# --- CSV of the dashboard's figures --------------------------------------------------------------

CSV_HEADER = ["table", "group", "name", "measure", "value"]


def csv_rows(request: Request, d: dict[str, Any], f: Filters) -> list[list[Any]]:
    """The dashboard's figures in long form: one row per (table, group, measure); ``table``,
    ``group`` and ``measure`` are stable English codes, ``name`` the group in the reader's
    language; rates are fractions (0.25 = 25 %), times in hours, money with two decimals."""
    rows: list[list[Any]] = []

    def add(table: str, group: Any, name: str, measures: dict[str, Any]) -> None:
        for measure, value in measures.items():
            rows.append([table, group, name, measure, value])

    dash = f.dash
    add(
        "filter",
        "",
        "",
        {
            "period": dash.period,
            # the installation's days, the last one included
            "received_from": dash.first_day.isoformat() if dash.first_day else "",
            "received_to": dash.last_day.isoformat() if dash.last_day else "",
            "value_class": dash.segment_value,
            "channel": f.channel,
            "category": f.category,
        },
    )
    vol = d["volume"]
    for r in vol["by_category"]:
        add("by_category", r["category"], r["name"], {"complaints": r["count"]})
    for r in vol["by_channel"]:
        name = tr(request, label_msgid("complaint_channel", r["channel"]))
        add("by_channel", r["channel"], name, {"complaints": r["count"]})
    for kind, n in sorted(vol["by_kind"].items()):
        add("by_kind", kind, tr(request, label_msgid("complaint_kind", kind)), {"complaints": n})
    for r in d["monthly"]:
        add("by_month", r["month"], r["month"], {"complaints": r["count"]})
    for r in d["pareto"]:
        add(
            "root_causes",
            r["root_cause"],
            _cause_name(request, r["root_cause"]),
            {"complaints": r["count"], "share": r["share"], "cumulative_share": r["cumulative"]},
        )
    t = d["times"]
    for clock in ("first_response", "resolution"):
        add("sla", clock, tr(request, label_msgid("sla_clock", clock)), t[clock])
    add(
        "sla",
        "all",
        tr(request, "Complaints"),
        {
            k: t[k]
            for k in ("complaints", "with_sla", "responded", "resolved", "reopened", "reopen_rate")
        },
    )
    for r in d["remedies"]["by_kind"]:
        add(
            "remedies",
            r["kind"],
            tr(request, label_msgid("remedy_kind", r["kind"])),
            {"count": r["count"], "amount": r["amount"], "cost": r["cost"]},
        )
    add(
        "remedies",
        "all",
        tr(request, "Service recovery cost"),
        {"cost": d["remedies"]["total_cost"]},
    )
    add("recovery", "all", tr(request, "Recovery rate (won back)"), d["recovery"])
    rep = d["repurchase"]
    for r in rep["by_severity"]:
        name = tr(request, label_msgid("severity", str(r["group"])))
        add("repurchase_by_severity", r["group"], name, _rate_measures(r))
    for r in rep["by_resolution_speed"]:
        name = tr(request, label_msgid("speed", r["group"]))
        add("repurchase_by_speed", r["group"], name, _rate_measures(r))
    for r in rep["comparison"]:
        lit = (
            {"literature_rate": r["rate"]}
            if "rate" in r
            else {
                "literature_rate_low": r["rate_low"],
                "literature_rate_high": r["rate_high"],
            }
        )
        add(
            "repurchase_vs_literature",
            r["key"],
            tr(request, label_msgid("literature", r["key"])),
            {"own_rate": r["own"], **lit},
        )
    s = d["silent_dissatisfied"]
    add(
        "silent_dissatisfied",
        "all",
        tr(request, "Silent dissatisfied customers (estimate)"),
        {
            k: s[k]
            for k in (
                "complaints",
                "complaining_customers",
                "multiplier",
                "estimate_customers",
                "customer_base",
                "capped",
            )
        },
    )
    return rows


def _rate_measures(r: dict[str, Any]) -> dict[str, Any]:
    return {"complaints": r["complaints"], "repurchased": r["repurchased"], "rate": r["rate"]}


@router.get("/complaints/dashboard/export.csv")
def complaint_dashboard_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The dashboard's figures for the same filters as CSV (``data:export``); a bad filter is a
    422 naming the field, before any download starts."""
    require(user, "complaint:read")
    require(user, "data:export")
    f = parse_filters(request, session)
    if f.errors:
        name, message = next(iter(f.errors.items()))
        raise InvalidInput(message, field=name)
    args = f.dashboard_args()

    def produce(s: Session, actor: User) -> Batches:
        d = analytics.dashboard(s, actor=actor, **args)
        if is_zh(request):
            for r in d["volume"]["by_category"]:
                r["name"] = r["name_zh"] or r["name"]
        yield [CSV_HEADER]
        yield csv_rows(request, d, f)

    return download(
        request, user, produce, fmt="csv", filename="complaint-dashboard",
        sheet=tr(request, "Complaint dashboard"),
    )  # fmt: skip
