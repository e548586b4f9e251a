"""Loyalty API schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from retento.core.errors import FieldValueError
from retento.core.money import Money
from retento.core.timeutil import UTCDatetime
from retento.core.types import ID_MAX
from retento.core.validation import DbId, Name, OptionalName, WholeNumber
from retento.core.versioning import ExpectedVersion

# Every points field of the loyalty API: a whole number, never a boolean.
Points = WholeNumber
PositivePoints = Field(..., ge=1, le=1_000_000_000)


def _no_chinese_name(value: str | None) -> str | None:
    """An empty or blank ``name_zh`` is no Chinese name: None, as stored (the name is shown)."""
    return value or None


class ProgrammeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(None, min_length=1, max_length=100)
    active: bool | None = None
    auto_enrol: bool | None = None
    point_value: Decimal | None = Field(None, ge=0, le=Decimal("1000"), decimal_places=6)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    expiry_days: int | None = Field(None, ge=1, le=3660)
    expiring_soon_days: int | None = Field(None, ge=1, le=365)
    # Return window: order points are pending (not spendable) this many days; 0 = off.
    pending_days: int | None = Field(None, ge=0, le=365)
    refund_policy: Literal["negative", "debt", "cap"] | None = None
    negative_limit: Points | None = Field(None, ge=0, le=1_000_000_000)
    tier_basis: Literal["points", "spend"] | None = None
    tier_window_days: int | None = Field(None, ge=1, le=3660)
    hold_minutes: int | None = Field(None, ge=1, le=10080)
    active_days: int | None = Field(None, ge=1, le=3660)
    version: ExpectedVersion = None


class ProgrammeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    active: bool
    auto_enrol: bool
    point_value: Decimal
    currency: str
    expiry_days: int
    expiring_soon_days: int
    pending_days: int
    refund_policy: str
    negative_limit: int
    tier_basis: str
    tier_window_days: int
    hold_minutes: int
    active_days: int
    version: int


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_-]+$")
    name: Name = Field(..., min_length=1, max_length=100)
    # Shown on Chinese pages and in Chinese notices; empty or absent: ``name`` is shown.
    name_zh: OptionalName | None = Field(None, max_length=100)
    rank: int = Field(..., ge=0, le=1000)
    threshold: Points = Field(0, ge=0, le=10**12)
    multiplier: Decimal = Field(Decimal("1"), ge=0, le=100, decimal_places=2)
    sla_class: str | None = Field(None, max_length=30)
    invite_only: bool = False
    grace_days: int = Field(30, ge=0, le=3660)
    benefits: str | None = Field(None, max_length=2000)
    version: ExpectedVersion = None

    _name_zh = field_validator("name_zh")(_no_chinese_name)


class TierRead(TierIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str  # what is stored is shown as is; only new input is checked
    # The stored version (the ETag); in TierIn, the version the client edited.
    version: int  # type: ignore[assignment]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(..., min_length=1, max_length=100)
    # Shown on Chinese pages; empty or absent: ``name`` is shown.
    name_zh: OptionalName | None = Field(None, max_length=100)
    kind: Literal["spend", "product", "category", "event"]
    rate: Decimal = Field(Decimal("0"), ge=0, le=10000, decimal_places=4)
    fixed_points: Points = Field(0, ge=0, le=10_000_000)
    product_id: int | None = Field(None, ge=1, le=ID_MAX)
    category: str | None = Field(None, max_length=100)
    event: (
        Literal["survey_answered", "referral", "birthday", "complaint_remedy", "club_attendance"]
        | None
    ) = None
    min_spend: Money = Decimal("0")
    valid_from: UTCDatetime | None = None
    valid_until: UTCDatetime | None = None
    cap_points: Points | None = Field(None, ge=0, le=1_000_000_000)
    cap_period_days: int | None = Field(None, ge=1, le=3660)
    apply_multiplier: bool = True
    active: bool = True
    version: ExpectedVersion = None

    _name_zh = field_validator("name_zh")(_no_chinese_name)

    @model_validator(mode="after")
    def _shape(self) -> RuleIn:
        if self.kind == "product" and self.product_id is None:
            raise FieldValueError("product_id", "a product rule needs product_id")
        if self.kind == "category" and not self.category:
            raise FieldValueError("category", "a category rule needs category")
        if self.kind == "event" and self.event is None:
            raise FieldValueError("event", "an event rule needs event")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise FieldValueError("valid_until", "valid_until must be after valid_from")
        if self.min_spend < 0:
            raise FieldValueError("min_spend", "min_spend must not be negative")
        return self


class RuleRead(RuleIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str  # what is stored is shown as is; only new input is checked
    # The stored version (the ETag); in RuleIn, the version the client edited.
    version: int  # type: ignore[assignment]


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(..., min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_-]+$")
    name: Name = Field(..., min_length=1, max_length=100)
    # Shown to readers of Chinese; empty or absent: ``name`` is shown.
    name_zh: OptionalName | None = Field(None, max_length=100)
    kind: Literal["voucher", "gift", "service"]
    points_cost: Points = Field(..., ge=1, le=1_000_000_000)
    stock: int | None = Field(None, ge=0, le=1_000_000_000)
    min_tier_id: int | None = Field(None, ge=1, le=ID_MAX)
    description: str | None = Field(None, max_length=2000)
    active: bool = True
    version: ExpectedVersion = None

    _name_zh = field_validator("name_zh")(_no_chinese_name)


class RewardRead(RewardIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str  # what is stored is shown as is; only new input is checked
    # The stored version (the ETag); in RewardIn, the version the client edited.
    version: int  # type: ignore[assignment]


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: Points | None = Field(None, ge=1, le=1_000_000_000)
    reward_id: int | None = Field(None, ge=1, le=ID_MAX)
    order_id: int | None = Field(None, ge=1, le=ID_MAX)
    note: str | None = Field(None, max_length=300)


class RedemptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: DbId
    reward_id: int | None
    order_id: int | None
    points: int
    returned: int
    journal_id: int  # ledger ids are 64-bit on PostgreSQL
    created_at: datetime


class AdjustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: Points = Field(..., ge=-1_000_000_000, le=1_000_000_000)
    reason: str = Field(..., min_length=1, max_length=300)
    expires_at: UTCDatetime | None = None


class ReverseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., min_length=1, max_length=300)


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: Points = Field(..., ge=1, le=1_000_000_000)
    reference: str | None = Field(None, max_length=64)
    minutes: int | None = Field(None, ge=1, le=10080)


class HoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: DbId
    points: int
    status: str
    reference: str | None
    expires_at: datetime


class PostingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_id: int
    amount: int


class JournalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    customer_id: int | None
    source_type: str
    source_id: str | None
    reason: str
    actor_id: int | None
    reverses_id: int | None
    created_at: datetime
    postings: list[PostingRead] = []


class LotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    points: int
    remaining: int
    source_type: str
    source_id: str | None
    earned_at: datetime
    expires_at: datetime
    # Pending (return window) until then: in the balance, not spendable; null = spendable.
    available_at: datetime | None = None


class MemberRead(BaseModel):
    customer_id: DbId
    balance: int
    available: int
    debt: int
    held: int
    tier: str | None
    tier_since: datetime | None
    grace_until: datetime | None
    qualifying: int
    next_tier: str | None
    to_next_tier: int
    expiring_soon: int
    expiring_by: datetime
    # The first and last expiry of the points expiring soon (null when none): the day a
    # "points expiring" retention alert names.
    expiring_first: datetime | None = None
    expiring_last: datetime | None = None


class TierSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier_id: int | None = Field(None, ge=1, le=ID_MAX)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(..., ge=1, le=ID_MAX)
    event: Literal["referral", "birthday", "survey_answered"]
    source_id: str = Field(..., min_length=1, max_length=64)


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referred_id: int = Field(
        ..., ge=1, le=ID_MAX, description="The customer the member brought in (not the member)."
    )


class ClubIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(..., min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2000)
    min_tier_id: int | None = Field(None, ge=1, le=ID_MAX)


class ClubRead(ClubIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str  # what is stored is shown as is; only new input is checked


class ClubEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(..., min_length=1, max_length=200)
    starts_at: UTCDatetime
    location: str | None = Field(None, max_length=200)


class ClubEventRead(ClubEventIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    club_id: DbId


class CustomerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(..., ge=1, le=ID_MAX)


class LiabilityRead(BaseModel):
    outstanding_points: int
    held_points: int
    point_value: Decimal
    outstanding_value: Money
    issued_points: int
    redeemed_points: int
    expired_points: int
    breakage_rate: float | None
    redemption_rate: float | None
    currency: str


class BatchItemIn(BaseModel):
    """One operation of ``POST /api/v1/loyalty/batch``."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["earn", "adjust", "redeem"]
    customer_id: int = Field(..., ge=1, le=ID_MAX)
    points: Points = Field(..., ge=-1_000_000_000, le=1_000_000_000)
    key: str = Field(..., min_length=1, max_length=120)
    reason: str | None = Field(None, max_length=300)
    expires_at: UTCDatetime | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BatchItemIn] = Field(..., min_length=1, max_length=1000)


class BatchItemRead(BaseModel):
    index: int
    journal_id: int
    replayed: bool
    redemption_id: int | None = None


class BatchRead(BaseModel):
    posted: int
    replayed: int
    items: list[BatchItemRead]
