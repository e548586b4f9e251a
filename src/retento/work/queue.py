"""The durable work queue: the web enqueues long work, a worker claims and runs it.

A domain registers a *kind* with :func:`work_kind`; its function gets a :class:`WorkContext`
(payload, a session factory, ``progress(stage, fraction)``) and runs its own transactions.

Claiming takes one queued item per short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL (concurrent workers skip each other's rows instead of waiting), and on SQLite, which
has one writer at a time, a conditional ``UPDATE … WHERE status = 'queued'`` whose row count says
who won. A worker writes a heartbeat every few seconds while an item runs; an item whose
heartbeat stopped (the process died) is queued again, up to ``work_max_attempts`` times, then
failed (the kind's ``on_abandon`` records it on the domain's row).

Progress lives in the item's row, written in short transactions of its own (at most about once a
second), so every web process can show it. On SQLite the database has one writer: a progress
write would wait for the work's own transaction, so there progress is kept in this process's
memory only (``LOCAL``), which is what the one-process demo needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from retento.core.db import transaction, utcnow, will_write, writing_factory
from retento.core.errors import RetentoError
from retento.work.models import WorkItem

log = logging.getLogger("retento.work")

HEARTBEAT_SECONDS = 5.0
PROGRESS_EVERY = 1.0  # seconds between progress writes to the row


@dataclass
class WorkKind:
    name: str
    label: str  # a msgid, shown on the Background work page
    run: Callable[[WorkContext], dict[str, Any] | None]
    on_abandon: Callable[[Session, dict[str, Any], str], None] | None = None
    # stage code -> msgid, for progress shown on the Background work page
    stages: dict[str, str] = field(default_factory=dict)
    # A failed item may be run again from the start (its work is idempotent: what it did
    # before it failed is not done twice); Background work then offers "Run again".
    retry_safe: bool = False


KINDS: dict[str, WorkKind] = {}
# Progress of items running in this process: id -> (stage, fraction).
LOCAL: dict[int, tuple[str, float]] = {}
# Items running in this process: never reaped by it, whatever their heartbeat says (on SQLite
# no heartbeat is written, see ``_heartbeat``).
RUNNING_HERE: set[int] = set()
_LOCK = threading.Lock()
ENQUEUED = "retento.work.enqueued"  # key in ``Session.info``: ids of the items it queued


def work_kind(
    name: str,
    label: str,
    *,
    on_abandon: Callable[[Session, dict[str, Any], str], None] | None = None,
    stages: dict[str, str] | None = None,
    retry_safe: bool = False,
):
    """Register ``func(ctx)`` as the runner of work items of ``name``; ``stages`` names (as
    msgids) the stages its ``ctx.progress`` reports; ``retry_safe``: a failed item may be run
    again (:func:`requeue_failed`)."""

    def wrap(func: Callable[[WorkContext], dict[str, Any] | None]):
        KINDS[name] = WorkKind(name, label, func, on_abandon, dict(stages or {}), retry_safe)
        return func

    return wrap


@dataclass(frozen=True)
class RefLabel:
    """How the Background work page names what an item's ``ref`` points at: ``one`` (a msgid
    with ``%(id)s``) for ``prefix:<id>``, ``span`` (with ``%(first)s`` and ``%(last)s``) for
    ``prefix:<first>-<last>``."""

    one: str
    span: str | None = None


REF_LABELS: dict[str, RefLabel] = {}


def work_ref_label(prefix: str, one: str, span: str | None = None) -> None:
    """Register the words for references ``prefix:<id>`` (and ``prefix:<first>-<last>``) that a
    domain gives its items (``enqueue(..., ref=...)``): "Win-back cases 405–1107" rather than
    ``retention_cases:405-1107``. This layer knows no domain's vocabulary."""
    REF_LABELS[prefix] = RefLabel(one, span)


def ref_words(ref: str | None) -> tuple[str, dict[str, str]] | None:
    """The msgid and parameters that name ``ref`` in words, or None for a reference no domain
    registered (the page then shows it as it is)."""
    prefix, sep, rest = (ref or "").partition(":")
    label = REF_LABELS.get(prefix) if sep and rest else None
    if label is None:
        return None
    first, dash, last = rest.partition("-")
    if dash and label.span and first.isdigit() and last.isdigit():
        return label.span, {"first": first, "last": last}
    return label.one, {"id": rest}


