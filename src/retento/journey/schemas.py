"""Experience record input and output (API and forms)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from retento.core.timeutil import UTCDatetime
from retento.core.validation import DbId
from retento.core.versioning import ExpectedVersion
from retento.touchpoints.schemas import Stage

Mode = Literal["sense", "feel", "think", "act", "relate"]


class ExperienceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(None, min_length=1, max_length=64)
    customer_id: DbId
    mode: Mode
    rating: int = Field(ge=1, le=5)
    note: str | None = Field(None, max_length=5000)
    # Taken from the touchpoint when one is linked and no stage is given; required otherwise.
    stage: Stage | None = None
    touchpoint_id: DbId | None = None
    survey_response_id: DbId | None = None
    survey_answer_id: DbId | None = None
    # Defaults to the touchpoint's time, else the survey response's, else now.
    occurred_at: UTCDatetime | None = None


class ExperienceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    external_id: str | None = Field(None, min_length=1, max_length=64)
    mode: Mode | None = None
    rating: int | None = Field(None, ge=1, le=5)
    note: str | None = Field(None, max_length=5000)
    stage: Stage | None = None
    touchpoint_id: DbId | None = None
    survey_response_id: DbId | None = None
    survey_answer_id: DbId | None = None
    occurred_at: UTCDatetime | None = None


class ExperienceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    external_id: str | None
    customer_id: int
    mode: str
    rating: int
    note: str | None
    stage: str
    touchpoint_id: int | None
    survey_response_id: int | None
    survey_answer_id: int | None
    occurred_at: datetime
    created_by_id: int | None
    created_at: datetime
