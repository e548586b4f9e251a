"""Analysis runs: computed inline when small, in one background thread when large.

A run is prepared in the request (the data are read from the database and checked, so bad input
is a 422 and nothing is written), then computed. Small inputs are computed at once and stored
in the request's transaction. Larger ones get an ``insight_runs`` row in state ``running``
(committed), and a background thread computes the result, reporting its stage and percentage
into ``PROGRESS`` (this process's memory, polled by the page every second) and writing the
outcome to the row in a transaction of its own. One background run at a time per process: a
second one is refused with a 409 instead of queueing up CPU work on a shared machine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from retento.analytics.basket import BudgetExceeded
from retento.analytics.errors import SummaryInputError
from retento.auth.models import User
from retento.core.db import transaction
from retento.core.errors import Conflict, InvalidInput, NotFound
from retento.insights.models import InsightRun

log = logging.getLogger(__name__)

# Inputs up to this many rows are computed within the request: customers for a segmentation
# (k-means over k = 2..8 with silhouettes took 19 s for 5,000 customers on a loaded 2-core
# machine, so only small sets run inline), order lines for baskets and sequences.
INLINE_ROWS = {"segments": 2_000, "basket": 20_000, "sequences": 20_000}
# A run still "running" after this long without a live thread in this process was interrupted.
STALE_AFTER = timedelta(hours=2)

Reporter = Callable[[str, float], None]
Compute = Callable[[Any, Reporter], dict[str, Any]]


@dataclass
class Progress:
    stage: str
    percent: int


PROGRESS: dict[int, Progress] = {}
_LOCK = threading.Lock()
_BUSY = threading.Semaphore(1)


def progress_of(run_id: int) -> Progress | None:
    """The live progress of a run computing in this process, if any."""
    with _LOCK:
        return PROGRESS.get(run_id)


def _reporter(run_id: int) -> Reporter:
    def report(stage: str, fraction: float) -> None:
        with _LOCK:
            PROGRESS[run_id] = Progress(stage, int(round(100 * max(0.0, min(1.0, fraction)))))

    return report


def _failure(exc: Exception, field: str) -> InvalidInput:
    return InvalidInput(str(exc), field=field)


def start(
    session: Session,
    factory: sessionmaker[Session],
    *,
    kind: str,
    params: dict[str, Any],
    data: Any,
    rows: int,
    compute: Compute,
    actor: User,
    budget_field: str,
) -> InsightRun:
    """Compute ``data`` with ``compute`` now (``rows <= INLINE_ROWS[kind]``) or in the
    background.

    ``budget_field`` names the parameter to change when a cap stops the run (a 422 inline, a
    failed run with that message in the background)."""
    now = datetime.now(UTC)
    if rows <= INLINE_ROWS.get(kind, 0):
        try:
            result = compute(data, lambda stage, fraction: None)
        except (BudgetExceeded, SummaryInputError, ValueError) as exc:
            raise _failure(exc, budget_field) from None
        run = InsightRun(
            kind=kind,
            status="succeeded",
            params=params,
            result=result,
            created_by_id=actor.id,
            created_at=now,
            finished_at=datetime.now(UTC),
        )
        session.add(run)
        session.flush()
        return run
    if not _BUSY.acquire(blocking=False):
        raise Conflict(
            "Another analysis is computing in the background; wait until it finishes.",
            field="kind",
        )
    try:
        run = InsightRun(
            kind=kind, status="running", params=params, created_by_id=actor.id, created_at=now
        )
        session.add(run)
        session.flush()
        # The thread updates the row: it must be committed first.
        session.commit()
        run_id = run.id
        _reporter(run_id)("starting", 0.0)
        threading.Thread(
            target=_work,
            args=(factory, run_id, data, compute),
            name=f"retento-insight-{kind}-{run_id}",
            daemon=True,
        ).start()
    except BaseException:
        _BUSY.release()
        raise
    return run


def _work(factory: sessionmaker[Session], run_id: int, data: Any, compute: Compute) -> None:
    try:
        try:
            result = compute(data, _reporter(run_id))
            status, error = "succeeded", None
        except (BudgetExceeded, SummaryInputError, ValueError) as exc:
            result, status, error = None, "failed", str(exc)
        except Exception as exc:  # the run must not stay "running" forever
            log.exception("insight run %s failed", run_id)
            result, status, error = None, "failed", f"The analysis failed: {exc}"
        _reporter(run_id)("saving", 1.0)
        with transaction(factory) as s:
            run = s.get(InsightRun, run_id)
            if run is not None:
                run.status, run.result, run.error = status, result, error
                run.finished_at = datetime.now(UTC)
    except Exception:  # pragma: no cover - the database went away
        log.exception("insight run %s could not be stored", run_id)
    finally:
        with _LOCK:
            PROGRESS.pop(run_id, None)
        _BUSY.release()


def state(run: InsightRun, now: datetime | None = None) -> str:
    """``running``, ``succeeded``, ``failed`` or ``interrupted`` (running, but no thread of this
    process has it and it started long ago: the process was restarted)."""
    if run.status != "running":
        return run.status
    if progress_of(run.id) is not None:
        return "running"
    started = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) - started > STALE_AFTER:
        return "interrupted"
    return "running"


def get_run(session: Session, run_id: int, kind: str) -> InsightRun:
    run = session.get(InsightRun, run_id)
    if run is None or run.kind != kind:
        raise NotFound("Insight run", run_id, field="run_id")
    return run


@cache
def _latest_stmt(limit: int) -> Any:
    """The newest successful runs of the kind given as the parameter ``kind`` (built once: the
    360 page's basket panel reads it on every view)."""
    return (
        select(InsightRun)
        .where(
            InsightRun.kind == bindparam("kind", type_=InsightRun.kind.type),
            InsightRun.status == "succeeded",
        )
        .order_by(InsightRun.id.desc())
        .limit(limit)
    )


def latest_run(session: Session, kind: str, **match: Any) -> InsightRun | None:
    """The latest successful run of ``kind`` (whose params match ``match``, if given)."""
    if not match:
        return session.scalars(_latest_stmt(1), {"kind": kind}).first()
    for run in session.scalars(_latest_stmt(20), {"kind": kind}):
        params = run.params or {}
        if all(params.get(k) == v for k, v in match.items()):
            return run
    return None


def run_dict(run: InsightRun) -> dict[str, Any]:
    """The API view of a run (the result only once it succeeded)."""
    live = progress_of(run.id)
    return {
        "id": run.id,
        "kind": run.kind,
        "status": state(run),
        "stage": live.stage if live else None,
        "percent": live.percent if live else (100 if run.status != "running" else 0),
        "params": run.params or {},
        "error": run.error,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "result": run.result if run.status == "succeeded" else None,
    }