_KIND_LOADERS: list[Callable[[], object]] = []


def add_kind_loader(loader: Callable[[], object]) -> None:
    """Register what imports the modules that declare work kinds (``retento.jobs`` registers
    its ``load_jobs``: this lower layer never imports the domains, or the job registry)."""
    if loader not in _KIND_LOADERS:
        _KIND_LOADERS.append(loader)


def load_kinds() -> dict[str, WorkKind]:
    """Every kind (the domains' job modules register them)."""
    for loader in _KIND_LOADERS:
        loader()
    return KINDS


def _is_sqlite(factory_or_session: Any) -> bool:
    bind = (
        factory_or_session.get_bind()
        if isinstance(factory_or_session, Session)
        else factory_or_session.kw.get("bind")
    )
    return bind is not None and bind.dialect.name == "sqlite"


class WorkContext:
    """What a kind's function gets: the item, its payload, sessions and a progress reporter."""

    def __init__(self, factory: sessionmaker[Session], item_id: int, payload: dict[str, Any]):
        # A kind's units of work read and then write (a scoring run reads every customer, then
        # stores the scores): on SQLite they begin IMMEDIATE, or another writer committing in
        # between (a login) failed the run with "database is locked".
        self.factory = writing_factory(factory)
        self.item_id = item_id
        self.payload = payload
        self._last_write = 0.0
        self._last_stage: str | None = None
        self._write_db = not _is_sqlite(factory)

    def progress(self, stage: str, fraction: float) -> None:
        """Report ``stage`` and ``fraction`` (0..1); stored for every web process to read.

        Writes are at most one a second, except a new stage, which is always stored: a stage
        reported within a second of the previous one (a scoring run's "fit" lasts 0.6 s before
        minutes of "churn") was otherwise never written, and every other process showed the
        old stage for the whole of the new one. The heartbeat stores the latest value too."""
        fraction = max(0.0, min(1.0, float(fraction)))
        with _LOCK:
            LOCAL[self.item_id] = (stage, fraction)
        now = time.monotonic()
        if not self._write_db:
            return
        if stage == self._last_stage and now - self._last_write < PROGRESS_EVERY and fraction < 1:
            return
        self._last_write, self._last_stage = now, stage
        try:
            with transaction(self.factory) as s:
                s.execute(
                    update(WorkItem)
                    .where(WorkItem.id == self.item_id, WorkItem.status == "running")
                    .values(stage=stage[:120], progress=fraction, heartbeat_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
        except Exception:  # progress is advisory: never fail the work for it
            log.warning("could not store the progress of work item %s", self.item_id)


# ------------------------------------------------------------------------ enqueue and read
def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    ref: str | None = None,
    actor_id: int | None = None,
) -> WorkItem:
    """Queue work in the caller's transaction (it becomes visible when the caller commits)."""
    if kind not in load_kinds():
        raise KeyError(f"unknown work kind '{kind}'")
    item = WorkItem(
        kind=kind,
        ref=ref,
        payload=payload,
        status="queued",
        progress=0.0,
        attempts=0,
        created_by_id=actor_id,
        created_at=utcnow(),
    )
    session.add(item)
    session.flush()
    session.info.setdefault(ENQUEUED, []).append(item.id)
    return item


def enqueued(session: Session) -> list[int]:
    """Ids of the items this session has queued so far (a caller takes ``len()`` before some
    work and slices after it to learn what that work queued, e.g. a file import's follow-ups)."""
    return session.info.get(ENQUEUED, [])


def requeue_failed(session: Session, item_id: int) -> bool:
    """Queue a failed item again, from the start; False when it is not failed (any more). One
    conditional UPDATE: of two clicks at once, one queues it and the other changes nothing."""
    got = session.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.status == "failed")
        .values(
            status="queued",
            claimed_by=None,
            error=None,
            attempts=0,
            progress=0.0,
            stage=None,
            started_at=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return got.rowcount == 1


def item_for_ref(session: Session, ref: str) -> WorkItem | None:
    """The latest item about ``ref`` (e.g. "score_run:12")."""
    return session.scalar(
        select(WorkItem).where(WorkItem.ref == ref).order_by(WorkItem.id.desc()).limit(1)
    )


def progress_of(item: WorkItem) -> tuple[str | None, float | None]:
    """``(stage, fraction)`` of an item: this process's live value, else the stored one."""
    with _LOCK:
        live = LOCAL.get(item.id)
    if live is not None:
        return live
    if item.status == "queued":
        return "queued", 0.0
    if item.status == "running" and item.stage:
        return item.stage, item.progress
    if item.status == "done":
        return item.stage or "done", 1.0
    return item.stage, None


# ---------------------------------------------------------------------------- claiming
def _claimed_values(holder: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "status": "running",
        "claimed_by": holder,
        "started_at": now,
        "heartbeat_at": now,
        "attempts": WorkItem.attempts + 1,
        "error": None,
    }


def claim_next(factory: sessionmaker[Session], holder: str) -> int | None:
    """Claim the oldest queued item for ``holder``; its id, or None if nothing is queued."""
    kinds = list(load_kinds())
    with transaction(factory) as s:
        base = select(WorkItem.id).where(WorkItem.status == "queued", WorkItem.kind.in_(kinds))
        if not _is_sqlite(s):
            item_id = s.scalar(
                base.order_by(WorkItem.id).limit(1).with_for_update(skip_locked=True)
            )
            if item_id is None:
                return None
            s.execute(
                update(WorkItem)
                .where(WorkItem.id == item_id)
                .values(**_claimed_values(holder))
                .execution_options(synchronize_session=False)
            )
            return item_id
        # SQLite: look without the write lock first (a poll that finds nothing must not queue
        # for it), then claim in a unit of work that begins IMMEDIATE: holding the write lock,
        # it reads the oldest queued item and claims it, and no other writer comes between.
        # Reading and then writing in one deferred transaction failed at once with "database
        # is locked" whenever another writer committed in between (the demo logged it).
        if s.scalar(base.limit(1)) is None:
            return None
    with transaction(factory) as s:
        will_write(s)
        item_id = s.scalar(base.order_by(WorkItem.id).limit(1))
        if item_id is None or not _claim_update(s, item_id, holder):
            return None
        return item_id


def _claim_update(s: Session, item_id: int, holder: str) -> bool:
    got = s.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.status == "queued")
        .values(**_claimed_values(holder))
        .execution_options(synchronize_session=False)
    )
    return got.rowcount == 1


