"""API: frequent purchase sequences and the next-product evaluation (hit-rate@5)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession
from retento.core.errors import NotFound
from retento.core.validation import DbId
from retento.insights import runs, sequences_service
from retento.insights.schemas import RunRead, SequenceRunIn

router = APIRouter(prefix="/api/v1/insights/sequences", tags=["insights"])


@router.post("/runs", response_model=RunRead, status_code=201)
def run_sequences(data: SequenceRunIn, request: Request, session: DbSession, user: CurrentUser):
    """Mine frequent sequences and evaluate the next-product recommender on the last
    ``holdout_days`` against the popularity and repeat-purchase baselines (``result.evaluation
    .winner`` names the best)."""
    run = sequences_service.start_run(
        session, request.app.state.session_factory, data.model_dump(), actor=user
    )
    return runs.run_dict(run)


@router.get("/runs/{run_id}", response_model=RunRead)
def get_sequence_run(run_id: DbId, session: DbSession, user: CurrentUser):
    require(user, "score:read")
    return runs.run_dict(runs.get_run(session, run_id, sequences_service.KIND))


@router.get("/latest", response_model=RunRead)
def latest_sequence_run(
    session: DbSession,
    user: CurrentUser,
    level: str = Query("product", pattern="^(product|category)$"),
):
    require(user, "score:read")
    run = runs.latest_run(session, sequences_service.KIND, level=level)
    if run is None:
        raise NotFound("Sequence run at level", level, field="level")
    return runs.run_dict(run)
