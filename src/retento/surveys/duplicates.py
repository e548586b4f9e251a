"""A second response of the same customer to the same survey (phone, on site, API).

Agents record answers for a customer they are talking to; recording a second completed
response by mistake counts the customer twice in every metric. ``record_response`` refuses it
with 409 ``duplicate_response`` unless the caller confirms with ``allow_duplicate``; the phone
entry form warns before saving and asks for that confirmation. Public one-time links never
reach this check: an invitation holds one response.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.core.errors import RetentoError
from retento.surveys.models import SurveyResponse

DUPLICATE_RESPONSE = "duplicate_response"


class DuplicateResponse(RetentoError):
    """409: the customer already answered this survey."""

    def __init__(self, earlier: dict[str, Any]):
        when = earlier["completed_at"]
        day = when.date().isoformat() if isinstance(when, datetime) else "?"
        super().__init__(
            409,
            DUPLICATE_RESPONSE,
            f"Customer {earlier['customer_id']} already answered this survey (response "
            f"{earlier['id']} of {day}). Send allow_duplicate=true to record another response.",
            "customer_id",
        )
        self.earlier = earlier


def earlier_responses(
    session: Session, survey_id: int, customer_id: int, limit: int = 5
) -> list[dict[str, Any]]:
    """The customer's completed responses to the survey, newest first."""
    rows = session.execute(
        select(
            SurveyResponse.id,
            SurveyResponse.channel,
            SurveyResponse.completed_at,
            SurveyResponse.source,
        )
        .where(
            SurveyResponse.survey_id == survey_id,
            SurveyResponse.customer_id == customer_id,
            SurveyResponse.status == "completed",
        )
        .order_by(SurveyResponse.completed_at.desc(), SurveyResponse.id.desc())
        .limit(limit)
    ).all()
    return [
        {"id": i, "customer_id": customer_id, "channel": ch, "completed_at": at, "source": src}
        for i, ch, at, src in rows
    ]


def check_duplicate(session: Session, survey_id: int, customer_id: int) -> None:
    """Raise ``DuplicateResponse`` if the customer already completed this survey."""
    found = earlier_responses(session, survey_id, customer_id, limit=1)
    if found:
        raise DuplicateResponse(found[0])