def claim_item(factory: sessionmaker[Session], item_id: int, holder: str) -> bool:
    """Claim one given item (the web process running what it just queued); False if taken."""
    with transaction(factory) as s:
        return _claim_update(s, item_id, holder)


# ----------------------------------------------------------------------------- running
def run_item(factory: sessionmaker[Session], item_id: int, holder: str) -> str:
    """Run an item ``holder`` has claimed; record done/failed. Returns the final status."""
    with factory() as s:
        item = s.get(WorkItem, item_id)
        if item is None or item.status != "running" or item.claimed_by != holder:
            return item.status if item is not None else "missing"
        kind_name, payload = item.kind, dict(item.payload or {})
    kind = load_kinds().get(kind_name)
    ctx = WorkContext(factory, item_id, payload)
    done = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(factory, item_id, holder, done), daemon=True, name="retento-beat"
    )
    beat.start()
    with _LOCK:
        RUNNING_HERE.add(item_id)
    status, result, error = "done", None, None
    try:
        if kind is None:
            raise RuntimeError(f"no runner for work kind '{kind_name}' in this process")
        result = kind.run(ctx)
    except Exception as exc:
        log.exception("work item %s (%s) failed", item_id, kind_name)
        status = "failed"
        error = exc.message if isinstance(exc, RetentoError) else f"{type(exc).__name__}: {exc}"
    finally:
        done.set()
        beat.join(timeout=5)
    with _LOCK:
        stage, _ = LOCAL.pop(item_id, ("done", 1.0))
    try:
        with transaction(factory) as s:
            s.execute(
                update(WorkItem)
                .where(WorkItem.id == item_id, WorkItem.claimed_by == holder)
                .values(
                    status=status,
                    result=result,
                    error=error[:4000] if error else None,
                    progress=1.0 if status == "done" else WorkItem.progress,
                    stage="done" if status == "done" else stage,
                    finished_at=utcnow(),
                    heartbeat_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
    finally:
        with _LOCK:
            RUNNING_HERE.discard(item_id)
    return status


def _heartbeat(
    factory: sessionmaker[Session], item_id: int, holder: str, done: threading.Event
) -> None:
    if _is_sqlite(factory):
        return  # one process on SQLite: nobody else reaps; a write here would wait on the work
    while not done.wait(HEARTBEAT_SECONDS):
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        with _LOCK:
            latest = LOCAL.get(item_id)
        if latest is not None:  # what the progress writes' throttle held back, if anything
            values |= {"stage": latest[0][:120], "progress": latest[1]}
        try:
            with transaction(factory) as s:
                s.execute(
                    update(WorkItem)
                    .where(
                        WorkItem.id == item_id,
                        WorkItem.claimed_by == holder,
                        WorkItem.status == "running",
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        except Exception:
            log.warning("could not write the heartbeat of work item %s", item_id)


def run_in_web(factory: sessionmaker[Session], item_id: int, holder: str | None = None) -> str:
    """Claim and run an item in this (web) process, unless a worker took it first."""
    from retento.work.leases import holder_id

    holder = holder or holder_id("web")
    if not claim_item(factory, item_id, holder):
        return "taken"
    return run_item(factory, item_id, holder)


def reap_stale(
    factory: sessionmaker[Session], *, stale_seconds: float, max_attempts: int
) -> list[int]:
    """Items whose runner stopped sending heartbeats: queued again, or failed after
    ``max_attempts`` (the kind's ``on_abandon`` then records it on the domain's row)."""
    limit = utcnow() - timedelta(seconds=stale_seconds)
    kinds = load_kinds()
    touched: list[int] = []
    with transaction(factory) as s:
        stmt = select(WorkItem).where(WorkItem.status == "running", WorkItem.heartbeat_at < limit)
        if not _is_sqlite(s):
            stmt = stmt.with_for_update(skip_locked=True)
        for item in s.scalars(stmt).all():
            with _LOCK:
                if item.id in RUNNING_HERE:
                    continue
            touched.append(item.id)
            reason = f"The process running it stopped ({item.claimed_by})."
            if item.attempts < max_attempts:
                item.status, item.claimed_by, item.error = "queued", None, reason
                log.warning("work item %s re-queued: %s", item.id, reason)
                continue
            item.status, item.error, item.finished_at = "failed", reason, utcnow()
            kind = kinds.get(item.kind)
            if kind is not None and kind.on_abandon is not None:
                kind.on_abandon(s, dict(item.payload or {}), reason)
    return touched


class WorkRunner:
    """``concurrency`` threads that claim and run queued items until stopped."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        concurrency: int = 1,
        poll_seconds: float = 1.0,
        stale_seconds: float = 120.0,
        max_attempts: int = 3,
        holder: str | None = None,
    ):
        from retento.work.leases import holder_id

        self.factory = factory
        self.concurrency = concurrency
        self.poll = poll_seconds
        self.stale = stale_seconds
        self.max_attempts = max_attempts
        self.holder = holder or holder_id("worker")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ran = 0

    def start(self) -> WorkRunner:
        for i in range(self.concurrency):
            t = threading.Thread(
                target=self._loop, args=(i,), name=f"retento-work-{i}", daemon=True
            )
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=timeout)

    def run_once(self) -> int:
        """Run queued items until none is left (``retento worker --once``); how many ran."""
        n = 0
        while not self._stop.is_set():
            item_id = claim_next(self.factory, self.holder)
            if item_id is None:
                return n
            run_item(self.factory, item_id, self.holder)
            n += 1
        return n

    def _loop(self, index: int) -> None:
        last_reap = 0.0
        while not self._stop.is_set():
            try:
                if index == 0 and time.monotonic() - last_reap > self.stale / 4:
                    last_reap = time.monotonic()
                    reap_stale(
                        self.factory, stale_seconds=self.stale, max_attempts=self.max_attempts
                    )
                item_id = claim_next(self.factory, self.holder)
            except Exception:
                log.exception("could not claim work")
                item_id = None
            if item_id is None:
                self._stop.wait(self.poll)
                continue
            run_item(self.factory, item_id, self.holder)
            self.ran += 1
