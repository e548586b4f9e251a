"""Web pages: the value dashboard, the filtered scores list and the customer 360 scores panel."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, defer, object_session
from starlette.background import BackgroundTask

from retento.auth.models import User
from retento.auth.permissions import require
from retento.auth.service import list_assignable_users
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, NotFound, RetentoError
from retento.core.validation import DbId, is_id, offset_from_text
from retento.customers.models import Customer
from retento.scoring import (
    dashboard_cache,
    jobs,
    pages_churn,
    pages_filtered,
    queries,
    service,
)
from retento.scoring.models import LABELS, MODELS, STAGES, VALUE_CLASSES, CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import label_msgid, register_labels
from retento.web.nav import NavItem, register_nav
from retento.web.panels import Panel, register_panel
from retento.web.render import (
    PageUser,
    flash,
    is_htmx,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)
from retento.work.queue import run_in_web

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

PAGE_SIZE = 50
HISTORY_ROWS = 6
RUN_ROWS = 10
CLASS_COLOURS = {
    "vip": "#7c3aed",
    "major": "#1f6feb",
    "ordinary": "#22a06b",
    "small": "#d4a72c",
    "below_zero": "#cf222e",
}

SORT_OPTIONS = (
    ("-clv", N_("CLV, highest first")),
    ("clv", N_("CLV, lowest first")),
    ("-churn_risk", N_("Churn risk, highest first")),
    ("p_alive", N_("P(alive), lowest first")),
    ("-p_alive", N_("P(alive), highest first")),
    ("-profit", N_("Profit, highest first")),
    ("-expected_purchases", N_("Expected purchases, most first")),
    ("customer_id", N_("Customer number")),
)
SORTS = {code for code, _ in SORT_OPTIONS}

# One line per score on the 360 panel: what the number means.
EXPLAIN = {
    "value_class": N_(
        "Place in the customer pyramid by profit: VIP (top 5 %), major (next 15 %), "
        "ordinary (next 80 %), then small and below-zero customers."
    ),
    "label": N_(
        "MVC: brings the most profit today; MGC: the most future value to grow; "
        "BZ: costs more than it brings."
    ),
    "loyalty_stage": N_(
        "Step on the loyalty ladder (potential, new, regular, old, loyal), "
        "from how long and how often the customer has bought."
    ),
    "clv": N_("Customer lifetime value: the discounted profit expected from this customer."),
    "p_alive": N_(
        "Probability that the customer is still active rather than silently gone, "
        "judged from the purchase rhythm."
    ),
    "expected_purchases": N_(
        "Number of purchases the model expects from this customer over the forecast horizon."
    ),
    "rfm_cell": N_("Recency, frequency and money quintiles, 5 = best (e.g. 545)."),
    "lapsed": N_("Lapsed means the customer is overdue compared with their usual buying rhythm."),
}


def _clean(value: Any) -> Any:
    """NaN and infinities become ``None`` so the JSON parses in the browser."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _json(option: dict[str, Any]) -> str:
    """An ECharts option as JSON for ``data-chart``."""
    return json.dumps(_clean(option), ensure_ascii=False)


