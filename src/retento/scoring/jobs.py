"""Scoring jobs: the nightly run (idempotent: skips if a run succeeded in the last 20 hours) and
runs started from the web page, executed after the response with progress for the page to poll."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from retento.auth.models import User
from retento.core.db import utcnow
from retento.core.errors import Conflict, RetentoError
from retento.core.hooks import emit
from retento.jobs import job
from retento.scoring import notifications as _notifications  # noqa: F401 (subscribes)
from retento.scoring import service
from retento.scoring.models import ScoreRun
from retento.scoring.schemas import ScoreRunCreate

log = logging.getLogger("retento.scoring")

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
    try:
        run = service.run_scoring(session, ScoreRunCreate(), actor=None)
    except Conflict:
        return None  # a run started by a manager is in progress
    emit("scoring.run_finished", session, run=run, actor=None)
    return run.id


def execute_started_run(
    factory: sessionmaker[Session], run_id: int, data: ScoreRunCreate, actor_id: int | None
) -> None:
    """Run a scoring run recorded by ``service.start_run`` in its own transaction, publishing
    progress in ``service.LIVE_PROGRESS``; a failure is stored on the run, never lost."""

    def progress(stage: str, fraction: float) -> None:
        service.LIVE_PROGRESS[run_id] = (stage, fraction)

    progress("queued", 0.0)
    try:
        with factory() as session:
            try:
                run = session.get(ScoreRun, run_id)
                if run is None or run.status != "running":
                    return
                actor = session.get(User, actor_id) if actor_id is not None else None
                service.execute_run(session, run, data, actor=actor, progress=progress)
                emit("scoring.run_finished", session, run=run, actor=actor)
                session.commit()
            except Exception as exc:
                session.rollback()
                reason = (
                    exc.message if isinstance(exc, RetentoError) else f"{type(exc).__name__}: {exc}"
                )
                log.exception("scoring run %s failed", run_id)
                run = session.get(ScoreRun, run_id)
                if run is not None:
                    run.status, run.error, run.finished_at = "failed", reason, utcnow()
                    actor = session.get(User, actor_id) if actor_id is not None else None
                    emit("scoring.run_finished", session, run=run, actor=actor)
                    session.commit()
    finally:
        service.LIVE_PROGRESS.pop(run_id, None)
