from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from retento.core.timeutil import UTCDatetime
from retento.core.validation import DbId
from retento.core.versioning import ExpectedVersion

Channel = Literal["ads", "phone", "web", "store", "email", "chat", "other"]
Stage = Literal[
    "desire", "information", "cognition", "selection", "order", "receipt", "payment", "after_sales"
]
Direction = Literal["inbound", "outbound"]
Outcome = Literal[
    "positive", "neutral", "negative", "no_response", "purchase", "resolved", "escalated"
]


class TouchpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(None, min_length=1, max_length=64)
    customer_id: DbId
    occurred_at: UTCDatetime
    channel: Channel
    stage: Stage
    direction: Direction = "inbound"
    outcome: Outcome = "neutral"
    owner_id: DbId | None = None
    note: str | None = Field(None, max_length=5000)


class TouchpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    external_id: str | None = Field(None, min_length=1, max_length=64)
    occurred_at: UTCDatetime | None = None
    channel: Channel | None = None
    stage: Stage | None = None
    direction: Direction | None = None
    outcome: Outcome | None = None
    owner_id: DbId | None = None
    note: str | None = Field(None, max_length=5000)


class TouchpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    external_id: str | None
    customer_id: DbId
    occurred_at: datetime
    channel: str
    stage: str
    direction: str
    outcome: str
    owner_id: int | None
    note: str | None
