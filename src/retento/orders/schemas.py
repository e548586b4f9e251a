from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retento.core.money import ZERO, Money
from retento.core.timeutil import UTCDatetime
from retento.core.validation import DbId
from retento.core.versioning import ExpectedVersion

Status = Literal["placed", "paid", "shipped", "completed", "cancelled"]
Channel = Literal["store", "web", "phone", "email", "chat", "partner", "other"]


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: DbId
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Money | None = Field(None, description="Defaults to the product's list price.")
    unit_cost: Money | None = Field(None, description="Defaults to the product's unit cost.")
    discount: Money = ZERO

    @field_validator("unit_price", "unit_cost", "discount")
    @classmethod
    def _nn(cls, v):
        if v is not None and v < 0:
            raise ValueError("must not be negative")
        return v


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    line_no: int
    product_id: DbId
    quantity: int
    unit_price: Money
    unit_cost: Money
    discount: Money


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money
    refunded_at: UTCDatetime | None = None
    line_id: DbId | None = None
    quantity: int = Field(0, ge=0)
    reason: str | None = Field(None, max_length=300)

    @field_validator("amount")
    @classmethod
    def _pos(cls, v):
        if v <= 0:
            raise ValueError("must be greater than zero")
        return v


class RefundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    refunded_at: datetime
    amount: Money
    line_id: int | None
    quantity: int
    reason: str | None


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(None, min_length=1, max_length=64)
    customer_id: DbId
    ordered_at: UTCDatetime
    status: Status = "completed"
    channel: Channel = "store"
    discount: Money = ZERO
    note: str | None = Field(None, max_length=5000)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)

    @field_validator("discount")
    @classmethod
    def _nn(cls, v):
        if v < 0:
            raise ValueError("must not be negative")
        return v


class OrderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    external_id: str | None = Field(None, min_length=1, max_length=64)
    ordered_at: UTCDatetime | None = None
    status: Status | None = None
    channel: Channel | None = None
    discount: Money | None = None
    note: str | None = Field(None, max_length=5000)
    lines: list[OrderLineIn] | None = Field(None, min_length=1, max_length=1000)


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    external_id: str | None
    customer_id: DbId
    ordered_at: datetime
    status: str
    channel: str
    discount: Money
    revenue: Money
    cost: Money
    profit: Money
    refunded: Money
    note: str | None
    lines: list[OrderLineRead]
    refunds: list[RefundRead]
