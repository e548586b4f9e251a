"""API shapes of background work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class WorkItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    ref: str | None
    status: str
    progress: float
    stage: str | None
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    claimed_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None


class JobLeaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    holder: str | None
    last_holder: str | None
    lease_until: datetime | None
    next_due_at: datetime
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_error: str | None
    runs: int