def _num(value: Any) -> float | None:
    """A finite float or ``None``."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _pct(value: Any) -> str:
    """``0.2345`` → ``23.5 %`` (``—`` when unknown)."""
    f = _num(value)
    return "—" if f is None else f"{f * 100:.1f} %"


# --- charts ------------------------------------------------------------------------------


def _pyramid_chart(request: Request, pyramid: dict[str, Any]) -> str:
    """The value pyramid as an ECharts funnel (VIP on top), labelled with counts and shares."""
    classes = pyramid.get("classes", [])
    data = []
    for width, row in enumerate(classes, start=1):
        name = tr(request, label_msgid("value_class", row["value_class"]))
        data.append(
            {
                "value": width,
                "name": f"{name} · {row['customers']} · {_pct(row.get('profit_share'))}",
                "itemStyle": {"color": CLASS_COLOURS.get(row["value_class"], "#8c959f")},
            }
        )
    return _json(
        {
            "tooltip": {"show": False},
            "series": [
                {
                    "type": "funnel",
                    "sort": "ascending",
                    "left": "10%",
                    "width": "80%",
                    "top": 8,
                    "bottom": 8,
                    "minSize": "20%",
                    "gap": 2,
                    "label": {"position": "inside", "color": "#fff", "fontWeight": "bold"},
                    "data": data,
                }
            ],
        }
    )


def _pareto_chart(request: Request, pareto: dict[str, Any]) -> str:
    """Cumulative profit share against customer share, with the 80 % point marked."""
    xs = pareto.get("customer_share", [])
    ys = pareto.get("profit_share", [])
    point = _num(pareto.get("point_80"))
    series: list[dict[str, Any]] = [
        {
            "name": tr(request, "Share of profit"),
            "type": "line",
            "showSymbol": False,
            "data": [[x, y] for x, y in zip(xs, ys, strict=False)],
            "areaStyle": {"opacity": 0.08},
        },
        {
            "name": tr(request, "Equal shares"),
            "type": "line",
            "showSymbol": False,
            "lineStyle": {"type": "dashed", "color": "#8c959f"},
            "data": [[0, 0], [1, 1]],
        },
    ]
    if point is not None:
        label = tr(request, "80 %% of profit from %(share)s of customers", share=_pct(point))
        series[0]["markPoint"] = {
            "symbolSize": 12,
            "symbol": "circle",
            "data": [{"coord": [point, 0.8], "name": "80/20"}],
            "label": {"show": True, "position": "right", "formatter": label},
        }
        series[0]["markLine"] = {
            "symbol": "none",
            "lineStyle": {"type": "dotted"},
            "data": [{"xAxis": point}, {"yAxis": 0.8}],
            "label": {"show": False},
        }
    return _json(
        {
            "grid": {"left": 8, "right": 24, "top": 28, "bottom": 24, "containLabel": True},
            "legend": {"top": 0},
            "tooltip": {"trigger": "axis"},
            "xAxis": {
                "type": "value",
                "min": 0,
                "max": 1,
                "name": tr(request, "Share of customers"),
                "nameLocation": "middle",
                "nameGap": 24,
            },
            "yAxis": {"type": "value", "min": 0, "max": 1},
            "color": ["#1f6feb", "#8c959f"],
            "series": series,
        }
    )


def _histogram_chart(request: Request, hist: dict[str, Any], name: str, digits: int) -> str:
    """A histogram from stored bin edges and counts."""
    edges = hist.get("edges", [])
    counts = hist.get("counts", [])
    cats = [
        f"{edges[i]:,.{digits}f}–{edges[i + 1]:,.{digits}f}"
        for i in range(min(len(counts), len(edges) - 1))
    ]
    return _json(
        {
            "grid": {"left": 8, "right": 8, "top": 16, "bottom": 4, "containLabel": True},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": cats, "axisLabel": {"rotate": 40}},
            "yAxis": {"type": "value", "name": tr(request, "Customers")},
            "color": ["#1f6feb"],
            "series": [{"name": name, "type": "bar", "barCategoryGap": "8%", "data": counts}],
        }
    )


def _scatter_chart(request: Request, points: list, x_name: str) -> str:
    """Churn risk or P(alive) against CLV, one point per customer (the third value is the
    customer id); ``x_name`` names the measure and the model behind it."""
    return _json(
        {
            "grid": {"left": 8, "right": 16, "top": 16, "bottom": 24, "containLabel": True},
            "tooltip": {"trigger": "item"},
            "xAxis": {
                "type": "value",
                "min": 0,
                "max": 1,
                "name": x_name,
                "nameLocation": "middle",
                "nameGap": 24,
            },
            "yAxis": {"type": "value", "name": tr(request, "CLV")},
            "color": ["#7c3aed"],
            "series": [
                {
                    "name": tr(request, "Customers"),
                    "type": "scatter",
                    "symbolSize": 7,
                    "cursor": "pointer",
                    "data": points,
                }
            ],
        }
    )


def _cohort_chart(request: Request, cohorts: dict[str, Any]) -> str:
    """The share of each first-purchase cohort still buying, month by month, as a heat map."""
    rows = cohorts.get("cohorts", [])
    periods = cohorts.get("periods", [])
    data = []
    for y, shares in enumerate(cohorts.get("shares", [])):
        for x, share in enumerate(shares):
            if _num(share) is not None:
                # Percent, so each cell can print its value ("37") without a JS formatter.
                data.append([x, y, round(float(share) * 100)])
    return _json(
        {
            "grid": {"left": 8, "right": 8, "top": 8, "bottom": 48, "containLabel": True},
            "tooltip": {"position": "top"},
            "xAxis": {
                "type": "category",
                "data": [str(p) for p in periods],
                "name": tr(request, "Months since first purchase"),
                "nameLocation": "middle",
                "nameGap": 24,
                "splitArea": {"show": True},
            },
            "yAxis": {"type": "category", "data": rows, "inverse": True},
            "visualMap": {
                "min": 0,
                "max": 100,
                "calculable": True,
                "text": ["100 %", "0 %"],
                "orient": "horizontal",
                "left": "center",
                "bottom": 0,
                "itemHeight": 120,
                "inRange": {"color": ["#f6f8fa", "#9ecbff", "#1f6feb", "#0a3069"]},
            },
            "series": [
                {
                    "name": tr(request, "Still buying"),
                    "type": "heatmap",
                    "data": data,
                    "label": {
                        "show": True,
                        "formatter": "{@[2]}",
                        "fontSize": 10 if len(periods) <= 24 else 8,
                    },
                }
            ],
        }
    )


def _tracking_chart(request: Request, holdout: dict[str, Any]) -> str:
    """Cumulative repeat purchases, actual against expected, with the holdout period shaded."""
    rows = holdout.get("tracking", [])
    periods = [str(r["period"]) for r in rows]
    first_holdout = next((str(r["period"]) for r in rows if r.get("holdout")), None)
    actual: dict[str, Any] = {
        "name": tr(request, "Actual"),
        "type": "line",
        "showSymbol": False,
        "data": [r.get("actual_cumulative") for r in rows],
    }
    if first_holdout is not None:
        actual["markLine"] = {
            "symbol": "none",
            "lineStyle": {"type": "dashed", "color": "#cf222e"},
            "label": {"formatter": tr(request, "Holdout starts")},
            "data": [{"xAxis": first_holdout}],
        }
        actual["markArea"] = {
            "itemStyle": {"color": "rgba(207,34,46,0.06)"},
            "data": [[{"xAxis": first_holdout}, {"xAxis": periods[-1]}]],
        }
    return _json(
        {
            "grid": {"left": 8, "right": 16, "top": 28, "bottom": 24, "containLabel": True},
            "legend": {"top": 0},
            "tooltip": {"trigger": "axis"},
            "xAxis": {
                "type": "category",
                "data": periods,
                "name": tr(request, "Week"),
                "nameLocation": "middle",
                "nameGap": 24,
            },
            "yAxis": {"type": "value", "name": tr(request, "Repeat purchases")},
            "color": ["#1f6feb", "#22a06b"],
            "series": [
                actual,
                {
                    "name": tr(request, "Expected"),
                    "type": "line",
                    "showSymbol": False,
                    "lineStyle": {"type": "dashed"},
                    "data": [r.get("expected_cumulative") for r in rows],
                },
            ],
        }
    )


def _bars_chart(items: list[tuple[str, int]], colour: str) -> str:
    """A small horizontal bar chart of counts."""
    return _json(
        {
            "grid": {"left": 8, "right": 24, "top": 4, "bottom": 4, "containLabel": True},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "value", "minInterval": 1},
            "yAxis": {"type": "category", "data": [n for n, _ in items], "inverse": True},
            "color": [colour],
            "series": [{"type": "bar", "data": [c for _, c in items], "label": {"show": True}}],
        }
    )


# --- dashboard ---------------------------------------------------------------------------


def _fit_rows(fit: dict[str, Any]) -> list[tuple[str, float | None, float | None]]:
    """``(parameter, estimate, standard error)`` rows of the fit box."""
    params = fit.get("params") or {}
    errors = fit.get("standard_errors") or {}
    return [(k, _num(v), _num(errors.get(k))) for k, v in params.items()]


def _dashboard(
    request: Request, run: ScoreRun, report: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the dashboard shows about one successful run (``report`` replaces the run's
    own when the page is filtered)."""
    report = (run.report or {}) if report is None else report
    pyramid = report.get("pyramid") or {}
    pareto = report.get("pareto") or {}
    dist = report.get("distribution") or {}
    cohorts = report.get("cohorts") or {}
    holdout = report.get("holdout") or {}
    fit = report.get("fit") or {}
    stages = report.get("stages") or {}
    labels = report.get("labels") or {}
    stage_items = [
        (tr(request, label_msgid("loyalty_stage", s)), int(stages.get(s, 0))) for s in STAGES
    ]
    label_items = [
        (tr(request, label_msgid("value_label", code)), int(labels.get(code, 0))) for code in LABELS
    ]
    metrics = holdout.get("metrics") or {}
    churn = report.get("churn") or {}
    risk_dist = churn.get("distribution") or {}
    if risk_dist.get("scatter"):
        scatter = _scatter_chart(
            request, risk_dist["scatter"], pages_churn.risk_label(request, run)
        )
    elif dist.get("scatter"):
        scatter = _scatter_chart(
            request, dist["scatter"], pages_churn.alive_label(request, run.model)
        )
    else:
        scatter = ""
    return {
        "churn": churn,
        "churn_holdout": churn.get("holdout") or {},
        "spend": fit.get("spend") or {},
        "scatter_is_risk": bool(risk_dist.get("scatter")),
        "report": report,
        "pyramid": pyramid,
        "pareto": pareto,
        "fit": fit,
        "fit_rows": _fit_rows(fit),
        "gamma_gamma": fit.get("gamma_gamma") or {},
        "warnings": fit.get("warnings") or [],
        "holdout": holdout,
        "holdout_mae": _num(holdout.get("mae")) or _num(metrics.get("mae")),
        "by_frequency": holdout.get("by_frequency") or [],
        "stage_counts": list(zip(STAGES, stage_items, strict=True)),
        "label_counts": list(zip(LABELS, label_items, strict=True)),
        "charts": {
            "pyramid": _pyramid_chart(request, pyramid) if pyramid.get("classes") else "",
            "pareto": _pareto_chart(request, pareto) if pareto.get("customer_share") else "",
            "clv": _histogram_chart(request, dist["clv"], tr(request, "CLV"), 0)
            if (dist.get("clv") or {}).get("counts")
            else "",
            "p_alive": _histogram_chart(
                request, dist["p_alive"], pages_churn.alive_label(request, run.model), 2
            )
            if (dist.get("p_alive") or {}).get("counts")
            else "",
            "risk": _histogram_chart(
                request, risk_dist["hist"], pages_churn.risk_label(request, run), 1
            )
            if (risk_dist.get("hist") or {}).get("counts")
            else "",
            "scatter": scatter,
            "cohorts": _cohort_chart(request, cohorts) if cohorts.get("cohorts") else "",
            "tracking": _tracking_chart(request, holdout) if holdout.get("tracking") else "",
            "stages": _bars_chart(stage_items, "#22a06b"),
            "labels": _bars_chart(label_items, "#7c3aed"),
        },
    }


