"""Scoring JSON API: runs, per-customer scores, pyramid, Pareto curve, cohorts, fit report."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.scoring import relationship, service, value_settings
from retento.scoring.schemas import (
    CustomerScoreRead,
    ScoreRunCreate,
    ScoreRunRead,
    ScoreRunReport,
    ValueSettingsRead,
    ValueSettingsUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["scoring"])

ReportPart = Literal[
    "pyramid", "pareto", "cohorts", "fit", "holdout", "distribution", "stages", "labels", "rfm"
]


@router.post(
    "/scoring/runs",
    response_model=ScoreRunReport,
    status_code=201,
    responses={202: {"description": "Queued for the worker (wait=false): the run, still running"}},
)
def start_run(
    data: ScoreRunCreate,
    session: DbSession,
    user: CurrentUser,
    request: Request,
    wait: bool = Query(
        True,
        description="true: score now, in this request, and answer with the finished run (201). "
        "false: queue the run for the worker and answer at once (202) with the running run; "
        "follow it at GET /scoring/runs/{id} or at the work item named by the Location header.",
    ),
):
    """Score every customer (a nightly job does the same)."""
    if wait:
        return service.run_scoring(session, data, actor=user)
    from retento.scoring import jobs

    run = service.start_run(session, data, actor=user)
    item_id = jobs.enqueue_started_run(session, run, data, user.id)
    session.flush()
    body = jsonable_encoder(ScoreRunReport.model_validate(run))
    background = None
    if request.app.state.settings.run_work_in_web:
        from starlette.background import BackgroundTask

        from retento.work.queue import run_in_web

        background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    # Like the Value page: the request's unit of work (run row + work item) is committed before
    # the response goes out; the background task (or a worker) then runs the item.
    return JSONResponse(
        body,
        status_code=202,
        headers={"Location": f"/api/v1/work/{item_id}"},
        background=background,
    )


@router.get("/scoring/runs", response_model=Page[ScoreRunRead])
def list_runs(session: DbSession, user: CurrentUser, limit: Limit = 20, offset: Offset = 0):
    rows, total = service.list_runs(session, actor=user, limit=limit, offset=offset)
    return Page(
        items=[ScoreRunRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/scoring/runs/{run_id}", response_model=ScoreRunReport)
def get_run(run_id: DbId, session: DbSession, user: CurrentUser):
    """A run with its fit report (parameters, log-likelihood, holdout error) and dashboards' data."""
    return service.get_run(session, run_id, actor=user)


