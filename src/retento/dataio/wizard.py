"""The browser import wizard's jobs: upload, mapping, check, run, progress (one import path).

Every step goes through ``service.import_file`` — the function behind ``retento import`` and
``POST /api/v1/imports/{entity}`` — so the web checks the same things, words the same row and
column errors, and keeps the same all-or-nothing semantics. The check step is the same run with
``validate_only`` (every row checked, nothing written).

Small files are checked and imported within the request. Larger ones are queued as a
``dataio.import`` work item (``retento.work``): a ``retento worker`` runs it (or, with
RETENTO_RUN_WORK_IN_WEB, a thread of the web process that queued it) in its own transaction and
writes the outcome to the ``import_jobs`` row. Progress goes to ``PROGRESS`` (this process's
memory) and to the work item's row, so the page polled every second shows it whichever web process
serves the poll. On SQLite the row is not written during the import (one writer at a time: the
import's own transaction would block every progress update until it commits), so the one-process
demo relies on ``PROGRESS``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.config import get_settings
from retento.core.db import transaction
from retento.core.errors import InvalidInput, Msg, NotFound, RetentoError
from retento.core.hooks import emit
from retento.customers.field_models import CustomFieldDefinition
from retento.customers.field_values import definitions
from retento.dataio import service
from retento.dataio.headers import FieldDefinition, custom_field_names, header_fields
from retento.dataio.importer import Importer
from retento.dataio.mapping import Mapping, installation_timezone
from retento.dataio.models import ImportJob
from retento.dataio.readers import open_table
from retento.dataio.schemas import ENTITIES
from retento.dataio.wizard_custom import check_targets, suggested
from retento.web.i18n import N_
from retento.work import queue
from retento.work.queue import WorkContext, work_kind

log = logging.getLogger("retento.dataio.wizard")

PREVIEW_ROWS = 5
MAX_STORED_ERRORS = 1_000
# Files up to this size are checked and imported inside the request (well under a second);
# larger ones go to a background thread whose progress the page polls.
INLINE_BYTES = 256 * 1024


@dataclass
class ProgressState:
    stage: str
    done: float
    total: float

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


PROGRESS: dict[int, ProgressState] = {}
_LOCK = threading.Lock()


# Where a job running in this process also reports its progress (its work item's row).
_FORWARD: dict[int, Any] = {}
WORK_KIND = "dataio.import"


def work_ref(job_id: int) -> str:
    return f"import_job:{job_id}"


queue.work_ref_label("import_job", N_("Import job #%(id)s"))


def progress_of(job_id: int, session: Session | None = None) -> ProgressState | None:
    """The live progress of a job: this process's, else (given a session) the progress its work
    item stored, when another process runs it."""
    with _LOCK:
        live = PROGRESS.get(job_id)
    if live is not None or session is None:
        return live
    item = queue.item_for_ref(session, work_ref(job_id))
    if item is None or item.status != "running" or not item.stage:
        return None
    return ProgressState(item.stage, float(item.progress), 1.0)


def _reporter(job_id: int):
    def report(stage: str, done: float, total: float) -> None:
        with _LOCK:
            PROGRESS[job_id] = ProgressState(stage, done, total)
            forward = _FORWARD.get(job_id)
        if forward is not None:
            forward(stage, done / total if total else 0.0)

    return report


# ------------------------------------------------------------------------------ steps
def create_job(
    session: Session,
    entity: str,
    filename: str,
    content: bytes,
    *,
    actor: User,
    encoding: str | None = None,
    timezone: str | None = None,
) -> ImportJob:
    """Step 1: keep the uploaded file once its header and first rows can be read; times without
    a zone will be read in ``timezone`` (the installation's) unless the mapping step changes it."""
    require(actor, "data:import")
    if entity not in ENTITIES:
        raise InvalidInput(
            Msg(
                "Cannot import '%(entity)s'. Choose one of: %(choices)s.",
                entity=entity,
                choices=", ".join(ENTITIES),
            ),
            field="entity",
        )
    service.require_entity(actor, entity)
    header = read_preview(content, filename, encoding)[0]
    job = ImportJob(
        entity=entity,
        filename=filename[:255],
        size=len(content),
        content=content,
        encoding=encoding,
        status="uploaded",
        created_by_id=actor.id,
        mapping={
            "columns": guess_mapping(entity, header, custom_fields(session, entity)),
            "timezone": timezone or installation_timezone(),
        },
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int, *, actor: User) -> ImportJob:
    """A job of ``actor`` (administrators see everyone's)."""
    require(actor, "data:import")
    job = session.get(ImportJob, job_id)
    if job is None or (job.created_by_id != actor.id and actor.role != "admin"):
        raise NotFound("Import", job_id)
    return job


def recent_jobs(session: Session, *, actor: User, limit: int = 10) -> list[ImportJob]:
    """The latest imports of ``actor`` (all users' for administrators)."""
    require(actor, "data:import")
    stmt = select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)
    if actor.role != "admin":
        stmt = stmt.where(ImportJob.created_by_id == actor.id)
    return list(session.scalars(stmt))


