"""Scoring jobs: the nightly run (idempotent: skips if a run succeeded in the last 20 hours) and
runs started from the web page, queued as ``scoring.run`` work items (``retento.work``): a worker
(or, with RETENTO_RUN_WORK_IN_WEB, the web process after the response) runs them, with progress
in the item's row for any web process to show."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

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
from retento.web.i18n import N_
from retento.work import queue
from retento.work.queue import WorkContext, work_kind

log = logging.getLogger("retento.scoring")

MIN_GAP = timedelta(hours=20)


@job("nightly_scoring", every_seconds=3600, label=N_("Nightly scoring of all customers"))
def nightly_scoring(session: Session) -> int | None:
    """Queue a scoring of everyone if the last successful run is older than 20 hours; returns
    the run id. The run itself is long work: a worker runs it (not the scheduler's process,
    which may be a web process)."""
    age = service.last_run_age(session)
    if age is not None and age < MIN_GAP:
        return None
    from sqlalchemy import func, select

    from retento.orders.models import Order

    if (session.scalar(select(func.count(func.distinct(Order.customer_id)))) or 0) < 10:
        return None
    try:
        run = service.start_run(session, ScoreRunCreate(), actor=None)
    except Conflict:
        return None  # a run is in progress (started by a manager or queued earlier)
    enqueue_started_run(session, run, ScoreRunCreate(), None)
    return run.id


WORK_KIND = "scoring.run"


def work_ref(run_id: int) -> str:
    return f"score_run:{run_id}"


queue.work_ref_label("score_run", N_("Run #%(id)s"))


def enqueue_started_run(
    session: Session, run: ScoreRun, data: ScoreRunCreate, actor_id: int | None
) -> int:
    """Queue a run recorded by ``service.start_run`` (in the caller's transaction); the item id."""
    item = queue.enqueue(
        session,
        WORK_KIND,
        {"run_id": run.id, "data": data.model_dump(mode="json"), "actor_id": actor_id},
        ref=work_ref(run.id),
        actor_id=actor_id,
    )
    return item.id


def _abandon(session: Session, payload: dict[str, Any], reason: str) -> None:
    run = session.get(ScoreRun, payload.get("run_id"))
    if run is not None and run.status == "running":
        run.status, run.error, run.finished_at = "failed", reason, utcnow()


@work_kind(
    WORK_KIND,
    N_("Scoring run"),
    on_abandon=_abandon,
    stages={
        "summary": N_("Summarising purchases"),
        "fit": N_("Fitting the models"),
        "churn": N_("Estimating churn risk"),
        "store": N_("Storing the scores"),
    },
)
def run_queued(ctx: WorkContext) -> dict[str, Any]:
    run_id = int(ctx.payload["run_id"])
    data = ScoreRunCreate.model_validate(ctx.payload.get("data") or {})
    execute_started_run(ctx.factory, run_id, data, ctx.payload.get("actor_id"), report=ctx.progress)
    with ctx.factory() as s:
        run = s.get(ScoreRun, run_id)
        status = run.status if run else "missing"
        if run is not None and run.status == "failed":
            raise RuntimeError(f"Scoring run #{run_id} failed: {run.error}")
        return {"run_id": run_id, "status": status, "customers": run.customers_scored if run else 0}


def run_progress(session: Session, run_id: int) -> tuple[str | None, float | None]:
    """Stage and fraction of a running run: this process's live value, else its work item's
    stored progress (another process runs it); ``(None, None)`` when nothing is known."""
    live = service.LIVE_PROGRESS.get(run_id)
    if live is not None:
        return live
    item = queue.item_for_ref(session, work_ref(run_id))
    if item is None:
        return None, None
    return queue.progress_of(item)


def execute_started_run(
    factory: sessionmaker[Session],
    run_id: int,
    data: ScoreRunCreate,
    actor_id: int | None,
    *,
    report=None,
) -> None:
    """Run a scoring run recorded by ``service.start_run`` in its own transaction, publishing
    progress in ``service.LIVE_PROGRESS`` (and to ``report``, the work item's progress); a
    failure is stored on the run, never lost."""

    def progress(stage: str, fraction: float) -> None:
        service.LIVE_PROGRESS[run_id] = (stage, fraction)
        if report is not None:
            report(stage, fraction)

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
