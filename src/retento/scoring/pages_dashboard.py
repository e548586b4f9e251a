"""The value dashboard (``/value``): one scoring run's charts and boxes with the run
history, the period and segment filters, starting a run and its progress bar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session, defer, object_session
from starlette.background import BackgroundTask

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import (
    InvalidInput,
    Msg,
    NotFound,
    RetentoError,
    choice_error,
    number_error,
)
from retento.core.validation import DbId, is_id
from retento.dataio.downloads import export_url
from retento.scoring import (
    dashboard_cache,
    jobs,
    pages_churn,
    pages_filtered,
    pages_relationship,
    queries,
    service,
)
from retento.scoring.models import LABELS, MODELS, STAGES, ScoreRun
from retento.scoring.pages_charts import (
    _bars_chart,
    _cohort_chart,
    _histogram_chart,
    _num,
    _pareto_chart,
    _pyramid_chart,
    _scatter_chart,
    _tracking_chart,
)
from retento.scoring.schemas import ScoreRunCreate
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)
from retento.work.queue import run_in_web

router = page_router()

RUN_ROWS = 10
# The dashboard's filters a table download keeps.
DASH_KEYS = ("period", "from", "to", "segment")


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
            "stages": _bars_chart(request, stage_items, "#22a06b"),
            "labels": _bars_chart(request, label_items, "#7c3aed"),
        },
    }


def _selected_run(request: Request, session: Session, user: User) -> ScoreRun | None:
    """The run chosen with ``?run=``, else the latest successful one (its report is loaded only
    when the dashboard has to be built)."""
    require(user, "score:read")
    raw = request.query_params.get("run", "").strip()
    if raw:
        if not is_id(raw):
            raise number_error("run", N_("Scoring run"), whole=True).refuse()
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
        if can(user, "data:export"):
            ctx["tables_csv"] = {
                t: export_url(request, "/value/tables.csv", DASH_KEYS, run=run.id, table=t)
                for t in ("pyramid", "labels", "pareto", "stages")
            }
    else:
        ctx |= pages_churn.page_context(request, run)
    return render(request, "scoring/dashboard.html", **ctx)


def _run_param(request: Request) -> list[tuple[str, str]]:
    raw = request.query_params.get("run", "").strip()
    return [("run", raw)] if raw and is_id(raw) else []


# The run form's fields as it labels them, for the reasons a run could not start.
RUN_LABELS = {
    "model": N_("Model"),
    "holdout_weeks": N_("Holdout weeks"),
    "churn_horizon_days": N_("Churn horizon (days)"),
    "as_of": N_("Score as of"),
}


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
                raise InvalidInput(
                    Msg("%(field)s must be a date as YYYY-MM-DD.", field=Msg(RUN_LABELS["as_of"])),
                    field="as_of",
                ) from None
        if model not in MODELS:
            choices = [(m, label_msgid("score_model", m)) for m in MODELS]
            raise choice_error("model", RUN_LABELS["model"], choices).refuse()
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
        if isinstance(exc, RetentoError):
            message = error_text(request, exc.message)
        else:
            # The schema's limits (holdout weeks up to 260 ...), named by the form's labels.
            field, text = next(iter(form_errors(request, exc).items()))
            label = tr(request, RUN_LABELS[field]) if field in RUN_LABELS else field
            message = tr(request, "%(field)s: %(message)s", field=label, message=text)
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
