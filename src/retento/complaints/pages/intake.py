"""The intake form for a new complaint and the form that corrects the intake later."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints import attachments, service, sla_clocks
from retento.complaints.models import (
    CHANNELS,
    EMOTIONS,
    KINDS,
    PURPOSES,
    SEVERITIES,
    Complaint,
)
from retento.complaints.pages.common import (
    category_options,
    opts,
    reraise_access,
    root_cause_options,
)
from retento.complaints.schemas import (
    ComplaintCreate,
    ComplaintRead,
    ComplaintUpdate,
)
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, RetentoError
from retento.core.validation import DbId, id_from_text, is_id
from retento.customers.models import Customer
from retento.web import pickers
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()

# Fields chosen with a search-as-you-type picker (web/pickers.py) and the kind each one picks.
PICKED = {"customer_id": "customer", "product_id": "product"}


def _chosen(
    session: Session, user: User, values: dict[str, Any], fields: tuple[str, ...]
) -> dict[str, pickers.PickerItem | None]:
    """The picked record of each picker field, to show its name next to the field again."""
    return {f: pickers.label_of(session, PICKED[f], values.get(f), user) for f in fields}


def _resolve_picked(
    request: Request,
    session: Session,
    user: User,
    shown: dict[str, Any],
    fields: tuple[str, ...],
    problems: list[FieldError],
) -> None:
    """Typed text in a picker field (no JavaScript) becomes the id of its only match; otherwise
    the field gets a message saying how many matched and what to type."""
    for f in fields:
        try:
            shown[f] = pickers.resolve(request, session, PICKED[f], f, shown[f], user)
        except InvalidInput as exc:
            problems.extend(exc.errors)


# --- new complaint -----------------------------------------------------------------------------

CREATE_FIELDS = (
    "kind", "customer_id", "channel", "category_id", "subject", "description", "order_id",
    "product_id", "severity", "emotion", "contact_name", "contact_email", "contact_phone",
)  # fmt: skip


def _render_new(
    request: Request,
    session: Session,
    user: User,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    customer = None
    # A row id or nothing: ?customer_id=9223372036854775808 reached the database (a bigint it
    # refuses; SQLite: OverflowError).
    cid = id_from_text(str(values.get("customer_id") or ""))
    if cid is not None:
        customer = session.get(Customer, cid)
    return render(
        request,
        "complaints/new.html",
        status_code=status_code,
        complaint_key=uuid.uuid4().hex,  # a new complaint's idempotency key
        form=values,
        errors=errors or {},
        customer=customer,
        chosen=_chosen(session, user, values, ("customer_id", "product_id")),
        kinds=opts(request, "complaint_kind", KINDS),
        channels=opts(request, "complaint_channel", CHANNELS),
        categories=category_options(request, session, user),
        severities=opts(request, "severity", SEVERITIES),
        emotions=opts(request, "emotion", EMOTIONS),
        purposes=opts(request, "purpose", PURPOSES),
        max_mb=attachments.MAX_ATTACHMENT_BYTES // (1024 * 1024),
    )


@router.get("/complaints/new")
def complaint_new(request: Request, session: DbSession, user: PageUser) -> Response:
    """The intake form; ``?customer_id=`` pre-fills the customer (from the 360 page)."""
    require(user, "complaint:create")
    values: dict[str, Any] = {
        "kind": "complaint",
        "channel": "phone",
        "severity": "1",
        "emotion": "calm",
        "purposes": [],
        "customer_id": request.query_params.get("customer_id", ""),
    }
    return _render_new(request, session, user, values)


@router.post("/complaints/new")
def complaint_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Record a complaint (and its attachment); on any error nothing is saved."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in CREATE_FIELDS}
    shown["purposes"] = [p for p in form.getlist("purposes") if isinstance(p, str)]
    shown["complaint_key"] = str(form.get("complaint_key") or "").strip()[:120]  # kept on a retry
    upload = form.get("file")
    problems: list[FieldError] = []
    _resolve_picked(request, session, user, shown, ("customer_id", "product_id"), problems)
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items() if k != "complaint_key"}
    data["subject"] = shown["subject"]
    data["description"] = shown["description"]
    data["purposes"] = shown["purposes"]
    data["kind"] = shown["kind"] or "complaint"
    data["channel"] = shown["channel"] or "phone"
    data["severity"] = shown["severity"] or "1"
    data["emotion"] = shown["emotion"] or "calm"
    named = {e.field for e in problems}
    for key in ("customer_id", "order_id", "product_id", "category_id"):
        if shown[key] and not is_id(shown[key]) and key not in named:
            problems.append(FieldError(key, tr(request, "Enter a whole number.")))
    if not shown["customer_id"] and "customer_id" not in named:
        problems.append(FieldError("customer_id", tr(request, "This field is required.")))
    if not shown["category_id"]:
        problems.append(FieldError("category_id", tr(request, "This field is required.")))
    if not shown["subject"]:
        # Checked here too: the schema (which also wants it) only runs once these pass, and a
        # form sent empty should name every missing field at once.
        problems.append(FieldError("subject", tr(request, "This field is required.")))
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        c, created = service.create_complaint_once(
            session,
            ComplaintCreate(**data),
            actor=user,
            idempotency_key=shown["complaint_key"] or None,
        )
        if created and isinstance(upload, UploadFile) and upload.filename:
            attachments.add_attachment(
                session,
                c.id,
                upload.filename,
                upload.content_type or "",
                upload.file.read(attachments.MAX_ATTACHMENT_BYTES + 1),  # past it: refused
                actor=user,
                data_dir=request.app.state.settings.data_dir,
            )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        errors = form_errors(request, exc)
        if "category" in errors:
            errors["category_id"] = errors.pop("category")
        if "Idempotency-Key" in errors:  # sent again with other details: a new key to send it
            errors[""] = errors.pop("Idempotency-Key")
            shown["complaint_key"] = ""
        return _render_new(request, session, user, shown, errors, 422)
    flash(request, tr(request, "Complaint %(code)s was recorded.", code=c.tracking_code))
    return redirect(request, f"/complaints/{c.id}")


# --- editing the intake ------------------------------------------------------------------------

EDIT_FIELDS = (
    "kind", "channel", "category_id", "subject", "description", "order_id", "product_id",
    "severity", "emotion", "root_cause",
)  # fmt: skip
EDIT_LABELS = {
    "kind": N_("Type"),
    "channel": N_("Channel"),
    "category_id": N_("Category"),
    "subject": N_("Subject"),
    "description": N_("What happened"),
    "order_id": N_("Related order number"),
    "product_id": N_("Related product number"),
    "severity": N_("Severity"),
    "emotion": N_("Emotion"),
    "purposes": N_("What the customer wants"),
    "root_cause": N_("Root cause"),
}


def _edit_values(c: Complaint) -> dict[str, Any]:
    values = {k: "" if getattr(c, k) is None else str(getattr(c, k)) for k in EDIT_FIELDS}
    values["purposes"] = list(c.purposes or [])
    values["version"] = str(c.version)
    return values


def _posted(c: Complaint) -> dict[str, Any]:
    """The complaint as its edit form posts it unchanged (input name → value, the ticked
    purposes a list): the form's hidden base of a three-way stale-edit page (``web.conflict``),
    read back by ``_edit_data``."""
    return {k: v for k, v in _edit_values(c).items() if k != "version"}


def _edit_data(
    request: Request, session: Session, user: User, form: Any
) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    """``(values to re-show, data for ComplaintUpdate, problems found while reading)``."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in EDIT_FIELDS}
    shown["purposes"] = [p for p in form.getlist("purposes") if isinstance(p, str)]
    problems: list[FieldError] = []
    _resolve_picked(request, session, user, shown, ("product_id",), problems)
    named = {e.field for e in problems}
    data: dict[str, Any] = {k: shown[k] for k in ("subject", "description", "purposes")}
    for key in ("kind", "channel", "emotion", "severity", "category_id"):
        if not shown[key]:
            problems.append(FieldError(key, tr(request, "This field is required.")))
        else:
            data[key] = shown[key]
    for key in ("order_id", "product_id"):
        if shown[key] and not is_id(shown[key]) and key not in named:
            problems.append(FieldError(key, tr(request, "Enter a whole number.")))
        data[key] = shown[key] or None
    data["root_cause"] = shown["root_cause"] or None
    return shown, data, problems


