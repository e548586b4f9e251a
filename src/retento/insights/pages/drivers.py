"""Drivers page: what explains spend and satisfaction (coefficients with intervals, R²)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError, number_error
from retento.insights import drivers_queries as q
from retento.insights.registry import Insight, register_insight, render_insight
from retento.surveys.service import survey_names
from retento.web.charts import chart_json, grid
from retento.web.i18n import N_
from retento.web.render import PageUser, error_text, page_router, request_locale, tr

router = page_router()

register_insight(
    Insight(
        key="drivers",
        title=N_("Drivers"),
        summary=N_(
            "What explains spend and satisfaction: a regularised regression with confidence "
            "intervals, ranked by importance, checked on held-out customers."
        ),
        href="/insights/drivers",
        order=50,
    )
)

QUADRANT_LABELS = {
    "concentrate here": N_("concentrate here"),
    "keep up the good work": N_("keep up the good work"),
    "low priority": N_("low priority"),
    "possible overkill": N_("possible overkill"),
}
SHOWN = 15


def _coef_chart(request: Request, drivers: list[dict[str, Any]]) -> str:
    """Horizontal bars of the standardised coefficients with the interval as whiskers (a
    boxplot series whose box is collapsed on the estimate)."""
    top = [d for d in drivers[:SHOWN]][::-1]
    labels = [d["label"] for d in top]
    return chart_json(
        {
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "legend": {"top": 0},
            "grid": grid(right=24, top=30, bottom=36),
            "xAxis": {
                "type": "value",
                "name": tr(request, "Standardised coefficient"),
                "nameLocation": "middle",
                "nameGap": 26,
            },
            "yAxis": {
                "type": "category",
                "data": labels,
                "axisLabel": {"width": 220, "overflow": "truncate"},
            },
            "series": [
                {
                    "name": tr(request, "Coefficient"),
                    "type": "bar",
                    "data": [round(d["coef"] or 0.0, 4) for d in top],
                    "itemStyle": {"opacity": 0.75},
                },
                {
                    "name": tr(request, "Confidence interval"),
                    "type": "boxplot",
                    "boxWidth": [2, 6],
                    "data": [
                        [
                            round(d["ci_lower"] or 0.0, 4),
                            round(d["coef"] or 0.0, 4),
                            round(d["coef"] or 0.0, 4),
                            round(d["coef"] or 0.0, 4),
                            round(d["ci_upper"] or 0.0, 4),
                        ]
                        for d in top
                    ],
                },
            ],
        }
    )


def _matrix_chart(request: Request, drivers: list[dict[str, Any]]) -> str | None:
    pts = [d for d in drivers if d.get("quadrant")]
    if len(pts) < 2:
        return None
    mean_i = sum(d["coef"] for d in pts) / len(pts)
    mean_p = sum(d["performance"] for d in pts) / len(pts)
    return chart_json(
        {
            "tooltip": {"trigger": "item"},
            "grid": grid(right=160, top=30, bottom=36),
            "xAxis": {
                "type": "value",
                "name": tr(request, "Importance"),
                "nameLocation": "middle",
                "nameGap": 26,
                "scale": True,
            },
            "yAxis": {
                "type": "value",
                "name": tr(request, "Performance (0–100)"),
                "scale": True,
                # at the plot's left edge, not where importance is 0: there its name stood over
                # the mean importance line's value
                "axisLine": {"onZero": False},
            },
            "series": [
                {
                    "type": "scatter",
                    "symbolSize": 12,
                    "label": {
                        "show": True,
                        "position": "right",
                        "formatter": "{b}",
                        "fontSize": 10,
                    },
                    # drivers close together: a name that would cover another is left to the
                    # tooltip and the table below
                    "labelLayout": {"hideOverlap": True},
                    "data": [
                        {
                            "name": d["label"][:30],
                            "value": [round(d["coef"], 3), round(d["performance"], 1)],
                        }
                        for d in pts
                    ],
                    "markLine": {
                        "silent": True,
                        "symbol": "none",
                        "lineStyle": {"type": "dashed"},
                        "data": [{"xAxis": round(mean_i, 3)}, {"yAxis": round(mean_p, 1)}],
                    },
                }
            ],
        }
    )


def _form(request: Request) -> dict[str, str]:
    qp = request.query_params
    return {
        "outcome": qp.get("outcome", "spend"),
        "period_days": qp.get("period_days", "365"),
        "survey_id": qp.get("survey_id", ""),
        "ci": qp.get("ci", "bootstrap"),
    }


def _report_args(request: Request, form: dict[str, str], surveys: list) -> dict[str, Any]:
    """``driver_report``'s arguments from the page's query (a bad one is a 422 naming it); an
    empty survey with the survey outcome takes the first survey, as the form shows it."""
    q.check_choice("outcome", form["outcome"])
    q.check_choice("ci", form["ci"])
    try:
        period = int(form["period_days"])
    except ValueError:
        raise number_error(
            "period_days", N_("Outcome period (days)"), whole=True
        ).refuse() from None
    survey_id = None
    if form["outcome"] == "survey_items":
        if not form["survey_id"]:
            form["survey_id"] = str(surveys[0][0]) if surveys else ""
        try:
            survey_id = int(form["survey_id"])
        except ValueError:
            raise InvalidInput(tr(request, "Choose a survey."), field="survey_id") from None
    return {
        "outcome": form["outcome"],
        "period_days": period,
        "survey_id": survey_id,
        "ci": form["ci"],
    }


@router.get("/insights/drivers")
def drivers_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """Choose an outcome; see what explains it."""
    require(user, "score:read")
    form = _form(request)
    surveys = survey_names(session, request_locale(request))
    errors: dict[str, str] = {}
    report = None
    status = 200
    try:
        report = q.driver_report(session, actor=user, **_report_args(request, form, surveys))
    except RetentoError as exc:
        if exc.status in (401, 403):
            raise
        errors[exc.field or ""] = error_text(request, exc.message)
        status = 422 if exc.status in (400, 422) else exc.status
    charts = {}
    if report:
        charts["coef"] = _coef_chart(request, report["drivers"])
        charts["matrix"] = _matrix_chart(request, report["drivers"])
        for d in report["drivers"]:
            if d.get("quadrant"):
                d["quadrant_label"] = tr(request, QUADRANT_LABELS[d["quadrant"]])
    return render_insight(
        request,
        user,
        "insights/drivers.html",
        status_code=status,
        f=form,
        errors=errors,
        report=report,
        charts=charts,
        shown=SHOWN,
        outcomes=[(k, tr(request, v)) for k, v in q.OUTCOME_LABELS.items()],
        ci_options=[(k, tr(request, v)) for k, v in q.CI_LABELS.items()],
        surveys=[(str(i), n) for i, n in surveys],
    )


@router.get("/insights/drivers/export.csv")
def drivers_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """Every driver of the page's report (same ``outcome``, ``period_days``, ``survey_id``,
    ``ci``) as CSV: coefficient with its interval, per unit, importance, how often it was kept,
    and performance and quadrant when the outcome has them."""
    from retento.dataio.downloads import as_ratio, table_download

    require(user, "score:read")
    require(user, "data:export")
    form = _form(request)
    surveys = survey_names(session, request_locale(request))
    report = q.driver_report(session, actor=user, **_report_args(request, form, surveys))
    drivers = report["drivers"]
    matrix = any("performance" in d for d in drivers)
    header = [
        tr(request, "Driver"),
        tr(request, "Coefficient"),
        tr(request, "Interval, low"),
        tr(request, "Interval, high"),
        tr(request, "Per unit"),
        tr(request, "Importance"),
        tr(request, "Kept in resamples"),
    ]
    if matrix:
        header += [tr(request, "Performance"), tr(request, "Quadrant")]
    rows = []
    for d in drivers:
        row = [
            d["label"],
            as_ratio(d["coef"], 6),
            as_ratio(d["ci_lower"], 6),
            as_ratio(d["ci_upper"], 6),
            as_ratio(d["coef_per_unit"], 6),
            as_ratio(d["importance"]),
            as_ratio(d["selection_frequency"]),
        ]
        if matrix:
            quadrant = d.get("quadrant")
            row += [
                as_ratio(d.get("performance"), 2),
                tr(request, QUADRANT_LABELS[quadrant]) if quadrant else "",
            ]
        rows.append(row)
    return table_download(request, user, header, rows, filename=f"drivers-{form['outcome']}")
