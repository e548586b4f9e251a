"""The import wizard in the browser: upload, map columns, check, import, download the rejects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from starlette.datastructures import FormData

from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, Msg, RetentoError
from retento.core.limits import current_limits, human_size
from retento.core.validation import DbId
from retento.dataio import service, wizard
from retento.dataio.messages import translate
from retento.dataio.models import ImportJob
from retento.dataio.schemas import COLUMNS, ENTITIES, ENTITY_LABELS
from retento.dataio.wizard_custom import typed_target, undefined_targets
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    PageUser,
    error_text,
    is_htmx,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)
from retento.work import queue
from retento.work.models import WorkItem
from retento.work.pages import STATUS_LABELS as WORK_STATUS_LABELS
from retento.work.pages import item_view

router = page_router()

register_nav(NavItem("imports", N_("Import"), "/imports", "data:import", 85, "more"))

ENCODINGS = (
    ("", N_("UTF-8 (also with BOM)")),
    ("gb18030", "GB18030 / GBK"),
    ("utf-16", "UTF-16"),
    ("big5", "Big5"),
    ("cp1252", "Windows-1252"),
)
FIELD_LABELS = {
    "external_id": N_("External id (the upsert key)"),
    "name": N_("Name"),
    "party_type": N_("Person or organisation"),
    "kind": N_("Kind"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "address": N_("Address"),
    "city": N_("City"),
    "country": N_("Country (two-letter code)"),
    "acquired_on": N_("Acquired on"),
    "birth_date": N_("Date of birth"),
    "consent_email": N_("E-mail consent"),
    "consent_sms": N_("SMS consent"),
    "consent_phone": N_("Phone consent"),
    "consent_profiling": N_("Profiling consent"),
    "tags": N_("Tags (separated by ;)"),
    "owner": N_("Owner (username)"),
    "custom_fields": N_("Custom fields (JSON)"),
    "note": N_("Note"),
    "category": N_("Category"),
    "unit_price": N_("Unit price"),
    "unit_cost": N_("Unit cost"),
    "is_active": N_("Active"),
    "order_external_id": N_("Order number"),
    "customer_external_id": N_("Customer number"),
    "ordered_at": N_("Order time"),
    "product_external_id": N_("Product number (SKU)"),
    "quantity": N_("Quantity"),
    "line_discount": N_("Line discount"),
    "order_discount": N_("Order discount"),
    "channel": N_("Channel"),
    "status": N_("Status"),
    "line_no": N_("Line number"),
    "occurred_at": N_("Time of contact"),
    "stage": N_("Journey stage"),
    "direction": N_("Direction"),
    "outcome": N_("Outcome"),
    "subject": N_("Subject"),
    "description": N_("Description"),
    "severity": N_("Severity (1–4)"),
    "emotion": N_("Emotion"),
    "purposes": N_("Customer's purposes (separated by ;)"),
    "root_cause": N_("Root cause"),
    "received_at": N_("Received at"),
}
STATUS_LABELS = {
    "uploaded": N_("Uploaded"),
    "validating": N_("Checking"),
    "validated": N_("Checked"),
    "running": N_("Importing"),
    "done": N_("Imported"),
    "failed": N_("Not imported"),
}
STAGE_LABELS = {"reading": N_("Reading the file"), "writing": N_("Writing")}
ERRORS_SHOWN = 200


def _installation_tz(request: Request) -> str:
    """The installation's time zone: times without one are read in it unless the mapping step
    names another (as in the CLI and the API)."""
    return request.app.state.settings.timezone or "UTC"


def _entities(request: Request, user: Any = None) -> list[tuple[str, str]]:
    """What the user may import (creating and updating the entity's records: ``service``)."""
    return [
        (e, tr(request, ENTITY_LABELS[e]))
        for e in ENTITIES
        if user is None or service.may_import(user, e)
    ]


def _text(form: FormData, name: str) -> str:
    v = form.get(name)
    return v.strip() if isinstance(v, str) else ""


def _message(request: Request, message: str | None) -> str:
    """An import message in the reader's language: a ``Msg`` (raised just now) by its template
    with its values, a stored row message by its known shape (``dataio.messages``), a fixed one
    by the catalogues; English when none knows it."""
    if isinstance(message, Msg):
        return error_text(request, message)
    text = str(message or "")
    if not text:
        return text
    shown = translate(text, lambda m: tr(request, m))
    return shown if shown is not text else tr(request, text)


def _errors_view(request: Request, errors: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Stored row/column errors with their message in the reader's language."""
    return [
        {
            "row": e.get("row"),
            "field": e.get("field"),
            "message": _message(request, e.get("message")),
        }
        for e in (errors or [])[:ERRORS_SHOWN]
    ]


def _ctx(request: Request, job: ImportJob) -> dict[str, Any]:
    return {
        "job": job,
        "entity_label": tr(request, ENTITY_LABELS[job.entity]),
        "status_label": tr(request, STATUS_LABELS.get(job.status, job.status)),
    }


# ------------------------------------------------------------------------- step 1
def _upload_page(
    request: Request,
    session: Any,
    user: Any,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "dataio/upload.html",
        status_code=status_code,
        entities=_entities(request, user),
        encodings=[(c, tr(request, t) if c == "" else t) for c, t in ENCODINGS],
        columns={e: [(c.name, c.required) for c in COLUMNS[e]] for e in ENTITIES},
        form=form or {"entity": request.query_params.get("entity", "customers")},
        errors=errors or {},
        jobs=wizard.recent_jobs(session, actor=user),
        status_labels={k: tr(request, v) for k, v in STATUS_LABELS.items()},
        entity_labels={k: tr(request, v) for k, v in ENTITY_LABELS.items()},
        limit=human_size(current_limits().upload_bytes),
    )


@router.get("/imports")
def upload_form(request: Request, session: DbSession, user: PageUser) -> Response:
    """Step 1: choose what to import and the file."""
    require(user, "data:import")
    if not _entities(request, user):
        # Nothing to choose from: say why (the role may not create customers, ...).
        service.require_entity(user, ENTITIES[0])
    return _upload_page(request, session, user)


@router.post("/imports")
def upload(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    """Keep the file and go on to the column mapping (errors stay on this page)."""
    require(user, "data:import")
    entity = _text(form, "entity")
    encoding = _text(form, "encoding") or None
    shown = {"entity": entity, "encoding": encoding or ""}
    upload = form.get("file")
    limit = current_limits().upload_bytes
    try:
        if entity not in ENTITIES:
            raise InvalidInput(tr(request, "Choose what the file holds."), field="entity")
        if encoding is not None and encoding not in {c for c, _ in ENCODINGS}:
            raise InvalidInput(tr(request, "Choose one of the listed encodings."), field="encoding")
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise InvalidInput(tr(request, "Choose a CSV or XLSX file."), field="file")
        if (upload.size or 0) > limit:
            raise InvalidInput(
                tr(request, "The file is larger than %(limit)s.", limit=human_size(limit)),
                field="file",
            )
        content = upload.file.read(limit + 1)
        if len(content) > limit:
            raise InvalidInput(
                tr(request, "The file is larger than %(limit)s.", limit=human_size(limit)),
                field="file",
            )
        job = wizard.create_job(
            session,
            entity,
            upload.filename,
            content,
            actor=user,
            encoding=encoding,
            timezone=_installation_tz(request),
        )
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        # The whole message: a row problem's own text lacks its line and column ("text
        # follows a closing quote"), which the message names ("q.csv: line 3, column name: …").
        message = _message(request, exc.message)
        return _upload_page(
            request,
            session,
            user,
            form=shown,
            errors={exc.field if exc.field in ("entity", "encoding") else "file": message},
            status_code=422,
        )
    return redirect(request, f"/imports/{job.id}/mapping")


# ------------------------------------------------------------------------- step 2
def _field_choices(
    request: Request, job: ImportJob, header: list[str], mapping: dict[str, str | None]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The mapping step's choices as ``(code, text)``: the entity's fields, and (customers) the
    custom fields as ``custom.<key>``: the defined ones with their label in the reader's
    language, then the keys no field defines that the file's ``custom.<key>`` headers or the
    ``mapping`` name, as the CLI imports them (``wizard_custom.undefined_targets``)."""
    fields = [
        (
            c.name,
            f"{tr(request, FIELD_LABELS.get(c.name, c.name))} · {c.name}"
            + (" *" if c.required else ""),
        )
        for c in COLUMNS[job.entity]
    ]
    locale = request_locale(request)
    retired = tr(request, "retired")
    defs = wizard.custom_fields(object_session(job), job.entity)
    custom = [
        (
            f"custom.{d.key}",
            f"{d.label_for(locale)} · {d.key}" + ("" if d.active else f" ({retired})"),
        )
        for d in defs
    ]
    # The key first, so that a narrow drop-down still shows which key it is.
    by_key = {d.key: d for d in defs}
    for target in undefined_targets(job.entity, header, mapping.values(), defs):
        key = target[len("custom.") :]
        owner = by_key.get(key.split(".", 1)[0])
        if owner is not None:
            text = tr(
                request, "%(key)s (breakdown of %(field)s)", key=key, field=owner.label_for(locale)
            )
        else:
            text = tr(request, "%(key)s (not defined)", key=key)
        custom.append((target, text))
    return fields, custom


def _columns_view(request: Request, job: ImportJob) -> list[tuple[str, str | None]]:
    """Each column of the file with the field it feeds as the mapping step words it (``None``:
    not imported), for the check step."""
    columns = (job.mapping or {}).get("columns") or {}
    fields, custom = _field_choices(request, job, list(columns), columns)
    text = dict(fields + custom)
    return [(src, text.get(dst, dst) if dst else None) for src, dst in columns.items()]


def _mapping_page(
    request: Request,
    job: ImportJob,
    errors: dict[str, str] | None = None,
    problems: list[dict[str, Any]] | None = None,
    status_code: int = 200,
    submitted: tuple[dict[str, str | None], str, dict[str, str]] | None = None,
    refused: Iterable[str] = (),
) -> Response:
    """The mapping step: the stored mapping, or (``submitted``: the drop-downs' choices, the
    time zone and the custom keys typed under the columns) the choices a refused save sent, so
    the user corrects them instead of starting over; the ``refused`` columns are marked."""
    header, rows = wizard.read_preview(job.content, job.filename, job.encoding)
    mapping = (job.mapping or {}).get("columns") or {}
    timezone = (job.mapping or {}).get("timezone") or _installation_tz(request)
    typed: dict[str, str] = {}
    if submitted is not None:
        mapping, timezone, typed = submitted
    fields, custom = _field_choices(request, job, header, mapping)
    return render(
        request,
        "dataio/mapping.html",
        status_code=status_code,
        header=header,
        rows=rows,
        mapping=mapping,
        fields=fields,
        custom_fields=custom,
        # Customers: a custom key may be typed under each column (wizard_custom.typed_target).
        key_inputs=job.entity == "customers",
        typed=typed,
        refused=set(refused),
        required=[c.name for c in COLUMNS[job.entity] if c.required],
        timezone=timezone,
        default_timezone=_installation_tz(request),
        timezone_attrs=Markup('placeholder="%s"') % _installation_tz(request),
        errors=errors or {},
        problems=problems or [],
        **_ctx(request, job),
    )


@router.get("/imports/{job_id}/mapping")
def mapping_form(request: Request, session: DbSession, user: PageUser, job_id: DbId) -> Response:
    """Step 2: which column feeds which field, guessed from the header, with the first rows."""
    job = wizard.get_job(session, job_id, actor=user)
    if job.status in ("validating", "running", "done"):
        return redirect(request, f"/imports/{job.id}")
    return _mapping_page(request, job)


@router.post("/imports/{job_id}/mapping")
def mapping_save(
    request: Request, form: PageForm, session: DbSession, user: PageUser, job_id: DbId
) -> Response:
    """Keep the mapping and check every row (in the background for a large file)."""
    job = wizard.get_job(session, job_id, actor=user)
    if job.status in ("validating", "running", "done"):
        return redirect(request, f"/imports/{job.id}")
    header = wizard.read_preview(job.content, job.filename, job.encoding, n=0)[0]
    # Each column's choice in the drop-down, or (customers) the custom key typed under it,
    # which takes its place: custom.<key>, checked by the importer's header check as a --map
    # target is (the column named when the key is refused).
    columns: dict[str, str | None] = {}
    chosen: dict[str, str | None] = {}
    typed: dict[str, str] = {}
    for i, src in enumerate(header):
        if src and src not in columns:
            chosen[src] = _text(form, f"col_{i}") or None
            key = _text(form, f"key_{i}") if job.entity == "customers" else ""
            target = typed_target(key)
            if target is not None:
                typed[src] = key
            columns[src] = target or chosen[src]
    timezone = _text(form, "timezone") or _installation_tz(request)
    try:
        wizard.save_mapping(session, job, columns, timezone)
    except InvalidInput as exc:
        session.rollback()
        job = wizard.get_job(session, job_id, actor=user)
        problems = [e.as_dict() for e in exc.errors]
        return _mapping_page(
            request,
            job,
            errors={"timezone" if exc.field == "timezone" else "": _message(request, exc.message)},
            problems=_errors_view(request, problems),
            status_code=422,
            submitted=(chosen, timezone, typed),
            refused={exc.field or ""} | {e.field or "" for e in exc.errors},
        )
    if wizard.claim(session, job, "validating"):
        wizard.start(session, job, user, request.app.state.session_factory)
    return redirect(request, f"/imports/{job.id}")


# ------------------------------------------------------------------- steps 3 and 4
@router.get("/imports/{job_id}")
def job_page(request: Request, session: DbSession, user: PageUser, job_id: DbId) -> Response:
    """The job as it stands: checking/importing (progress), checked (errors, mode), or done."""
    job = wizard.get_job(session, job_id, actor=user)
    ctx = _ctx(request, job)
    errors = _errors_view(request, job.errors)
    if job.status == "uploaded":
        return redirect(request, f"/imports/{job.id}/mapping")
    if job.status in ("validating", "running"):
        return render(request, "dataio/progress.html", **ctx, **_progress_view(request, job))
    validated = job.status == "validated"
    return render(
        request,
        "dataio/check.html" if validated else "dataio/result.html",
        columns=_columns_view(request, job) if validated else [],
        follow_ups=_follow_ups(session, (job.report or {}).get("work_item_ids") or []),
        work_status_labels=WORK_STATUS_LABELS,
        may_see_work=can(user, "work:read"),
        errors=errors,
        error_count=len(job.errors or []),
        valid_rows=max(job.rows - job.rejected, 0),
        report=job.report or {},
        message=_message(request, job.message),
        **ctx,
    )


def _follow_ups(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    """The work the import queued (a large import's loyalty points), as the work page shows it."""
    if not ids:
        return []
    queue.load_kinds()
    items = session.scalars(select(WorkItem).where(WorkItem.id.in_(ids)).order_by(WorkItem.id))
    return [item_view(i) for i in items]


def _progress_view(request: Request, job: ImportJob) -> dict[str, Any]:
    # This process's progress, else what the worker running the import stored on its work item.
    state = wizard.progress_of(job.id, object_session(job))
    if state is None:
        return {"percent": None, "stage_label": tr(request, STATUS_LABELS[job.status])}
    return {
        "percent": state.percent,
        "stage_label": tr(request, STAGE_LABELS.get(state.stage, state.stage)),
    }


@router.get("/imports/{job_id}/progress")
def job_progress(request: Request, session: DbSession, user: PageUser, job_id: DbId) -> Response:
    """The progress bar (polled by htmx); a finished job reloads its page."""
    job = wizard.get_job(session, job_id, actor=user)
    if job.status not in ("validating", "running"):
        if is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": f"/imports/{job.id}"})
        return redirect(request, f"/imports/{job.id}")
    return render(
        request, "dataio/_progress.html", **_ctx(request, job), **_progress_view(request, job)
    )


@router.get("/imports/{job_id}/follow-ups")
def job_follow_ups(request: Request, session: DbSession, user: PageUser, job_id: DbId) -> Response:
    """The work the import queued, as its result page shows it (polled while it runs)."""
    job = wizard.get_job(session, job_id, actor=user)
    return render(
        request,
        "dataio/_follow_ups.html",
        job=job,
        follow_ups=_follow_ups(session, (job.report or {}).get("work_item_ids") or []),
        work_status_labels=WORK_STATUS_LABELS,
        may_see_work=can(user, "work:read"),
    )


@router.post("/imports/{job_id}/run")
def job_run(
    request: Request, form: PageForm, session: DbSession, user: PageUser, job_id: DbId
) -> Response:
    """Import: all rows or none, or the valid rows only; a second click changes nothing."""
    job = wizard.get_job(session, job_id, actor=user)
    mode = _text(form, "mode")
    if mode not in ("all", "skip"):
        raise InvalidInput(tr(request, "Choose how to treat invalid rows."), field="mode")
    if wizard.claim(session, job, "running", skip_invalid=mode == "skip"):
        wizard.start(session, job, user, request.app.state.session_factory)
    return redirect(request, f"/imports/{job.id}")


@router.get("/imports/{job_id}/rejects.csv")
def job_rejects(request: Request, session: DbSession, user: PageUser, job_id: DbId) -> Response:
    """The rejected rows as they were read, plus the line and the reason (fix and re-upload); the
    reasons in the reader's language, as the check table words them (``_message``)."""
    job = wizard.get_job(session, job_id, actor=user)
    if not job.rejects:
        raise InvalidInput(tr(request, "This import has no rejected rows."), field="rejects")
    stem = job.filename.rsplit(".", 1)[0] or "import"
    # An ASCII name for every client, the file's own (a Chinese one too) per RFC 6266/5987.
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in stem)
    name = quote(f"{stem[:80]}.rejects.csv", safe="")
    return Response(
        service.rejects_csv(job.rejects, lambda m: _message(request, m)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{safe[:80]}.rejects.csv"; '
            f"filename*=UTF-8''{name}"
        },
    )
