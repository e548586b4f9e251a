"""JSON shapes of the Insights API (segments, baskets, sequences)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retento.core.validation import Day, DbId
from retento.core.versioning import ExpectedVersion

Feature = Literal["recency", "frequency", "monetary", "clv", "churn_risk", "engagement"]


class SegmentRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["kmeans", "gmm"] = Field(
        "kmeans", description="kmeans (k by silhouette) or gmm (Gaussian mixture, k by BIC)."
    )
    k: int | None = Field(None, ge=1, le=12, description="A fixed k; empty: chosen.", strict=True)
    k_min: int = Field(2, ge=2, le=12, strict=True)
    k_max: int = Field(8, ge=2, le=12, strict=True)
    features: list[Feature] | None = Field(
        None,
        max_length=6,
        description="Default: all six. recency, frequency and monetary are required.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, strict=True)


class BasketRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["product", "category"] = "product"
    min_support: float = Field(
        0.01, gt=0, le=1, description="Share of orders, e.g. 0.01.", strict=True
    )
    min_confidence: float = Field(0.1, ge=0, le=1, strict=True)
    max_len: int = Field(3, ge=2, le=6, description="Most items in an itemset.", strict=True)
    max_itemsets: int = Field(200_000, ge=1, le=2_000_000, strict=True)
    time_budget: float = Field(60, ge=1, le=600, description="Seconds.", strict=True)
    since: Day | None = Field(None, description="Only orders from this day on.")


class SequenceRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["product", "category"] = "product"
    min_support: float = Field(0.01, gt=0, le=1, description="Share of customers.", strict=True)
    max_len: int = Field(3, ge=2, le=6, description="Most items in a pattern.", strict=True)
    max_gap_days: int | None = Field(None, ge=0, le=3650, strict=True)
    holdout_days: int = Field(
        90, ge=7, le=730, description="The last days held out to measure hit-rate@5.", strict=True
    )
    max_patterns: int = Field(200_000, ge=1, le=2_000_000, strict=True)
    time_budget: float = Field(60, ge=1, le=600, strict=True)


class RunRead(BaseModel):
    id: int
    kind: str
    status: str = Field(description="running, succeeded, failed or interrupted.")
    stage: str | None
    percent: int
    params: dict[str, Any]
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    result: dict[str, Any] | None


class SegmentSaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: DbId = Field(strict=True)
    name: str = Field(min_length=1, max_length=120)


class SegmentRenameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    version: ExpectedVersion = None


class SegmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    method: str
    k: int
    features: list[str]
    profile: dict[str, Any]
    run_id: int | None
    customers: int
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int


class SegmentSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    method: str
    k: int
    customers: int
    created_at: datetime
    version: int


class MemberPage(BaseModel):
    items: list[int] = Field(description="Customer ids.")
    total: int
    limit: int
    offset: int


class Suggestion(BaseModel):
    product_id: int
    name: str
    because: list[int]
    because_names: list[str]
    lift: float
    confidence: float


class CrossSell(BaseModel):
    run_id: int | None
    items: list[Suggestion]
