"""What the Insights pages share: chart data for ``data-chart``, labels, the run parameters of a
form, and the progress box of a run computing in the background."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.errors import (
    InvalidInput,
    Msg,
    NotFound,
    RetentoError,
    choice_error,
    number_error,
)
from retento.insights import runs
from retento.insights.models import InsightRun
from retento.web.i18n import N_
from retento.web.render import error_text, redirect, tr

FEATURE_LABELS = {
    "recency": N_("Days since the last order"),
    "frequency": N_("Number of orders"),
    "monetary": N_("Revenue"),
    "clv": N_("CLV"),
    "churn_risk": N_("Churn risk"),
    "engagement": N_("Touchpoints (365 days)"),
}
LEVEL_LABELS = {
    "very_low": N_("very low"),
    "low": N_("low"),
    "mid": N_("middle"),
    "high": N_("high"),
    "very_high": N_("very high"),
}
METHOD_LABELS = {"kmeans": N_("k-means"), "gmm": N_("Gaussian mixture")}
CHOSEN_BY = {
    "silhouette": N_("k chosen by the highest silhouette"),
    "bic": N_("k chosen by the lowest BIC"),
    "fixed": N_("k fixed by you"),
}
LEVEL_OPTIONS = (("product", N_("Products")), ("category", N_("Categories")))
STAGES = {
    "starting": N_("Starting"),
    "clustering": N_("Clustering"),
    "profiles": N_("Profiling the segments"),
    "baskets": N_("Reading the baskets"),
    "itemsets": N_("Finding frequent itemsets"),
    "rules": N_("Building rules"),
    "sequences": N_("Reading the purchase sequences"),
    "patterns": N_("Finding frequent sequences"),
    "evaluation": N_("Measuring hit-rate@5"),
    "next products": N_("Learning what comes next"),
    "saving": N_("Saving"),
}
WINNERS = {
    "patterns": N_("Sequential rules"),
    "popularity": N_("Popularity baseline"),
    "repeat": N_("Repeat-purchase baseline"),
}


def lang(request: Request) -> str:
    from retento.web.render import request_locale

    return "zh" if request_locale(request).startswith("zh") else "en"


def form_params(form: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The non-empty text fields of a run form (the service checks and converts them)."""
    out: dict[str, Any] = {}
    for f in fields:
        raw = str(form.get(f) or "").strip()
        if raw:
            out[f] = raw
    return out


def error_dict(request: Request, exc: RetentoError) -> dict[str, str]:
    return {exc.field or "": error_text(request, exc.message)}


def start_run_page(
    request: Request,
    session: Session,
    user: User,
    params: dict[str, Any],
    start: Callable[..., InsightRun],
    *,
    href: str,
    rerender: Callable[[dict[str, str], int], Response],
) -> Response:
    """Start a run from a page's form and go to it, or show the form again with the error.

    ``start(session, session_factory, params, actor=)`` is the service's ``start_run``; it runs
    in a savepoint, so a refused start writes nothing. ``rerender(errors, status)`` draws the page
    with the form as sent; 401 and 403 are raised, not shown in the form.
    """
    sp = session.begin_nested()
    try:
        run = start(session, request.app.state.session_factory, params, actor=user)
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403):
            raise
        status = exc.status if exc.status in (409, 422) else 422
        return rerender(error_dict(request, exc), status)
    return redirect(request, f"{href}?run={run.id}")


def progress_context(request: Request, run: InsightRun, page: str) -> dict[str, Any]:
    live = runs.progress_of(run.id)
    return {
        "run": run,
        "percent": live.percent if live else None,
        "stage_label": tr(request, STAGES.get(live.stage, N_("Starting")))
        if live
        else tr(request, N_("Starting")),
        "poll_url": f"/insights/runs/{run.id}/progress",
        "page": page,
    }


def chosen_run(
    request: Request, session: Session, kind: str, **match: Any
) -> tuple[InsightRun | None, str]:
    """The run named by ``?run=`` (any state) or the latest successful one, and its state."""
    raw = request.query_params.get("run", "").strip()
    if raw.isdigit() and len(raw) <= 9:
        run = session.get(InsightRun, int(raw))
        if run is not None and run.kind == kind:
            return run, runs.state(run)
    run = runs.latest_run(session, kind, **match)
    return run, (runs.state(run) if run else "")


# What a download without ``?run=`` says when no run of its kind has succeeded yet.
NO_RUN_YET = {
    "segments": N_("There is no segmentation run yet: run a segmentation first."),
    "basket": N_("There is no market-basket run yet: run a basket analysis first."),
    "sequences": N_("There is no purchase-sequence run yet: run a sequence analysis first."),
}


def export_run(request: Request, session: Session, kind: str) -> InsightRun:
    """The succeeded run a CSV download reads: ``?run=`` as on the page, else the latest
    successful one. Unlike the page, a bad ``run`` is an error naming it (422, or 404 for a run
    that does not exist or has no result), not a silent fallback."""
    raw = request.query_params.get("run", "").strip()
    if raw:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
            raise number_error("run", N_("Insight run"), whole=True).refuse()
        run = session.get(InsightRun, int(raw))
        if run is None or run.kind != kind:
            raise NotFound("Insight run", raw, field="run")
    else:
        run = runs.latest_run(session, kind)
        if run is None:
            message = NO_RUN_YET.get(kind, N_("There is no finished run of this analysis yet."))
            raise RetentoError(404, "not_found", message, field="run")
    if runs.state(run) != "succeeded":
        raise InvalidInput(Msg("Run %(id)s has no result to download.", id=run.id), field="run")
    return run


def export_table(request: Request, tables: tuple[str, ...]) -> str:
    """The ``?table=`` of a download with several tables (the first by default); another value
    is a 422 naming ``table``."""
    table = request.query_params.get("table", "").strip() or tables[0]
    if table not in tables:
        raise choice_error("table", N_("Table"), tables).refuse()
    return table
