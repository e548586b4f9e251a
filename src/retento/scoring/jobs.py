"""Nightly scoring: run once a day (idempotent: skips if a run succeeded in the last 20 hours)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from retento.jobs import job
from retento.scoring import service
from retento.scoring.schemas import ScoreRunCreate

MIN_GAP = timedelta(hours=20)


@job("nightly_scoring", every_seconds=3600)
def nightly_scoring(session: Session) -> int | None:
    """Score everyone if the last successful run is older than 20 hours; returns the run id."""
    age = service.last_run_age(session)
    if age is not None and age < MIN_GAP:
        return None
    from sqlalchemy import func, select

    from retento.orders.models import Order

    if (session.scalar(select(func.count(func.distinct(Order.customer_id)))) or 0) < 10:
        return None
    run = service.run_scoring(session, ScoreRunCreate(), actor=None)
    return run.id
