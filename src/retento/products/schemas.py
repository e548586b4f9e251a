from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retento.core.money import Money
from retento.core.validation import Name
from retento.core.versioning import ExpectedVersion


def _not_negative(v):
    if v is not None and v < 0:
        raise ValueError("must not be negative")
    return v


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(None, min_length=1, max_length=64)
    name: Name = Field(min_length=1, max_length=200)
    category: str | None = Field(None, max_length=100)
    unit_price: Money
    unit_cost: Money
    is_active: bool = True

    _nn = field_validator("unit_price", "unit_cost")(lambda cls, v: _not_negative(v))


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    external_id: str | None = Field(None, min_length=1, max_length=64)
    name: Name | None = Field(None, min_length=1, max_length=200)
    category: str | None = Field(None, max_length=100)
    unit_price: Money | None = None
    unit_cost: Money | None = None
    is_active: bool | None = None

    _nn = field_validator("unit_price", "unit_cost")(lambda cls, v: _not_negative(v))


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    external_id: str | None
    name: str
    category: str | None
    unit_price: Money
    unit_cost: Money
    is_active: bool
    created_at: datetime
