"""Timestamps: accepted only with a time zone, kept in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from retento.core.validation import UTCDatetime

__all__ = ["UTCDatetime", "as_utc"]
"""``UTCDatetime`` (pydantic field type): a timezone-aware datetime between 1900 and 2200,
normalised to UTC (see ``retento.core.validation``)."""


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return value.astimezone(UTC)
