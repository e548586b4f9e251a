"""Surveys for the home dashboards: the NPS trend by month and the latest response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from retento.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse


def _month(session: Session):
    col = SurveyResponse.completed_at
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM")
    return func.strftime("%Y-%m", col)


def home_nps_trend(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    customers: Select | None = None,
) -> list[dict[str, Any]]:
    """NPS per month of completed responses to NPS questions (every survey): promoters (9–10)
    minus detractors (0–6), in percent of the answers; months in ``[start, end)``."""
    month = _month(session).label("month")
    stmt = (
        select(
            month,
            func.count(),
            func.sum(case((SurveyAnswer.number >= 9, 1), else_=0)),
            func.sum(case((SurveyAnswer.number <= 6, 1), else_=0)),
        )
        .select_from(SurveyAnswer)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(
            SurveyQuestion.qtype == "nps",
            SurveyAnswer.number.is_not(None),
            SurveyResponse.status == "completed",
            SurveyResponse.completed_at.is_not(None),
        )
        .group_by(month)
        .order_by(month)
    )
    if start is not None and end is not None:
        stmt = stmt.where(SurveyResponse.completed_at >= start, SurveyResponse.completed_at < end)
    if customers is not None:
        stmt = stmt.where(SurveyResponse.customer_id.in_(customers))
    out = []
    for m, n, promoters, detractors in session.execute(stmt).all():
        n = int(n or 0)
        if n:
            out.append(
                {
                    "month": m,
                    "answers": n,
                    "nps": round(100.0 * (int(promoters or 0) - int(detractors or 0)) / n, 1),
                }
            )
    return out


def home_freshness(session: Session) -> dict[str, Any]:
    """The latest completed response and how many there are."""
    n, last = session.execute(
        select(func.count(), func.max(SurveyResponse.completed_at)).where(
            SurveyResponse.status == "completed"
        )
    ).one()
    return {"responses": int(n or 0), "last_response": last}