def _selected_run(request: Request, session: Session, user: User) -> ScoreRun | None:
    """The run chosen with ``?run=``, else the latest successful one (its report is loaded only
    when the dashboard has to be built)."""
    require(user, "score:read")
    raw = request.query_params.get("run", "").strip()
    if raw:
        if not is_id(raw):
            raise InvalidInput("run must be a run number", field="run")
        run_id: int | None = int(raw)
    else:
        run_id = queries.latest_run_id(session)
    if run_id is None:
        return None
    run = session.get(ScoreRun, run_id, options=[defer(ScoreRun.report)])
    if run is None:
        raise NotFound("Scoring run", run_id)
    return run


def _built(request: Request, run: ScoreRun, session: Session, f: Any) -> dict[str, Any]:
    """The dashboard of a successful run for the filters (computed on a cache miss only)."""
    ctx: dict[str, Any] = {**pages_churn.page_context(request, run), "filtered": None}
    if f.segment or f.start is not None:
        df = pages_filtered.scores_frame(session, run, f)
        ctx["filtered"] = pages_filtered.summary(df)
        ctx["data"] = _dashboard(request, run, pages_filtered.filtered_report(run, df))
    else:
        ctx["data"] = _dashboard(request, run)
    return ctx


@router.get("/value")
def value_dashboard(request: Request, session: DbSession, user: PageUser) -> Response:
    """The value dashboard of one scoring run (the latest by default), with the run history;
    the period and segment filters narrow its customer charts. A run's dashboard is built once
    per run, language and filters and then reused (``scoring.dashboard_cache``)."""
    require(user, "score:read")
    f = pages_filtered.parse(request)
    run = _selected_run(request, session, user)
    runs, total_runs = queries.runs_overview(session, RUN_ROWS)
    ctx: dict[str, Any] = {
        "run": run,
        "runs": runs,
        "total_runs": total_runs,
        "models": [(m, tr(request, label_msgid("score_model", m))) for m in MODELS],
        "data": {},
        "filtered": None,
        "progress": _progress_view(run) if run is not None and run.status == "running" else {},
        **pages_filtered.template_context(request, f, "/value", _run_param(request)),
    }
    if run is not None and run.status == "succeeded":
        key = (
            run.id,
            # A run is never changed once it succeeded; its finish time tells apart runs of the
            # same number in another database (a reset demo, tests).
            run.finished_at,
            request_locale(request),
            f.key(),
            queries.orders_mark(session) if f.start is not None else None,
        )
        ctx |= dashboard_cache.cached(key, lambda: _built(request, run, session, f))
        # Relationship metrics and the configured pyramid targets change without a new run.
        ctx |= pages_relationship.dashboard_context(request, session, f)
        ctx["targets"] = pages_relationship.configured_targets(session, run)
    else:
        ctx |= pages_churn.page_context(request, run)
    return render(request, "scoring/dashboard.html", **ctx)


