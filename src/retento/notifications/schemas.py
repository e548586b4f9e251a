"""API shapes of notifications and preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["in_app", "email", "digest", "off"]


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    message: str
    params: dict[str, Any] | None = None
    link: str | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    delivery: str
    created_at: datetime
    read_at: datetime | None = None


class PreferenceRead(BaseModel):
    kind: str
    label: str
    description: str
    channel: Channel
    is_default: bool


class PreferencesIn(BaseModel):
    """The channel per kind to store; kinds left out keep their current setting."""

    model_config = ConfigDict(extra="forbid")
    channels: dict[str, Channel] = Field(default_factory=dict)
