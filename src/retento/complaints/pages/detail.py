"""One complaint: details, SLA clocks, timeline, the actions its state allows, attachments."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from retento.auth.models import User
from retento.auth.permissions import can
from retento.complaints import attachments, followup, remedies, service, sla_clocks, workflow
from retento.complaints.models import (
    COMPENSATION_TYPES,
    REMEDY_KINDS,
    Complaint,
)
from retento.complaints.pages.common import (
    is_zh,
    map_errors,
    opts,
    reraise_access,
    sla_flag,
    user_options,
    when,
)
from retento.complaints.pages.intake import EDIT_LABELS
from retento.complaints.remedy_points import points_offered
from retento.complaints.schemas import (
    AssignIn,
    FollowUpIn,
    NoteIn,
    RemedyCreate,
    TransitionIn,
)
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, NotFound, RetentoError
from retento.core.money import number_text, to_money
from retento.core.validation import DbId, is_id
from retento.web import pickers
from retento.web.forms import PageForm
from retento.web.i18n import N_, Formatter
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)
from retento.web.system_texts import localize_system_text

router = page_router()


# --- complaint page ----------------------------------------------------------------------------


def _event_view(request: Request, session: Session, ev: Any, users: dict[int, str]) -> dict:
    """One timeline entry with a readable summary of its data."""
    data = ev.data or {}
    summary = ""
    body = ev.body
    if body and ev.actor_id is None:
        # A note the system wrote (stored in the installation's language) in the reader's.
        body = localize_system_text(request_locale(request), body, field="complaint_event.body")
    if ev.kind == "transition":
        before = tr(request, label_msgid("complaint_status", data.get("from")))
        after = tr(request, label_msgid("complaint_status", data.get("to")))
        summary = f"{before} → {after}"
    elif ev.kind == "assignment":
        who = users.get(data.get("assignee_id") or 0)
        summary = (
            tr(request, "Assigned to %(name)s", name=who) if who else tr(request, "Unassigned")
        )
    elif ev.kind == "remedy":
        summary = tr(request, label_msgid("remedy_kind", data.get("kind")))
        if data.get("compensation_type"):
            summary += " · " + tr(
                request, label_msgid("compensation_type", data["compensation_type"])
            )
        if data.get("amount") and Decimal(data["amount"]):
            # with its currency, as the service recovery list and cost beside it
            settings = request.app.state.settings
            money = Formatter(request_locale(request), currency=settings.currency).money
            summary += " · " + money(Decimal(data["amount"]))
        if data.get("points"):
            summary += " · " + tr(request, "%(n)s points", n=data["points"])
    elif ev.kind == "severity":
        # Stored as numbers (1-4): shown by their labels ("2 · Moderate → 3 · Major").
        before, after = (
            tr(request, label_msgid("severity", str(v))) if v is not None else "—"
            for v in (data.get("from"), data.get("to"))
        )
        summary = f"{before} → {after}"
        if data.get("resolution_due_at"):
            due = datetime.fromisoformat(data["resolution_due_at"])
            summary += " · " + tr(request, "resolution due %(at)s", at=when(request, due))
    elif ev.kind == "edited":
        names = [tr(request, EDIT_LABELS.get(f, f)) for f in data.get("fields", [])]
        summary = tr(request, "Changed: %(fields)s", fields=", ".join(names))
    elif ev.kind == "escalation" and data.get("clock") and data.get("level"):
        # The stored body ("first response breached") is English; the data says it in words.
        clock = tr(request, label_msgid("sla_clock", data["clock"]))
        level = tr(request, label_msgid("sla_state", data["level"]))
        summary = f"{clock} · {level}"
        body = None
    elif ev.kind == "created":
        summary = tr(request, label_msgid("complaint_channel", data.get("channel")))
    elif "won_back" in data:
        summary = tr(request, "Won back") if data["won_back"] else tr(request, "Not won back")
    elif "csat" in data:
        summary = tr(request, "Satisfaction %(n)s of 5", n=data["csat"])
    elif data.get("channel") == "email":
        summary = tr(request, "By email from %(sender)s", sender=data.get("from") or "—")
    return {
        "at": ev.at,
        "kind": ev.kind,
        "internal": ev.internal,
        "actor": ev.actor_name,
        "body": body,
        "summary": summary,
    }


def _render_detail(
    request: Request,
    session: Session,
    user: User,
    c: Complaint,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    users = {u.id: (u.display_name or u.username) for u in session.scalars(select(User))}
    remedy_cost = remedies.remedy_cost_of(c)
    # Points only where they can be posted: the programme is on and the customer a member.
    points = points_offered(session, c.customer_id)
    compensations = [t for t in COMPENSATION_TYPES if points or t != "loyalty_points"]
    return render(
        request,
        "complaints/detail.html",
        status_code=status_code,
        c=c,
        errors=errors or {},
        form=form or {},
        sla=sla_clocks.sla_status(session, c),
        flag=sla_flag(c),
        actions=workflow.allowed_actions(c.status),
        may_work=service.can_work(user, c),
        may_assign=can(user, "complaint:assign"),
        events=[_event_view(request, session, e, users) for e in c.events],
        users=users,
        assignees=user_options(session),
        remedy_kinds=opts(request, "remedy_kind", REMEDY_KINDS),
        compensation_types=opts(request, "compensation_type", compensations),
        points_offered=points,
        remedy_cost=remedy_cost,
        remedy_key=uuid.uuid4().hex,  # a new remedy's idempotency key
        note_key=uuid.uuid4().hex,  # a new note's idempotency key
        category_name=(
            c.category.name_zh if is_zh(request) and c.category.name_zh else c.category.name
        ),
        emails=_emails_view(request, session, c),
        # The product's name through the picker registry (pages know no products model).
        product=pickers.label_of(session, "product", c.product_id, user) if c.product_id else None,
    )


def _emails_view(request: Request, session: Session, c: Complaint) -> dict[str, Any]:
    """The e-mails about the complaint (status from the outbox) and its follow-up link."""
    from retento.complaints import outbound
    from retento.mail.compose import customer_locale
    from retento.mail.service import absolute

    customer = c.customer if c.customer_id else None
    path = outbound.followup_path(c, customer_locale(customer) if customer else None)
    return {
        "address": outbound.complainant_address(c, customer),
        "rows": outbound.sent_emails(session, c),
        "followup_url": absolute(request.app.state.settings, path) if path else None,
    }


@router.get("/complaints/{complaint_id:int}")
def complaint_detail(
    request: Request, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """One complaint: details, SLA clocks, timeline and the actions its state allows."""
    c = service.get_complaint(session, complaint_id, actor=user)
    return _render_detail(request, session, user, c)


def _act(
    request: Request,
    form: FormData,
    session: Session,
    user: User,
    complaint_id: DbId,
    action: Any,
    mapping: dict[str, str],
    done: str,
) -> Response:
    """Run one complaint action from a form; errors come back next to the form's fields."""
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        action(form)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        errors = map_errors(form_errors(request, exc), mapping)
        if "Idempotency-Key" in errors:  # sent again with other details: new keys to send it
            errors[""] = errors.pop("Idempotency-Key")
            values = {k: v for k, v in values.items() if not k.endswith("_key")}
        c = service.get_complaint(session, complaint_id, actor=user)
        status = exc.status if isinstance(exc, RetentoError) else 422
        return _render_detail(request, session, user, c, errors, values, status)
    flash(request, tr(request, done))
    return redirect(request, f"/complaints/{complaint_id}")


