"""Loyalty measurement jobs: the nightly run (idempotent: skips when a run succeeded in the last
20 hours or one is in progress) and runs started from the "Loyalty types" page or the API, all
queued as ``loyalty.measure`` work items (``retento.work``): a worker (or, with
RETENTO_RUN_WORK_IN_WEB, the web process after the response) runs them, with progress in the
item's row for any web process to show (the pattern of ``scoring/jobs.py``)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retento.auth.models import User
from retento.core.db import utcnow
from retento.core.errors import Conflict, RetentoError
from retento.core.locking import lock_row
from retento.jobs import job
from retento.loyalty import measure_store as store
from retento.loyalty.measure_models import LoyaltyMeasurementRun
from retento.web.i18n import N_
from retento.work import queue
from retento.work.queue import WorkContext, work_kind

# Stages a measurement run reports (its page and the Background work page show them).
STAGE_LABELS = {
    "queued": N_("Waiting to start"),
    "features": N_("Summarising orders, surveys and complaints"),
    "measure": N_("Classifying customers"),
    "store": N_("Storing the measurements"),
    "done": N_("Finishing"),
}

log = logging.getLogger("retento.loyalty.measure")


@job("loyalty_measurement", every_seconds=3600, label=N_("Measure customer loyalty"))
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
        run = store.start_run(session, actor=None)
    except Conflict:
        return None  # a run started from the page is in progress
    enqueue_started_run(session, run, None)  # long work: a worker runs it, not the scheduler
    return run.id


# A fixed 64-bit key of this job's advisory lock ("loyalty_measurement").
_LOCK_ID = 0x4C4F59414C54_4D


WORK_KIND = "loyalty.measure"


def work_ref(run_id: int) -> str:
    return f"loyalty_measurement_run:{run_id}"


queue.work_ref_label("loyalty_measurement_run", N_("Measurement run #%(id)s"))


def enqueue_started_run(session: Session, run: LoyaltyMeasurementRun, actor_id: int | None) -> int:
    """Queue a run recorded by ``store.start_run`` (in the caller's transaction); the item id."""
    item = queue.enqueue(
        session,
        WORK_KIND,
        {"run_id": run.id, "actor_id": actor_id},
        ref=work_ref(run.id),
        actor_id=actor_id,
    )
    return item.id


def _abandon(session: Session, payload: dict[str, Any], reason: str) -> None:
    run = session.get(LoyaltyMeasurementRun, payload.get("run_id"))
    if run is not None and run.status == "running":
        run.status, run.error, run.finished_at, run.running = "failed", reason, utcnow(), None


@work_kind(WORK_KIND, N_("Loyalty measurement run"), on_abandon=_abandon, stages=STAGE_LABELS)
def run_queued(ctx: WorkContext) -> dict[str, Any]:
    run_id = int(ctx.payload["run_id"])
    ran = execute_started_run(ctx.factory, run_id, ctx.payload.get("actor_id"), report=ctx.progress)
    with ctx.factory() as s:
        run = s.get(LoyaltyMeasurementRun, run_id)
        if run is not None and run.status == "failed" and ran:
            raise RuntimeError(f"Loyalty measurement run #{run_id} failed: {run.error}")
        return {
            "run_id": run_id,
            "status": run.status if run else "missing",
            "customers": run.customers if run else 0,
            "ran": ran,
        }


def run_progress(session: Session, run_id: int) -> tuple[str | None, float | None]:
    """Stage and fraction of a running run: this process's live value, else its work item's
    stored progress (another process runs it); ``(None, None)`` when nothing is known."""
    live = store.LIVE_PROGRESS.get(run_id)
    if live is not None:
        return live
    item = queue.item_for_ref(session, work_ref(run_id))
    if item is None:
        return None, None
    return queue.progress_of(item)


def execute_started_run(
    factory: sessionmaker[Session], run_id: int, actor_id: int | None, *, report=None
) -> bool:
    """Execute a run recorded by ``store.start_run`` in its own transaction, publishing progress
    in ``store.LIVE_PROGRESS`` (and to ``report``, the work item's); a failure is stored on the
    run, never lost. False when the run was not waiting any more (another runner did it).

    The run's row is locked first and its status checked under the lock: a second runner of
    the same run (a retried work item, a second worker) waits, then finds it finished."""

    def progress(stage: str, fraction: float) -> None:
        store.LIVE_PROGRESS[run_id] = (stage, fraction)
        if report is not None:
            report(stage, fraction)

    try:
        with factory() as session:
            try:
                run = lock_row(session, LoyaltyMeasurementRun, run_id)
                if run is None or run.status != "running":
                    session.rollback()
                    return False
                progress("queued", 0.0)
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
        return True
    finally:
        store.LIVE_PROGRESS.pop(run_id, None)
