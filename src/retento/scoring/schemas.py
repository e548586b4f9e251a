from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retento.core.money import Money
from retento.core.timeutil import UTCDatetime
from retento.core.validation import DbId
from retento.core.versioning import ExpectedVersion

ModelName = Literal["bgnbd", "mbgnbd", "pareto"]


class ScoreRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: ModelName = "bgnbd"
    as_of: UTCDatetime | None = Field(None, description="Score as of this moment (default: now).")
    horizon_weeks: int = Field(52, ge=1, le=520)
    discount_rate: float = Field(0.10, ge=0, le=1, description="Yearly discount rate for CLV.")
    margin: float | None = Field(
        None, gt=0, le=1, description="Profit margin for CLV; default: observed margin."
    )
    holdout_weeks: int = Field(
        26, ge=0, le=260, description="Weeks kept out to validate the model (0 = none)."
    )
    churn_horizon_days: int | None = Field(
        None,
        ge=14,
        le=3660,
        description="Churn = no purchase within this many days (default: the "
        "RETENTO_CHURN_HORIZON_DAYS setting, 90).",
    )
    churn: bool = Field(True, description="Also compute churn risk and reasons.")


class ScoreRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    model: str
    status: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    triggered_by: str
    customers_scored: int
    params: dict[str, Any] | None
    log_likelihood: float | None
    error: str | None


class ScoreRunReport(ScoreRunRead):
    report: dict[str, Any] | None


class CustomerScoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    run_id: DbId
    customer_id: DbId
    order_count: int
    first_order_on: date | None
    last_order_on: date | None
    revenue: Money
    profit: Money
    frequency: int
    recency_weeks: float
    t_weeks: float
    monetary: Money
    p_alive: float | None
    expected_purchases: float | None
    expected_spend: Money | None
    clv: Money | None
    rfm_r: int | None
    rfm_f: int | None
    rfm_m: int | None
    rfm_cell: str | None
    value_class: str
    label: str
    loyalty_stage: str
    lapsed: bool
    churn_risk: float | None = None
    churn_reasons: list[dict[str, Any]] | None = None


class ValueSettingsRead(BaseModel):
    """Pyramid cut-offs (cumulative % of customers ranked by profit), loyalty-stage rules and the
    share-of-wallet window; ``version`` for optimistic concurrency."""

    model_config = ConfigDict(from_attributes=True)
    vip_top_pct: float
    major_top_pct: float
    ordinary_top_pct: float
    small_profit_threshold: Money
    new_days: int
    regular_per_year: float
    loyal_per_year: float
    long_tenure_days: int
    recent_days: int
    frequency_window_days: int
    lapsed_days: int
    wallet_window_days: int
    profiling_needs_consent: bool = False
    updated_at: datetime
    version: int


class ValueSettingsUpdate(BaseModel):
    """Fields to change (others keep their value). Cut-offs must increase: 0 < VIP < major <
    ordinary ≤ 100 (%). The next scoring run applies the change."""

    model_config = ConfigDict(extra="forbid")
    vip_top_pct: float | None = Field(None, description="VIP: the top % of customers by profit.")
    major_top_pct: float | None = Field(None, description="Major: up to this % (cumulative).")
    ordinary_top_pct: float | None = Field(
        None, description="Ordinary: up to this % (cumulative); the rest are small."
    )
    small_profit_threshold: Money | None = Field(
        None, description="Customers with profit at or below this are small."
    )
    new_days: int | None = None
    regular_per_year: float | None = None
    loyal_per_year: float | None = None
    long_tenure_days: int | None = None
    recent_days: int | None = None
    frequency_window_days: int | None = None
    lapsed_days: int | None = None
    wallet_window_days: int | None = None
    profiling_needs_consent: bool | None = Field(
        None,
        description="Profiling needs the customer's consent: when true, customers without "
        "consent_profiling are not scored and are left out of everything that uses scores.",
    )
    version: ExpectedVersion = None