@router.post("/complaints/{complaint_id:int}/transition")
def complaint_transition(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """Move the complaint along its workflow (only legal actions are offered)."""

    def run(form: Any) -> None:
        note = str(form.get("feedback") or "").strip() or None
        data = TransitionIn(action=str(form.get("action") or ""), note=note)
        service.apply_transition(session, complaint_id, data, actor=user)

    return _act(
        request,
        form,
        session,
        user,
        complaint_id,
        run,
        {"note": "feedback"},
        N_("The status was changed."),
    )


@router.post("/complaints/{complaint_id:int}/assign")
def complaint_assign(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """Assign or reassign the complaint."""

    def run(form: Any) -> None:
        raw = str(form.get("assignee_id") or "").strip()
        if raw and not is_id(raw):
            raise InvalidInput(tr(request, "Enter a whole number."), field="assignee_id")
        note = str(form.get("assign_note") or "").strip() or None
        service.assign(
            session,
            complaint_id,
            AssignIn(assignee_id=int(raw) if raw else None, note=note),
            actor=user,
        )

    return _act(
        request,
        form,
        session,
        user,
        complaint_id,
        run,
        {"note": "assign_note"},
        N_("The assignment was saved."),
    )


@router.post("/complaints/{complaint_id:int}/notes")
def complaint_note(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """An internal note or a message to the customer."""

    def run(form: Any) -> None:
        kind = "message" if form.get("note_kind") == "message" else "note"
        service.get_complaint(session, complaint_id, actor=user)
        service.add_note(
            session,
            complaint_id,
            NoteIn(body=str(form.get("body") or "").strip(), kind=kind),
            actor=user,
            # The key drawn with the form: a double click records (and e-mails) it once.
            idempotency_key=str(form.get("note_key") or "").strip()[:120] or None,
        )

    return _act(
        request,
        form,
        session,
        user,
        complaint_id,
        run,
        {"kind": "note_kind"},
        N_("The entry was added."),
    )


def _money(request: Request, value: str, field: str) -> Decimal:
    """A money amount from a form field (blank is zero), read like every other money field:
    "1,000" is a thousand (the comma groups digits; it was read as a decimal point: 1.00),
    more than two decimals and negative amounts are refused, naming the field."""
    text = (value or "").strip() or "0"
    try:
        Decimal(number_text(text))
    except ValueError as exc:  # a comma that does not group thousands ("10,5"), saying why
        raise InvalidInput(error_text(request, exc.args[0]), field=field) from None
    except InvalidOperation:
        raise InvalidInput(tr(request, "Enter a number."), field=field) from None
    try:
        amount = to_money(text)
    except ValueError as exc:
        raise InvalidInput(tr(request, str(exc)), field=field) from None
    if amount < 0:
        raise InvalidInput(tr(request, "must not be negative"), field=field)
    return amount


@router.post("/complaints/{complaint_id:int}/remedies")
def complaint_remedy(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """Record service recovery: apology, explanation, compensation (amount and cost), thanks."""

    def run(form: Any) -> None:
        kind = str(form.get("remedy_kind") or "")
        points = str(form.get("points") or "").strip() or "0"
        compensation_type = str(form.get("compensation_type") or "") or None
        if kind == "compensation" and compensation_type is None:
            raise InvalidInput(tr(request, "This field is required."), field="compensation_type")
        data = RemedyCreate(
            kind=kind,  # type: ignore[arg-type]
            compensation_type=compensation_type,  # type: ignore[arg-type]
            amount=_money(request, str(form.get("amount") or ""), "amount"),
            cost=_money(request, str(form.get("cost") or ""), "cost"),
            points=points,  # type: ignore[arg-type]
            note=str(form.get("remedy_note") or "").strip() or None,
        )
        # The key drawn with the form: a double click or a resubmitted page records it once.
        key = str(form.get("remedy_key") or "").strip()[:120] or None
        remedies.add_remedy(session, complaint_id, data, actor=user, idempotency_key=key)

    return _act(
        request,
        form,
        session,
        user,
        complaint_id,
        run,
        {"kind": "remedy_kind", "note": "remedy_note", "": "remedy_kind"},
        N_("The service recovery was recorded."),
    )


@router.post("/complaints/{complaint_id:int}/follow-up")
def complaint_follow_up(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """The follow-up outcome: was the customer won back?"""

    def run(form: Any) -> None:
        answer = str(form.get("won_back") or "")
        if answer not in ("yes", "no"):
            raise InvalidInput(tr(request, "Choose one of the listed values."), field="won_back")
        note = str(form.get("followup_note") or "").strip() or None
        followup.record_follow_up(
            session, complaint_id, FollowUpIn(won_back=answer == "yes", note=note), actor=user
        )

    return _act(
        request,
        form,
        session,
        user,
        complaint_id,
        run,
        {"note": "followup_note", "status": "won_back"},
        N_("The follow-up was recorded."),
    )


@router.post("/complaints/{complaint_id:int}/attachments")
def complaint_attach(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """Attach a file (photo, PDF, text)."""
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput(tr(request, "Choose a file."), field="file")
        attachments.add_attachment(
            session,
            complaint_id,
            upload.filename,
            upload.content_type or "",
            upload.file.read(attachments.MAX_ATTACHMENT_BYTES + 1),  # past it: refused
            actor=user,
            data_dir=request.app.state.settings.data_dir,
        )
    except RetentoError as exc:
        session.rollback()
        reraise_access(exc)
        c = service.get_complaint(session, complaint_id, actor=user)
        return _render_detail(request, session, user, c, form_errors(request, exc), {}, 422)
    flash(request, tr(request, "The file was attached."))
    return redirect(request, f"/complaints/{complaint_id}")


@router.get("/complaints/attachments/{attachment_id:int}")
def complaint_attachment(
    request: Request, session: DbSession, user: PageUser, attachment_id: DbId
) -> Response:
    """Download an attachment."""
    att = attachments.get_attachment(session, attachment_id, actor=user)
    if not Path(att.path).is_file():
        raise NotFound("Attachment file", attachment_id)
    return FileResponse(att.path, media_type=att.content_type, filename=att.filename)
