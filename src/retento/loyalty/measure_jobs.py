"""Loyalty measurement jobs: the nightly run (idempotent: skips when a run succeeded in the last
20 hours or one is in progress) and runs started from the "Loyalty types" page, executed after
the response with progress for the page to poll (the pattern of ``scoring/jobs.py``)."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retento.auth.models import User
from retento.core.db import utcnow
from retento.core.errors import Conflict, RetentoError
from retento.jobs import job
from retento.loyalty import measure_store as store
from retento.loyalty.measure_models import LoyaltyMeasurementRun

log = logging.getLogger("retento.loyalty.measure")


@job("loyalty_measurement", every_seconds=3600)
def nightly_measurement(session: Session) -> int | None:
    """Measure every customer if the last successful run is older than 20 hours or its rows are
    gone (a demo reset); returns the run id (None when nothing was due). Running it twice in a
    row stores one run."""
    if session.get_bind().dialect.name == "postgresql":
        # Two workers ticking at once: the second skips instead of queueing behind the first.
        if not session.scalar(select(func.pg_try_advisory_xact_lock(_LOCK_ID))):
            return None
    age = store.last_run_age(session)
    if age is not None and age < store.MIN_GAP and store.latest_run(session) is not None:
        return None  # measured recently (and the rows are still there)
    from retento.customers.models import Customer

    if not session.scalar(select(func.count()).select_from(Customer)):
        return None
    try:
        run = store.run_measurement(session, actor=None)
    except Conflict:
        return None  # a run started from the page is in progress
    return run.id


# A fixed 64-bit key of this job's advisory lock ("loyalty_measurement").
_LOCK_ID = 0x4C4F59414C54_4D


def execute_started_run(factory: sessionmaker[Session], run_id: int, actor_id: int | None) -> None:
    """Execute a run recorded by ``store.start_run`` in its own transaction, publishing progress
    in ``store.LIVE_PROGRESS``; a failure is stored on the run, never lost."""

    def progress(stage: str, fraction: float) -> None:
        store.LIVE_PROGRESS[run_id] = (stage, fraction)

    progress("queued", 0.0)
    try:
        with factory() as session:
            try:
                run = session.get(LoyaltyMeasurementRun, run_id)
                if run is None or run.status != "running":
                    return
                actor = session.get(User, actor_id) if actor_id is not None else None
                store.execute_run(session, run, actor=actor, progress=progress)
                session.commit()
                store.tidy(session.get_bind())
            except Exception as exc:
                session.rollback()
                reason = (
                    exc.message if isinstance(exc, RetentoError) else f"{type(exc).__name__}: {exc}"
                )
                log.exception("loyalty measurement run %s failed", run_id)
                run = session.get(LoyaltyMeasurementRun, run_id)
                if run is not None and run.status == "running":
                    run.status, run.error, run.finished_at = "failed", reason, utcnow()
                    run.running = None
                    session.commit()
    finally:
        store.LIVE_PROGRESS.pop(run_id, None)