def read_preview(
    content: bytes, filename: str, encoding: str | None, n: int = PREVIEW_ROWS
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the first ``n`` rows with their line in the file, as the problem table
    and a spreadsheet number it (the header is line 1); reading errors name their line."""
    table = open_table(content, filename, encoding=encoding)
    rows: list[tuple[int, list[str]]] = []
    try:
        for line, cells in table.rows:
            rows.append((line, cells))
            if len(rows) >= n:
                break
    finally:
        table.close()
    return table.header, rows


def custom_fields(session: Session, entity: str) -> list[CustomFieldDefinition]:
    """The custom field definitions a file of ``entity`` may feed (customers' only), active
    and retired: an exported file has a column for each, and a retired field's value may be
    kept as stored (the importer checks that)."""
    return definitions(session) if entity == "customers" else []


def guess_mapping(
    entity: str, header: list[str], defs: Iterable[FieldDefinition] = ()
) -> dict[str, str | None]:
    """Source column → field, as the CLI and the API read the file without a mapping
    (``headers.header_fields``: same name loosely, else a header word; else, for customers, the
    custom field ``custom.<key>`` the header names: a defined one by key or label, or the key of
    a ``custom.<key>`` header the importer accepts, ``wizard_custom.suggested``), the first
    column of a field keeping it: the mapping step's starting point."""
    names = custom_field_names(defs)
    out: dict[str, str | None] = {}
    taken: set[str] = set()
    for src, target in header_fields(entity, header).items():
        if target is None and entity == "customers":
            target = suggested(src, names)
        out[src] = None if target in taken else target
        if target:
            taken.add(target)
    return out


def job_mapping(job: ImportJob) -> Mapping:
    data = job.mapping or {}
    return Mapping(
        columns=dict(data.get("columns") or {}),
        timezone=data.get("timezone") or installation_timezone(),
        encoding=job.encoding,
    )


def save_mapping(
    session: Session, job: ImportJob, columns: dict[str, str | None], timezone: str
) -> None:
    """Step 2: keep the mapping once the header satisfies it (required fields, no field twice);
    an empty ``timezone`` is the installation's."""
    if job.status not in ("uploaded", "validated", "failed") or job.phase == "running":
        raise InvalidInput("This import has already run; upload the file again.", field="file")
    # A target that is no field; the custom keys are checked by the importer's header check.
    check_targets(job.entity, columns)
    mapping = Mapping(
        columns=dict(columns),
        timezone=timezone or installation_timezone(),
        encoding=job.encoding,
    )
    mapping.tz()
    table = open_table(job.content, job.filename, encoding=job.encoding)
    try:
        # The importer's own header check: the same messages as the CLI and API.
        Importer(session, job.entity, table, mapping)._resolve_header()
    finally:
        table.close()
    job.mapping = {"columns": columns, "timezone": mapping.timezone}
    job.status = "uploaded"
    job.phase = None
    job.errors = None
    job.message = None
    job.rejects = None
    job.report = None
    session.flush()


def claim(session: Session, job: ImportJob, phase: str, *, skip_invalid: bool = False) -> bool:
    """Move the job into ``phase`` ("validating" or "running") once: a second click, a retry or a
    second tab finds it taken and changes nothing (one conditional UPDATE on every backend)."""
    frm, to = ("uploaded", "validating") if phase == "validating" else ("validated", "running")
    values: dict[str, Any] = {"status": to, "phase": to, "updated_at": datetime.now(UTC)}
    if phase == "running":
        values["skip_invalid"] = skip_invalid
    got = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status == frm)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(job)
    return got.rowcount == 1


def runs_inline(job: ImportJob) -> bool:
    return job.size <= INLINE_BYTES


def execute(session: Session, job: ImportJob, actor: User) -> None:
    """Check (status "validating") or import (status "running") the job's file, and record the
    outcome on the job. A refused file is recorded, not raised: nothing of it was written."""
    phase = job.status
    validate = phase == "validating"
    got: dict[str, bytes] = {}
    progress = _reporter(job.id)
    progress("reading", 0, 1)
    try:
        with session.begin_nested():
            report = service.import_file(
                session,
                job.entity,
                job.content,
                actor=actor,
                name=job.filename,
                mapping=job_mapping(job),
                skip_invalid=job.skip_invalid,
                validate_only=validate,
                rejects_sink=lambda b: got.__setitem__("rejects", b),
                progress=progress,
            )
    except RetentoError as exc:
        if exc.status in (401, 403):
            raise
        job.status = "failed"
        job.message = exc.message
        job.errors = [e.as_dict() for e in exc.errors[:MAX_STORED_ERRORS]] or [
            {"row": None, "field": exc.field, "message": exc.message}
        ]
        job.rejected = len({e.row for e in exc.errors if e.row})
        # A refused all-or-nothing run keeps the check's rejects: the same rows.
        job.finished_at = datetime.now(UTC)
        session.flush()
        _forget(job.id)
        if not validate:
            emit("import.failed", session, job=job, actor=actor)
        return
    job.rows = report.rows
    job.rejected = report.rejected
    job.errors = [e.model_dump() for e in report.errors[:MAX_STORED_ERRORS]]
    job.report = report.model_dump(exclude={"errors"})
    job.rejects = got.get("rejects") or None
    job.message = None
    if validate:
        job.status = "validated"
    else:
        job.status = "done"
        job.finished_at = datetime.now(UTC)
        job.content = b""  # imported: the rows live in their tables now; the rejects are kept
    session.flush()
    _forget(job.id)
    if not validate:
        emit("import.finished", session, job=job, actor=actor)


def _forget(job_id: int) -> None:
    with _LOCK:
        PROGRESS.pop(job_id, None)


def start(session: Session, job: ImportJob, actor: User, factory: sessionmaker[Session]) -> None:
    """Run a claimed job now (small file) or queue it for a worker (the page polls)."""
    if runs_inline(job):
        execute(session, job, actor)
        return
    item = queue.enqueue(
        session, WORK_KIND, {"job_id": job.id}, ref=work_ref(job.id), actor_id=actor.id
    )
    # The worker reads the claimed status and the item: they must be committed first.
    session.commit()
    if get_settings().run_work_in_web:
        _reporter(job.id)("reading", 0, 1)
        threading.Thread(
            target=queue.run_in_web,
            args=(factory, item.id),
            name=f"retento-import-{job.id}",
            daemon=True,
        ).start()


def _abandon(session: Session, payload: dict[str, Any], reason: str) -> None:
    job = session.get(ImportJob, payload.get("job_id"))
    if job is not None and job.status in ("validating", "running"):
        job.status, job.message, job.finished_at = "failed", reason, datetime.now(UTC)


@work_kind(
    WORK_KIND,
    N_("Import"),
    on_abandon=_abandon,
    stages={"reading": N_("Reading the file"), "writing": N_("Writing")},
)
def run_queued(ctx: WorkContext) -> dict[str, Any]:
    """The worker's side: check or import the job's file, progress to the work item."""
    job_id = int(ctx.payload["job_id"])
    _FORWARD[job_id] = ctx.progress
    try:
        status = _work(ctx.factory, job_id, reraise=True)
    finally:
        _FORWARD.pop(job_id, None)
    return {"job_id": job_id, "status": status}


def _work(factory: sessionmaker[Session], job_id: int, *, reraise: bool = False) -> str:
    """Execute a claimed job in its own transaction; returns the job's status. An unexpected
    error is recorded on the job (it must not stay "running" for ever) and, with ``reraise``,
    raised again so the work item fails too."""
    try:
        with transaction(factory) as s:
            job = s.get(ImportJob, job_id)
            if job is None or job.status not in ("validating", "running"):
                return job.status if job is not None else "missing"
            actor = s.get(User, job.created_by_id) if job.created_by_id else None
            if actor is None:
                raise RuntimeError("the user who uploaded the file no longer exists")
            execute(s, job, actor)
            return job.status
    except Exception as exc:
        log.exception("import job %s failed", job_id)
        _forget(job_id)
        with transaction(factory) as s:
            job = s.get(ImportJob, job_id)
            if job is not None:
                job.status = "failed"
                job.message = str(exc)[:2000]
                job.finished_at = datetime.now(UTC)
                emit("import.failed", s, job=job, actor=None)
        if reraise:
            raise
        return "failed"