def _render_edit(
    request: Request,
    session: Session,
    user: User,
    c: Complaint,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The edit form; it carries the values it was loaded with (``base``, for the stale-edit
    page), kept when it comes back with errors."""
    return render(
        request,
        "complaints/edit.html",
        status_code=status_code,
        c=c,
        form=values,
        errors=errors or {},
        base=base if base is not None else _posted(c),
        chosen=_chosen(session, user, values, ("product_id",)),
        sla=sla_clocks.sla_status(session, c),
        kinds=opts(request, "complaint_kind", KINDS),
        channels=opts(request, "complaint_channel", CHANNELS),
        categories=category_options(request, session, user, keep=c.category_id),
        root_causes=root_cause_options(request, [c.root_cause]),
        severities=opts(request, "severity", SEVERITIES),
        emotions=opts(request, "emotion", EMOTIONS),
        purposes=opts(request, "purpose", PURPOSES),
    )


@router.get("/complaints/{complaint_id:int}/edit")
def complaint_edit(
    request: Request, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """The intake fields of a complaint, to correct them (agents: their own complaints)."""
    c = service.get_complaint(session, complaint_id, actor=user)
    service.require_work(user, c)
    return _render_edit(request, session, user, c, _edit_values(c))


@router.post("/complaints/{complaint_id:int}/edit")
def complaint_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """Save intake corrections; a new severity recomputes the SLA due times."""
    c = service.get_complaint(session, complaint_id, actor=user)
    service.require_work(user, c)
    shown, data, problems = _edit_data(request, session, user, form)
    shown["version"] = str(form.get("version") or "")  # kept: a re-shown form still detects
    expected = form_version(form)
    old_severity = c.severity
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        update = ComplaintUpdate(**data)
        service.update_complaint(
            session, complaint_id, update, actor=user, expected_version=expected
        )
    except STALE:
        session.rollback()
        current = service.get_complaint(session, complaint_id, actor=user)

        def read(values: Any) -> dict[str, Any]:
            """Form inputs → the compared values, as the submitted form is read."""
            _, data, problems = _edit_data(request, session, user, values)
            if problems:
                raise InvalidInput(problems[0].message, field=problems[0].field)
            return ComplaintUpdate(**data).model_dump(exclude_unset=True, exclude={"version"})

        return conflict_page(
            request,
            session,
            entity="complaint",
            record=current,
            title=current.tracking_code,
            submitted=update.model_dump(exclude_unset=True, exclude={"version"}),
            current=ComplaintRead.model_validate(current).model_dump(),
            labels=EDIT_LABELS,
            form=form,
            action=f"/complaints/{complaint_id}/edit",
            reload_url=f"/complaints/{complaint_id}/edit",
            cancel_url=f"/complaints/{complaint_id}",
            expected=expected,
            base=read_base(form, read),
            current_form=_posted(current),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        c = service.get_complaint(session, complaint_id, actor=user)
        errors = form_errors(request, exc)
        return _render_edit(request, session, user, c, shown, errors, 422, form_base(form))
    if c.severity != old_severity:
        msgid = "Saved. The severity changed, so the SLA due times were recomputed."
        flash(request, tr(request, msgid))
    else:
        flash(request, tr(request, "Saved."))
    return redirect(request, f"/complaints/{complaint_id}")
