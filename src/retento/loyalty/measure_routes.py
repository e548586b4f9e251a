"""JSON API of loyalty measurement: GET /api/v1/loyalty/measurement."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from retento.core.deps import CurrentUser, DbSession
from retento.core.validation import DbId
from retento.loyalty import measure

# No prefix: the loyalty router (prefix /api/v1/loyalty) includes this one.
router = APIRouter(tags=["loyalty"])

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
        "or name=value pairs. Default 0.4,0.3,0.3.",
    ),
    as_of: datetime | None = Query(None, description="Measure as of this time (with a zone)."),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    """Loyalty dimensions, index, type (with the rule and the reason) and the satisfaction-trap
    flag per customer, with the distribution of types and the index histogram."""
    page, total, stats = measure.measure_customers(
        session,
        actor=user,
        customer_id=customer_id,
        loyalty_type=type,
        trap=trap,
        weights=measure.parse_weights(weights),
        as_of=as_of,
        offset=offset,
        limit=limit,
    )
    return LoyaltyMeasurementPage(
        summary=LoyaltySummary(**stats),
        items=[LoyaltyMeasurementRead(**r) for r in measure.records(page)],
        total=total,
        limit=limit,
        offset=offset,
    )
