"""The retention dashboard: value at risk by class, why customers are at risk, alerts by reason,
win-back rate and uplift by playbook, and the churn-rate trend over scoring runs.

The segment filter narrows value at risk, reasons and alerts to the segment's customers; the
period filter keeps the alerts raised in it (the win-back report and the trend cover every
playbook and run)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.dataio.downloads import export_url
from retento.retention import pages_uplift, queries_home
from retento.retention import queries_web as q
from retento.retention.pages_common import reason_label, tab_counts
from retento.scoring import pages_filtered
from retento.scoring import queries as scoring_queries
from retento.web.chart_units import money_axis_name
from retento.web.charts import chart_json, grid
from retento.web.dashfilters import DashFilters
from retento.web.i18n import Formatter
from retento.web.labels import label_msgid
from retento.web.render import PageUser, page_router, render, request_locale, tr

router = page_router()
TREND_MIN_RUNS = 2

CLASS_COLOURS = {
    "vip": "#7c3aed",
    "major": "#1f6feb",
    "ordinary": "#22a06b",
    "small": "#d4a72c",
    "below_zero": "#cf222e",
}


def _var_chart(request: Request, classes: list[q.ClassRisk]) -> str:
    """Value at risk per value class (bars), coloured like the value pyramid; the value axis
    names its currency ("Value at risk ($)")."""
    shown = [c for c in classes if c.customers]
    return chart_json(
        {
            "grid": grid(right=24, top=8, bottom=4),
            "tooltip": {"trigger": "axis"},
            "xAxis": {
                "type": "value",
                "name": money_axis_name(request, tr(request, "Value at risk")),
                "nameLocation": "middle",
                "nameGap": 24,
            },
            "yAxis": {
                "type": "category",
                "inverse": True,
                "data": [tr(request, label_msgid("value_class", c.value_class)) for c in shown],
            },
            "series": [
                {
                    "name": tr(request, "Value at risk"),
                    "type": "bar",
                    "data": [
                        {
                            "value": float(c.value_at_risk),
                            "itemStyle": {"color": CLASS_COLOURS.get(c.value_class, "#8c959f")},
                        }
                        for c in shown
                    ],
                }
            ],
        }
    )


def _bars(request: Request, items: list[tuple[str, int]], colour: str, name: str) -> str:
    """Horizontal bars of counts, each written right of its bar as the page writes numbers
    ("1,428"), as the value dashboard's bars are: inside a short bar (8 customers beside 962)
    the count sat on the axis, unreadable; the axis leaves room after the longest bar so its
    count is not cut off at the right edge."""
    number = Formatter(request_locale(request)).number
    return chart_json(
        {
            "grid": grid(right=16, top=4, bottom=4),
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "value", "minInterval": 1, "boundaryGap": [0, "15%"]},
            "yAxis": {"type": "category", "inverse": True, "data": [n for n, _ in items]},
            "color": [colour],
            "series": [
                {
                    "name": name,
                    "type": "bar",
                    "data": [{"value": c, "label": {"formatter": number(c)}} for _, c in items],
                    "label": {"show": True, "position": "right"},
                }
            ],
        }
    )


def _trend_chart(request: Request, points: list[q.TrendPoint]) -> str:
    """Expected churn rate and the share at high risk per scoring run."""
    return chart_json(
        {
            "grid": grid(top=32),
            "legend": {"top": 0},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": [p.as_of.isoformat() for p in points]},
            "yAxis": {
                "type": "value",
                "min": 0,
                "max": 100,
                "axisLabel": {"formatter": "{value} %"},
            },
            "color": ["#cf222e", "#d4a72c"],
            "series": [
                {
                    "name": tr(request, "Expected churn rate"),
                    "type": "line",
                    "data": [round(p.mean_risk * 100, 1) for p in points],
                },
                {
                    "name": tr(request, "Share at high risk"),
                    "type": "line",
                    "lineStyle": {"type": "dashed"},
                    "data": [round(p.high_share * 100, 1) for p in points],
                },
            ],
        }
    )


def _alerts_by_reason(
    request: Request, session, user, f: DashFilters, customers
) -> list[tuple[str, str, int]]:
    """Open and acknowledged alerts per rule (raised in the period, of the segment's
    customers): (rule, name, count), most first."""
    from retento.retention import reasons

    require(user, "retention:read")
    locale = request_locale(request)
    rows = queries_home.alerts_by_rule(session, start=f.start, end=f.end, customers=customers)
    return [(r, reasons.label(reasons.RULE_NAMES, r, locale), n) for r, n in rows]


@router.get("/retention")
def dashboard(request: Request, session: DbSession, user: PageUser) -> Response:
    """Value at risk, reasons, win-back results and the churn trend on one page."""
    require(user, "retention:read")
    f = pages_filtered.parse(request, default_period="all")
    run = q.latest_risk_run(session)
    # The segment is that of the run the page shows (the latest run with churn risk).
    customers = (
        scoring_queries.segment_customers(run.id if run else -1, f.segment_kind, f.segment_value)
        if f.segment
        else None
    )
    alerts = _alerts_by_reason(request, session, user, f, customers)
    top_k = pages_uplift.parse_top_k(request)
    winback = pages_uplift.winback_rows(request, session, user, top_k)
    ctx: dict[str, Any] = {
        "run": run,
        "charts": {
            "alerts": _bars(
                request, [(n, c) for _, n, c in alerts], "#d4a72c", tr(request, "Alerts")
            )
            if alerts
            else ""
        },
        "alerts": alerts,
        "winback": winback,
        **pages_uplift.qini_context(request, winback, top_k),
        "uplift_csv": export_url(request, "/retention/uplift.csv", ("top_k",))
        if can(user, "data:export")
        else "",
    }
    if run is not None:
        if customers is None:
            classes = q.value_at_risk_by_class(session, run.id, actor=user)
            reasons = q.reason_counts(session, run.id, actor=user)
        else:
            require(user, "score:read")
            classes = queries_home.var_by_class(session, run.id, customers)
            reasons = queries_home.reason_counts(session, run.id, customers)
        trend = q.churn_trend(session, actor=user)
        total_var = sum((c.value_at_risk for c in classes), q.money(0))
        ctx |= {
            "classes": classes,
            "total_var": total_var,
            "total_at_risk": sum(c.at_risk for c in classes),
            # customers at high risk whose run listed no reason: not in the reasons chart
            "unexplained": sum(c.at_risk for c in classes) - sum(n for _, n in reasons),
            "total_customers": sum(c.customers for c in classes),
            "reasons": reasons,
            "trend": trend,
            "high_risk": q.HIGH_RISK,
            "horizon_days": ((run.params or {}).get("churn") or {}).get("horizon_days"),
        }
        ctx["charts"] |= {
            "var": _var_chart(request, classes),
            "reasons": _bars(
                request,
                [(reason_label(request, c), n) for c, n in reasons],
                "#cf222e",
                tr(request, "Customers"),
            )
            if reasons
            else "",
            # A line needs two points: with one run the page says so instead of a lone dot.
            "trend": _trend_chart(request, trend) if len(trend) >= TREND_MIN_RUNS else "",
        }
    ctx |= pages_filtered.template_context(request, f, "/retention")
    return render(request, "retention/dashboard.html", **ctx, counts=tab_counts(session, user))
