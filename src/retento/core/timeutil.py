"""Timestamps: accepted only with a time zone, kept in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

UTCDatetime = Annotated[AwareDatetime, AfterValidator(lambda d: d.astimezone(UTC))]
"""Pydantic field type: a timezone-aware datetime, normalised to UTC."""


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return value.astimezone(UTC)
