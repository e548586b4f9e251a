"""Scoring JSON API: runs, per-customer scores, pyramid, Pareto curve, cohorts, fit report."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset
from retento.scoring import service
from retento.scoring.schemas import CustomerScoreRead, ScoreRunCreate, ScoreRunRead, ScoreRunReport

router = APIRouter(prefix="/api/v1", tags=["scoring"])

ReportPart = Literal[
    "pyramid", "pareto", "cohorts", "fit", "holdout", "distribution", "stages", "labels", "rfm"
]


@router.post("/scoring/runs", response_model=ScoreRunReport, status_code=201)
def start_run(data: ScoreRunCreate, session: DbSession, user: CurrentUser):
    """Score every customer now (synchronously; a nightly job does the same)."""
    return service.run_scoring(session, data, actor=user)


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


@router.get("/value/{part}")
def value_report(
    part: ReportPart, session: DbSession, user: CurrentUser, run_id: DbId | None = None
) -> dict:
    """Pyramid, Pareto curve, cohort matrix, fit report or holdout tracking of a run (default latest)."""
    return service.report_part(session, part, actor=user, run_id=run_id)