def _run_param(request: Request) -> list[tuple[str, str]]:
    raw = request.query_params.get("run", "").strip()
    return [("run", raw)] if raw and is_id(raw) else []


@router.post("/value/runs")
def value_run(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    """Score every customer now (managers and admins), then show the new run."""
    require(user, "score:run")
    model = str(form.get("model") or "bgnbd")
    holdout = str(form.get("holdout_weeks") or "26").strip()
    churn_days = str(form.get("churn_horizon_days") or "").strip()
    as_of_raw = str(form.get("as_of") or "").strip()
    try:
        as_of = None
        if as_of_raw:
            try:
                as_of = datetime.combine(date.fromisoformat(as_of_raw), time(), tzinfo=UTC)
            except ValueError:
                raise InvalidInput("Enter the date as YYYY-MM-DD.", field="as_of") from None
        if model not in MODELS:
            raise InvalidInput(f"model must be one of {', '.join(MODELS)}.", field="model")
        if not (holdout.isascii() and holdout.isdigit() and len(holdout) <= 4):
            raise InvalidInput("Holdout weeks must be a whole number.", field="holdout_weeks")
        if churn_days and not (
            churn_days.isascii() and churn_days.isdigit() and len(churn_days) <= 4
        ):
            raise InvalidInput(
                "The churn horizon must be a whole number of days.", field="churn_horizon_days"
            )
        data = ScoreRunCreate(
            model=model,  # type: ignore[arg-type]
            holdout_weeks=int(holdout),
            churn_horizon_days=int(churn_days) if churn_days else None,
            as_of=as_of,
        )
        run = service.start_run(session, data, actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        message = exc.message if isinstance(exc, RetentoError) else str(exc.errors()[0]["msg"])
        flash(request, tr(request, "Scoring could not start: %(reason)s", reason=message), "error")
        return redirect(request, "/value")
    # The request commits the run row and its work item before responding; a worker runs it
    # (or this process after the response, with RETENTO_RUN_WORK_IN_WEB) and the page polls the
    # progress stored on the item.
    item_id = jobs.enqueue_started_run(session, run, data, user.id)
    flash(request, tr(request, "Scoring run #%(id)s started.", id=run.id))
    response = redirect(request, f"/value?run={run.id}")
    if request.app.state.settings.run_work_in_web:
        response.background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    return response


STAGE_LABELS = {
    "queued": N_("Waiting to start"),
    "churn": N_("Estimating churn risk"),
    "summary": N_("Summarising purchases"),
    "fit": N_("Fitting the models"),
    "store": N_("Storing the scores"),
    "done": N_("Finishing"),
}


@router.get("/value/runs/{run_id}/progress")
def value_run_progress(
    request: Request, session: DbSession, user: PageUser, run_id: DbId
) -> Response:
    """The progress bar of a running run (polled by htmx); a finished run reloads the page."""
    run = service.get_run(session, run_id, actor=user)
    if run.status != "running":
        if run.status == "succeeded":
            flash(
                request,
                tr(
                    request,
                    "Scoring run #%(id)s finished: %(n)s customers scored.",
                    id=run.id,
                    n=run.customers_scored,
                ),
            )
        else:
            flash(request, tr(request, "Scoring run #%(id)s failed.", id=run.id), "error")
        return Response(status_code=200, headers={"HX-Redirect": f"/value?run={run.id}"})
    return render(request, "scoring/_progress.html", run=run, **_progress_view(run))


def _progress_view(run: ScoreRun) -> dict[str, Any]:
    """Stage and fraction of a running run; unknown (another process runs it) shows no bar."""
    stage, fraction = jobs.run_progress(object_session(run), run.id)
    return {
        "stage_label": STAGE_LABELS.get(stage or "", N_("Running in another process")),
        "fraction": fraction,
    }


# --- scores list -------------------------------------------------------------------------


def _float(
    raw: str, field: str, problems: list[FieldError], lo: float | None = None
) -> float | None:
    """Parse one numeric filter, noting a problem instead of failing."""
    if not raw:
        return None
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        problems.append(FieldError(field, f"{field} must be a number"))
        return None
    if not math.isfinite(value) or (lo is not None and not lo <= value <= 1):
        problems.append(FieldError(field, f"{field} must be between 0 and 1"))
        return None
    return value


def _score_filters(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """Service filters and the raw values to echo back in the form, from the query string."""
    qp = request.query_params
    keys = (
        "value_class", "label", "stage", "p_alive_lt", "p_alive_gte", "clv_gte", "owner", "sort",
        "run", "churn_risk_gte",
    )  # fmt: skip
    raw = {k: qp.get(k, "").strip() for k in keys}
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    for key, allowed in (("value_class", VALUE_CLASSES), ("label", LABELS), ("stage", STAGES)):
        if raw[key] in allowed:
            filters[key] = raw[key]
        else:
            raw[key] = ""
    filters["p_alive_lt"] = _float(raw["p_alive_lt"], "p_alive_lt", problems, lo=0.0)
    filters["p_alive_gte"] = _float(raw["p_alive_gte"], "p_alive_gte", problems, lo=0.0)
    filters["clv_gte"] = _float(raw["clv_gte"], "clv_gte", problems)
    filters["churn_risk_gte"] = _float(raw["churn_risk_gte"], "churn_risk_gte", problems, lo=0.0)
    for key, field in (("owner", "owner_id"), ("run", "run_id")):
        if raw[key]:
            if not is_id(raw[key]):
                problems.append(FieldError(key, f"{key} must be a number"))
            else:
                filters[field] = int(raw[key])
    if raw["sort"] not in SORTS:
        raw["sort"] = "-clv"
    filters["sort"] = raw["sort"]
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    return filters, raw


def _offset(request: Request) -> int:
    value = request.query_params.get("offset", "0")
    return offset_from_text(value)


@router.get("/value/customers")
def value_customers(request: Request, session: DbSession, user: PageUser) -> Response:
    """Scored customers filtered by class, label, stage, P(alive) and CLV (htmx swaps results)."""
    require(user, "score:read")
    filters, raw = _score_filters(request)
    offset = _offset(request)
    if filters.get("run_id") is None and service.latest_run(session) is None:
        return render(
            request,
            "scoring/customers.html",
            run=None,
            f=raw,
            **_choices(request, session),
            **pages_churn.page_context(request, None),
        )
    run, rows, total = service.list_scores(
        session, actor=user, limit=PAGE_SIZE, offset=offset, **filters
    )
    ids = [r.customer_id for r in rows]
    names = (
        dict(
            session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
            .tuples()
            .all()
        )
        if ids
        else {}
    )
    ctx = {
        "run": run,
        "rows": rows,
        "names": names,
        "total": total,
        "has_next": offset + len(rows) < total,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        **pages_churn.page_context(request, run),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "scoring/_scores.html", **ctx)
    return render(request, "scoring/customers.html", **ctx, **_choices(request, session))


def _choices(request: Request, session: Session) -> dict[str, Any]:
    """The options of the filter form's selects."""
    return {
        "value_classes": [(c, tr(request, label_msgid("value_class", c))) for c in VALUE_CLASSES],
        "labels": [(c, tr(request, label_msgid("value_label", c))) for c in LABELS],
        "stages": [(c, tr(request, label_msgid("loyalty_stage", c))) for c in STAGES],
        "owners": [
            (str(u.id), u.display_name or u.username) for u in list_assignable_users(session)
        ],
        "sorts": [(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
    }


# --- customer 360 panel ------------------------------------------------------------------


@dataclass(frozen=True)
class _PanelRun:
    """What the 360 panel needs of a scoring run: its model and date, and the few parts of its
    report the labels read (the whole report, ~130 KB of JSON, is never loaded for the panel)."""

    id: int
    model: str
    as_of: datetime
    report: dict[str, Any]


# JSON paths of the report that the panel's labels read (pages_churn, _class_explain).
_PANEL_REPORT_PATHS = (
    ("fit", "horizon_weeks"),
    ("settings", "top_pct"),
    ("churn", "status"),
    ("churn", "horizon_days"),
    ("churn", "reason_code"),
    ("churn", "holdout", "reason_code"),
)


def _panel_report(values: tuple[Any, ...]) -> dict[str, Any]:
    """The report's parts at ``_PANEL_REPORT_PATHS`` as a nested dict shaped like the report."""
    out: dict[str, Any] = {}
    for path, value in zip(_PANEL_REPORT_PATHS, values, strict=True):
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def scores_for_panel(
    request: Request, session: Session, customer: Customer, user: User
) -> dict[str, Any] | None:
    """The customer's latest scores with explanations and the past runs; hidden before any run.

    One query reads the history with its runs' model, date and the report parts the labels use.
    """
    require(user, "score:read")
    paths = [ScoreRun.report[path] for path in _PANEL_REPORT_PATHS]
    rows = session.execute(
        select(CustomerScore, ScoreRun.model, ScoreRun.as_of, *paths)
        .join(ScoreRun, ScoreRun.id == CustomerScore.run_id)
        .where(CustomerScore.customer_id == customer.id, ScoreRun.status == "succeeded")
        .order_by(CustomerScore.run_id.desc())
        .limit(HISTORY_ROWS)
    ).all()
    if (
        not rows
        and session.scalar(select(ScoreRun.id).where(ScoreRun.status == "succeeded").limit(1))
        is None
    ):
        return None
    history: list[CustomerScore] = [r[0] for r in rows]
    runs: dict[int, _PanelRun] = {
        r[0].run_id: _PanelRun(r[0].run_id, r[1], r[2], _panel_report(tuple(r[3:]))) for r in rows
    }
    latest: CustomerScore | None = history[0] if history else None
    latest_run = runs.get(latest.run_id) if latest is not None else None
    horizon = latest_run.report["fit"]["horizon_weeks"] if latest_run is not None else None
    return {
        **pages_churn.page_context(request, latest_run),  # type: ignore[arg-type]
        "reasons": pages_churn.reason_texts(request, latest.churn_reasons if latest else None),
        "one_time_mark": latest is not None
        and latest_run is not None
        and latest.p_alive is not None  # an erased customer's row keeps no P(alive)
        and pages_churn.one_time_safe_mark(latest_run.model, latest.frequency),
        "model_names": {rid: pages_churn.model_short(r.model) for rid, r in runs.items()},
        "latest": latest,
        "history": history,
        "runs": runs,
        "horizon": horizon,
        "explain": {k: tr(request, v) for k, v in EXPLAIN.items()}
        | _class_explain(request, latest_run),  # type: ignore[arg-type]
    }


def _class_explain(request: Request, run: ScoreRun | None) -> dict[str, str]:
    """The value-class line with the cut-offs the customer's run used (value settings)."""
    top = ((run.report or {}).get("settings") or {}).get("top_pct") if run is not None else None
    if not top or len(top) != 3:
        return {}
    vip, major, ordinary = (float(t) for t in top)
    return {
        "value_class": tr(
            request,
            "Place in the customer pyramid by profit: VIP (top %(vip)s %%), major (next "
            "%(major)s %%), ordinary (next %(ordinary)s %%), then small and below-zero customers.",
            vip=format(vip, "g"),
            major=format(major - vip, "g"),
            ordinary=format(ordinary - major, "g"),
        )
    }


register_panel(
    Panel(
        key="scores",
        title=N_("Value and loyalty scores"),
        template="scoring/_panel.html",
        load=scores_for_panel,
        permission="score:read",
        order=20,
        slot="side",
    )
)


# The list's CSV/XLSX export lives in its own module; its routes join this page router.
from retento.scoring import pages_export  # noqa: E402

router.include_router(pages_export.router)

# The value settings page and the relationship metrics (dashboard section, 360 panel).
from retento.scoring import pages_relationship, pages_settings  # noqa: E402

router.include_router(pages_settings.router)
