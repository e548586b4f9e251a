"""JSON API of loyalty measurement: GET /api/v1/loyalty/measurement (the stored measurement of
the latest run; ``live=true`` computes one customer now), POST /api/v1/loyalty/measurement/runs
(recompute everyone after the response; 409 while a run is in progress) and GET …/runs/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from retento.core.deps import CurrentUser, DbSession
from retento.core.errors import InvalidInput
from retento.core.validation import DbId
from retento.loyalty import measure, measure_jobs
from retento.loyalty import measure_store as store
from retento.work.queue import run_in_web

# No prefix and no tags: the loyalty router (prefix /api/v1/loyalty, tag "loyalty") includes this
# one and passes both on; a tag here too would list these operations twice in Swagger UI and ReDoc.
router = APIRouter()

LoyaltyType = Literal["trust", "monopoly", "kinship", "interest", "inertia", "potential", "none"]


class LoyaltyMeasurementRead(BaseModel):
    """One customer's loyalty measurement (docs/analytics-loyalty.md explains every field)."""

    customer_id: int
    name: str
    segment: str | None
    loyalty_type: LoyaltyType
    rule: str
    loyalty_index: float | None
    behavioural: float | None
    intentional: float | None
    emotional: float | None
    satisfaction_trap: bool
    trap_signal: str
    reason_en: str
    reason_zh: str
    n_orders: float | None
    orders_per_year: float | None
    median_gap_days: float | None
    days_since_last_order: float | None
    orders_recent: float | None
    discount_share: float | None
    points_redeemed_share: float | None
    tier_name: str | None
    tier_name_zh: str | None = None
    tenure_days: float | None
    no_alternative: bool
    affiliated: bool
    satisfaction: float | None
    repurchase_intent: float | None
    recommend: float | None
    complaints: float | None
    complaints_open: float | None
    price_sensitivity: float | None
    switching_cost: float | None
    computed_at: datetime | None = None


class LoyaltyMeasurementRunRead(BaseModel):
    """A computation of every customer's measurement (the stored rows come from the latest
    succeeded run)."""

    id: int
    status: Literal["running", "succeeded", "failed"]
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    triggered_by: str
    customers: int
    trap: int
    weights: dict[str, float] | None
    error: str | None
    stage: str | None = Field(None, description="What the worker is doing (while running).")
    progress: float | None = Field(
        None, description="0..1 while running (0 while it waits for a worker); 1 when succeeded."
    )
    url: str | None = Field(None, description="Poll this URL (GET) until the run has finished.")


class TypeCount(BaseModel):
    type: LoyaltyType
    customers: int
    share: float | None


class LoyaltySummary(BaseModel):
    customers: int
    types: list[TypeCount]
    index_histogram: dict[str, list[float]]
    index_mean: float | None
    dimension_means: dict[str, float | None]
    trap: int


class LoyaltyMeasurementPage(BaseModel):
    run: LoyaltyMeasurementRunRead | None
    summary: LoyaltySummary
    items: list[LoyaltyMeasurementRead]
    total: int
    limit: int
    offset: int


@router.get("/measurement", response_model=LoyaltyMeasurementPage)
def get_measurement(
    session: DbSession,
    user: CurrentUser,
    customer_id: DbId | None = Query(None, description="Only this customer."),
    type: LoyaltyType | None = Query(None, description="Only customers of this loyalty type."),
    trap: bool | None = Query(None, description="true: only the satisfaction trap."),
    weights: str | None = Query(
        None,
        max_length=200,
        description="Index weights: 'behavioural,intentional,emotional' (e.g. 0.5,0.25,0.25) "
        "or name=value pairs. Default: the run's (0.4,0.3,0.3). Other weights re-weight the "
        "stored dimension scores (index, attitude, type and rule change; the reasons follow).",
    ),
    live: bool = Query(
        False,
        description="Compute the one customer (customer_id) now instead of reading the stored "
        "run, against the stored run's frequency reference.",
    ),
    as_of: datetime | None = Query(
        None, description="With live=true: measure as of this time (with a zone)."
    ),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    """Loyalty dimensions, index, type (with the rule and the reason) and the satisfaction-trap
    flag per customer, with the distribution of types and the index histogram, as stored by the
    latest run (``run`` is null and the lists are empty before the first run)."""
    parsed = measure.parse_weights(weights)
    if live:
        if customer_id is None:
            raise InvalidInput("live=true measures one customer: give customer_id", field="live")
        run = store.latest_run(session)
        page, total, stats = measure.measure_customers(
            session,
            actor=user,
            customer_id=customer_id,
            loyalty_type=type,
            trap=trap,
            weights=parsed,
            as_of=as_of,
            offset=offset,
            limit=limit,
            reference=run.reference if run is not None else None,
        )
        run = None
    else:
        if as_of is not None:
            raise InvalidInput(
                "as_of applies to live=true; stored measurements are as of their run",
                field="as_of",
            )
        page, total, stats, run = store.stored_customers(
            session,
            actor=user,
            customer_id=customer_id,
            loyalty_type=type,
            trap=trap,
            weights=parsed,
            offset=offset,
            limit=limit,
        )
    return LoyaltyMeasurementPage(
        run=LoyaltyMeasurementRunRead(**store.run_dict(run)) if run is not None else None,
        summary=LoyaltySummary(**stats),
        items=[LoyaltyMeasurementRead(**r) for r in measure.records(page)],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/measurement/runs",
    status_code=202,
    response_model=LoyaltyMeasurementRunRead,
    responses={409: {"description": "Another run is in progress."}},
)
def start_measurement_run(request: Request, session: DbSession, user: CurrentUser):
    """Recompute every customer's loyalty measurement in the background worker (needs
    score:run); poll the ``url`` (GET /measurement/runs/{id}, also in the Location header) until
    it has succeeded or failed."""
    run = store.start_run(session, actor=user)
    item_id = measure_jobs.enqueue_started_run(session, run, user.id)
    session.flush()
    body = _run_read(session, run)
    background = None
    if request.app.state.settings.run_work_in_web:
        background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    # The run row and its work item are committed before the response goes out; the background
    # task (or a worker) then runs the item.
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=202,
        headers={"Location": body.url},
        background=background,
    )


def _run_read(session, run) -> LoyaltyMeasurementRunRead:
    stage, fraction = (
        measure_jobs.run_progress(session, run.id)
        if run.status == "running"
        else ("done", 1.0)
        if run.status == "succeeded"
        else (None, None)
    )
    return LoyaltyMeasurementRunRead(
        **store.run_dict(run),
        stage=stage,
        progress=fraction,
        url=f"/api/v1/loyalty/measurement/runs/{run.id}",
    )


@router.get("/measurement/runs/{run_id}", response_model=LoyaltyMeasurementRunRead)
def get_measurement_run(session: DbSession, user: CurrentUser, run_id: DbId):
    """One loyalty measurement run: status, progress, counts, weights and the error of a failed
    run."""
    return _run_read(session, store.get_run(session, run_id, actor=user))