@router.get("/scores", response_model=Page[CustomerScoreRead])
def list_scores(
    session: DbSession,
    user: CurrentUser,
    run_id: DbId | None = Query(None, description="Default: the latest successful run."),
    value_class: str | None = Query(None, description="vip, major, ordinary, small, below_zero"),
    label: str | None = Query(None, description="mvc, mgc, bz, other"),
    stage: str | None = Query(None, description="potential, new, regular, old, loyal"),
    p_alive_lt: float | None = Query(None, ge=0, le=1),
    p_alive_gte: float | None = Query(None, ge=0, le=1),
    churn_risk_gte: float | None = Query(
        None, ge=0, le=1, description="Churn risk (probability of no purchase in the horizon)."
    ),
    churn_risk_lt: float | None = Query(None, ge=0, le=1),
    clv_gte: float | None = None,
    owner_id: DbId | None = None,
    sort: str | None = Query(None, description="e.g. -clv, -churn_risk, p_alive, -profit"),
    limit: Limit = 50,
    offset: Offset = 0,
):
    _, rows, total = service.list_scores(
        session,
        actor=user,
        run_id=run_id,
        value_class=value_class,
        label=label,
        stage=stage,
        p_alive_lt=p_alive_lt,
        p_alive_gte=p_alive_gte,
        churn_risk_gte=churn_risk_gte,
        churn_risk_lt=churn_risk_lt,
        clv_gte=clv_gte,
        owner_id=owner_id,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[CustomerScoreRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/customers/{customer_id}/scores", response_model=list[CustomerScoreRead])
def customer_scores(
    customer_id: DbId, session: DbSession, user: CurrentUser, limit: int = Query(20, ge=1, le=500)
):
    """Score history of one customer, newest first."""
    return service.customer_scores(session, customer_id, actor=user, limit=limit)


@router.get("/value/settings", response_model=ValueSettingsRead)
def get_value_settings(session: DbSession, user: CurrentUser, response: Response):
    """Pyramid cut-offs, loyalty-stage rules and the share-of-wallet window (ETag = version)."""
    row = value_settings.get_settings(session, actor=user)
    set_etag(response, row)
    return row


@router.put("/value/settings", response_model=ValueSettingsRead)
def put_value_settings(
    data: ValueSettingsUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change the value settings (managers); the next scoring run applies them. A stale
    ``version`` / ``If-Match`` answers 409 and changes nothing; a bad value 422 naming it."""
    values = data.model_dump(exclude_unset=True, exclude={"version"})
    values = {k: v for k, v in values.items() if v is not None}
    version = data.version if data.version is not None else parse_if_match(if_match)
    row = value_settings.update_settings(session, values, actor=user, version=version)
    set_etag(response, row)
    return row


@router.get("/value/relationship")
def relationship_rates(
    session: DbSession,
    user: CurrentUser,
    grain: Literal["month", "quarter"] = "month",
    periods: int | None = Query(None, ge=1, le=60, description="Default 24 months / 8 quarters."),
    segment: str | None = Query(None, description="e.g. value_class:vip, stage:loyal, label:mvc"),
) -> dict:
    """Retention rate and repeat-purchase rate per month or quarter, with their trend."""
    require(user, "score:read")
    return relationship.rate_series(
        session, grain=grain, periods=periods, segment=relationship.parse_segment(segment)
    )


@router.get("/value/share-of-wallet")
def share_of_wallet(
    session: DbSession,
    user: CurrentUser,
    segment: str | None = Query(None, description="e.g. value_class:vip"),
) -> dict:
    """Distribution of the share of wallet of customers with a recorded category spend."""
    require(user, "score:read")
    window = value_settings.get_settings(session, actor=user).wallet_window_days
    return relationship.wallet_distribution(
        session, window_days=window, segment=relationship.parse_segment(segment)
    )


@router.get("/value/delivered-value")
def delivered_value(
    session: DbSession,
    user: CurrentUser,
    segment: str | None = Query(None, description="e.g. value_class:vip"),
) -> dict:
    """Customer delivered value per value class of the latest run, with the weakest dimension."""
    require(user, "score:read")
    return relationship.delivered_value_by_class(
        session, segment=relationship.parse_segment(segment)
    )


@router.get("/customers/{customer_id}/relationship")
def customer_relationship(customer_id: DbId, session: DbSession, user: CurrentUser) -> dict:
    """One customer's share of wallet (overall and per category) and delivered value."""
    window = value_settings.get_settings(session, actor=user).wallet_window_days
    return relationship.customer_relationship(session, customer_id, actor=user, window_days=window)


@router.get("/value/{part}")
def value_report(
    part: ReportPart,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    run_id: DbId | None = None,
    period: str | None = Query(
        None, description="30, 90, 365, all or custom (with from/to), as on the value dashboard"
    ),
    date_from: str | None = Query(None, alias="from", description="YYYY-MM-DD (custom period)"),
    date_to: str | None = Query(None, alias="to", description="YYYY-MM-DD (custom period)"),
    segment: str | None = Query(None, description="e.g. value_class:vip, stage:loyal"),
) -> dict:
    """Pyramid, Pareto curve, cohort matrix, fit report or holdout tracking of a run (default
    latest). ``period``/``segment`` recompute the customer parts (pyramid, pareto,
    distribution, stages, labels) for those customers, as the dashboard and its CSV downloads do;
    cohorts, fit and holdout describe the model and stay as the run computed them."""
    out = service.report_part(session, part, actor=user, run_id=run_id)
    if period or date_from or date_to or segment:
        from retento.scoring import pages_filtered
        from retento.scoring.models import ScoreRun
        from retento.scoring.pages_tables import run_report

        f = pages_filtered.parse(request)
        run = session.get(ScoreRun, out["run_id"])
        filtered = run_report(session, run, f)
        out[part] = filtered.get(part, out[part])
    return out
