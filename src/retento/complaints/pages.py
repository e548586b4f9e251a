"""Web pages for complaints: agent queue, intake form, complaint page, SLA admin, dashboard,
the public complaint form with its status page, and the customer 360 panel."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.auth.service import list_assignable_users
from retento.complaints import analytics, public, service, transfer, workflow
from retento.complaints.models import (
    CHANNELS,
    COMPENSATION_TYPES,
    EMOTIONS,
    KINDS,
    PDCA_STAGES,
    PURPOSES,
    REMEDY_KINDS,
    SEVERITIES,
    BusinessCalendarRow,
    Complaint,
    ComplaintCategory,
    SlaPolicy,
)
from retento.complaints.policies import VALUE_CLASSES
from retento.complaints.schemas import (
    AssignIn,
    CalendarIn,
    CategoryCreate,
    CategoryUpdate,
    ComplaintCreate,
    ComplaintRead,
    ComplaintUpdate,
    FollowUpIn,
    ImprovementCreate,
    ImprovementUpdate,
    NoteIn,
    PublicComplaintIn,
    PublicReplyIn,
    RemedyCreate,
    SlaPolicyIn,
    SlaPolicyUpdate,
    SurveyAnswerIn,
    TransitionIn,
)
from retento.core.db import utcnow
from retento.core.deps import DbSession
from retento.core.errors import Conflict, FieldError, InvalidInput, NotFound, RetentoError
from retento.core.validation import DbId, is_id, offset_from_text
from retento.customers.models import Customer
from retento.web.conflict import STALE, conflict_page, form_version
from retento.web.forms import PageForm
from retento.web.i18n import LOCALES, N_, Formatter, gettext, normalise_locale
from retento.web.labels import label_msgid, register_labels
from retento.web.nav import NavItem, register_nav
from retento.web.panels import Panel, register_panel
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    is_htmx,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()

register_nav(NavItem("complaints", N_("Complaints"), "/complaints", "complaint:read", 30))
register_nav(
    NavItem(
        "complaints.dashboard",
        N_("Complaint dashboard"),
        "/complaints/dashboard",
        "complaint:read",
        31,
    )
)
register_nav(NavItem("admin.sla", N_("SLA admin"), "/complaints/sla", "sla:manage", 30, "admin"))
register_nav(
    NavItem(
        "admin.complaint_categories",
        N_("Complaint categories"),
        "/complaints/categories",
        "sla:manage",
        31,
        "admin",
    )
)

register_labels(
    "complaint_status",
    {
        "accepted": N_("Accepted"),
        "in_progress": N_("In progress"),
        "awaiting_customer": N_("Awaiting customer"),
        "resolved": N_("Resolved (feedback given)"),
        "follow_up": N_("Follow-up"),
        "closed": N_("Closed"),
    },
)
register_labels("complaint_kind", {"complaint": N_("Complaint"), "grumble": N_("Grumble")})
register_labels(
    "entity",
    {
        "complaint": N_("Complaint"),
        "complaint_event": N_("Complaint event"),
        "complaint_remedy": N_("Remedy"),
        "complaint_attachment": N_("Attachment"),
        "complaint_category": N_("Complaint category"),
        "complaint_improvement": N_("Improvement (PDCA)"),
        "business_calendar": N_("Business calendar"),
        "sla_policy": N_("SLA policy"),
    },
)
register_labels(
    "complaint_channel",
    {
        "phone": N_("Phone"),
        "email": N_("Email"),
        "web_form": N_("Web form"),
        "store": N_("Store"),
        "chat": N_("Chat"),
        "social": N_("Social media"),
        "api": N_("API"),
    },
)
register_labels(
    "severity",
    {
        "1": N_("1 · Inconvenience"),
        "2": N_("2 · Moderate"),
        "3": N_("3 · Major"),
        "4": N_("4 · Serious loss"),
    },
)
register_labels(
    "emotion", {"calm": N_("Calm"), "cold": N_("Cold anger"), "intense": N_("Intense anger")}
)
register_labels(
    "purpose",
    {
        "heard": N_("To be heard"),
        "respected": N_("To be respected"),
        "resolved": N_("To get it resolved"),
        "compensated": N_("To be compensated"),
    },
)
register_labels(
    "remedy_kind",
    {
        "apology": N_("Apology"),
        "explanation": N_("Explanation"),
        "compensation": N_("Compensation"),
        "thanks": N_("Thanks"),
    },
)
register_labels(
    "compensation_type",
    {
        "voucher": N_("Voucher"),
        "refund": N_("Refund"),
        "gift": N_("Gift"),
        "loyalty_points": N_("Loyalty points"),
    },
)
register_labels(
    "complaint_action",
    {
        "start": N_("Start handling"),
        "await_customer": N_("Wait for the customer"),
        "customer_replied": N_("Customer replied"),
        "resolve": N_("Resolve and give feedback"),
        "follow_up": N_("Start follow-up"),
        "close": N_("Close"),
        "reopen": N_("Reopen"),
    },
)
register_labels(
    "complaint_event",
    {
        "created": N_("Received"),
        "received": N_("Received"),
        "edited": N_("Intake edited"),
        "status": N_("Status changed"),
        "transition": N_("Status changed"),
        "note": N_("Internal note"),
        "message": N_("Message to the customer"),
        "customer_reply": N_("Customer reply"),
        "assignment": N_("Assignment"),
        "remedy": N_("Service recovery"),
        "severity": N_("Severity changed"),
        "escalation": N_("Escalation"),
        "feedback": N_("Feedback"),
        "attachment": N_("Attachment"),
    },
)
register_labels(
    "sla_state",
    {
        "ok": N_("On time"),
        "running": N_("On time"),
        "near_breach": N_("Near breach"),
        "breached": N_("Breached"),
        "paused": N_("Paused"),
        "met": N_("Met"),
        "done": N_("Done"),
        "none": N_("No SLA"),
    },
)
register_labels(
    "pdca",
    {
        "plan": N_("Plan"),
        "do": N_("Do"),
        "check": N_("Check"),
        "act": N_("Act"),
        "done": N_("Done"),
    },
)
register_labels(
    "value_class",
    {
        "vip": N_("VIP"),
        "major": N_("Major"),
        "ordinary": N_("Ordinary"),
        "small": N_("Small"),
        "below_zero": N_("Below zero"),
    },
)
register_labels(
    "speed",
    {
        "within_1_day": N_("Within 1 day"),
        "1_to_7_days": N_("1 to 7 days"),
        "over_7_days": N_("Over 7 days"),
        "unresolved": N_("Not resolved"),
    },
)
register_labels(
    "literature",
    {
        "major_problem": N_("After a major problem (literature: 4 %)"),
        "minor_problem": N_("After a minor problem (literature: 53 %)"),
        "solved_fast": N_("Solved fast (literature: 52–95 %)"),
    },
)

PAGE_SIZE = 50
TABS = (
    ("mine", N_("Mine")),
    ("team", N_("My team")),
    ("soon", N_("Breaching soon")),
    ("open", N_("All open")),
)
SORT_OPTIONS = (
    ("due", N_("Due soonest")),
    ("-due", N_("Due latest")),
    ("-received_at", N_("Newest first")),
    ("received_at", N_("Oldest first")),
    ("-severity", N_("Most severe first")),
)
SORTS = {code for code, _ in SORT_OPTIONS}
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
SOON_HOURS = 4


# --- shared helpers ----------------------------------------------------------------------------


def _opts(request: Request, group: str, codes: Any) -> list[tuple[str, str]]:
    """``(code, translated label)`` pairs for a select or checkbox list."""
    return [(str(c), tr(request, label_msgid(group, str(c)))) for c in codes]


def _cat_name(request: Request, c: ComplaintCategory) -> str:
    """A category's name in the page's language."""
    return c.name_zh if _is_zh(request) and c.name_zh else c.name


def _tree_label(request: Request, path: list[ComplaintCategory]) -> str:
    """``Parent › Child`` in the page's language."""
    return " › ".join(_cat_name(request, c) for c in path)


def _categories(
    request: Request, session: Session, user: User, keep: int | None = None
) -> list[tuple[str, str]]:
    """Categories offered on intake as ``(id, Parent › Child)``, in tree order.

    ``keep``: a complaint's current category, listed even when deactivated since (an edit must
    not silently move the complaint elsewhere).
    """
    require(user, "complaint:read")
    tree = service.category_tree(session)
    offered = {c.id for c, _, _ in service.category_tree(session, active_only=True)}
    return [
        (str(c.id), _tree_label(request, path))
        for c, _, path in tree
        if c.id in offered or c.id == keep
    ]


def _public_categories(request: Request, session: Session) -> list[tuple[str, str]]:
    """Offered categories by code, for the public form (no login)."""
    return [
        (c.code, _tree_label(request, path))
        for c, _, path in service.category_tree(session, active_only=True)
    ]


def _is_zh(request: Request) -> bool:
    """True when the page is shown in Chinese."""
    from retento.web.render import request_locale

    return request_locale(request) == "zh_CN"


def _users(session: Session) -> list[tuple[str, str]]:
    """People complaints can be assigned to."""
    return [(str(u.id), u.display_name or u.username) for u in list_assignable_users(session)]


def sla_flag(c: Complaint, now: datetime | None = None) -> str:
    """The queue colour of a complaint: ``ok``, ``near_breach``, ``breached``, ``paused`` …"""
    now = now or utcnow()
    if not workflow.is_open(c.status):
        return "breached" if c.resolution_breached else "done"
    if c.first_response_due_at is None and c.resolution_due_at is None:
        return "none"
    worst = "ok"
    clocks = [(c.resolution_warn_at, c.resolution_due_at)]
    if c.first_responded_at is None:
        clocks.append((c.first_response_warn_at, c.first_response_due_at))
    for warn, due in clocks:
        if due is not None and now >= due:
            return "breached"
        if warn is not None and now >= warn:
            worst = "near_breach"
    if c.paused_since is not None and worst == "ok":
        return "paused"
    return worst


def _when(request: Request, value: datetime) -> str:
    """A timestamp in the page's language and the installation's time zone."""
    from retento.web.render import request_locale

    settings = request.app.state.settings
    return Formatter(request_locale(request), settings.timezone, settings.currency).datetime(
        value, "short"
    )


def _int(value: str) -> int | None:
    """A whole number from a form value, ``None`` if blank or not a number."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _map_errors(errors: dict[str, str], mapping: dict[str, str]) -> dict[str, str]:
    """Rename schema field names to the form's input names."""
    return {mapping.get(k, k): v for k, v in errors.items()}


def _reraise_access(exc: Exception) -> None:
    """Permission and not-found errors become error pages, not form messages."""
    if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
        raise exc


# --- queue -------------------------------------------------------------------------------------


def _queue_filters(
    request: Request, user: User
) -> tuple[dict[str, Any], dict[str, str], list[FieldError]]:
    """Service filters, echoed values and problems, from the query string."""
    qp = request.query_params
    raw = {
        k: qp.get(k, "").strip()
        for k in ("tab", "status", "severity", "category", "channel", "kind", "q", "sort")
    }
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    if raw["tab"] not in {t for t, _ in TABS}:
        raw["tab"] = "mine" if user.role == "agent" else "open"
    if raw["tab"] == "mine":
        filters["mine_for"] = user
    elif raw["tab"] == "team":
        filters["team_for"] = user
    elif raw["tab"] == "soon":
        from datetime import timedelta

        filters["breaching_soon"] = utcnow() + timedelta(hours=SOON_HOURS)
    if not raw["status"] and raw["tab"] != "soon":
        filters["open_only"] = True
    if raw["status"]:
        if raw["status"] in workflow.STATES:
            filters["status"] = raw["status"]
        else:
            problems.append(FieldError("status", "unknown status"))
    if raw["severity"]:
        if raw["severity"] in {str(s) for s in SEVERITIES}:
            filters["severity"] = int(raw["severity"])
        else:
            problems.append(FieldError("severity", "severity is 1 to 4"))
    if raw["category"]:
        if is_id(raw["category"]):
            filters["category_id"] = int(raw["category"])
        else:
            problems.append(FieldError("category", "category must be a category id"))
    if raw["channel"] in CHANNELS:
        filters["channel"] = raw["channel"]
    if raw["kind"] in KINDS:
        filters["kind"] = raw["kind"]
    if raw["q"]:
        filters["q"] = raw["q"][:64]
    if raw["sort"] not in SORTS:
        raw["sort"] = "due"
    return filters, raw, problems


def _offset(request: Request) -> int:
    value = request.query_params.get("offset", "0")
    return offset_from_text(value)


@router.get("/complaints")
def complaint_queue(request: Request, session: DbSession, user: PageUser) -> Response:
    """The agent queue: tabs, filters, sorting by due time, SLA colours, paging."""
    filters, raw, problems = _queue_filters(request, user)
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    offset = _offset(request)
    rows, _ = service.list_complaints(
        session,
        actor=user,
        sort=raw["sort"],
        limit=PAGE_SIZE + 1,
        offset=offset,
        count=False,
        with_people=True,
        **filters,
    )
    now = utcnow()
    query = ("?" + request.url.query) if request.url.query else ""
    ctx = {
        "rows": [(c, sla_flag(c, now)) for c in rows[:PAGE_SIZE]],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "export_url": "/complaints/export.csv" + query,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "complaints/_queue.html", **ctx)
    return render(
        request,
        "complaints/queue.html",
        tabs=[(code, tr(request, msgid)) for code, msgid in TABS],
        statuses=_opts(request, "complaint_status", workflow.STATES),
        severities=_opts(request, "severity", SEVERITIES),
        categories=_categories(request, session, user),
        channels=_opts(request, "complaint_channel", CHANNELS),
        kinds=_opts(request, "complaint_kind", KINDS),
        sorts=[(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
        **ctx,
    )


@router.get("/complaints/export.csv")
def complaint_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """The queue's complaints as CSV (the import/export format), streamed."""
    require(user, "data:export")
    filters, _, problems = _queue_filters(request, user)
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    user_id = user.id
    factory = request.app.state.session_factory

    def body() -> Iterator[str]:
        # The stream outlives the request's session, so it reads through its own.
        s = factory()
        try:
            actor = s.get(User, user_id)
            given = dict(filters)
            for key in ("mine_for", "team_for"):
                if key in given:
                    given[key] = actor
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(transfer.EXPORT_COLUMNS))
            buf.write("\ufeff")
            writer.writeheader()
            for n, row in enumerate(transfer.export_rows(s, actor=actor, **given), start=1):
                writer.writerow(row)
                if n % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()
        finally:
            s.close()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="complaints.csv"'},
    )


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
    cid = _int(str(values.get("customer_id") or ""))
    if cid is not None:
        customer = session.get(Customer, cid)
    return render(
        request,
        "complaints/new.html",
        status_code=status_code,
        form=values,
        errors=errors or {},
        customer=customer,
        kinds=_opts(request, "complaint_kind", KINDS),
        channels=_opts(request, "complaint_channel", CHANNELS),
        categories=_categories(request, session, user),
        severities=_opts(request, "severity", SEVERITIES),
        emotions=_opts(request, "emotion", EMOTIONS),
        purposes=_opts(request, "purpose", PURPOSES),
        max_mb=service.MAX_ATTACHMENT_BYTES // (1024 * 1024),
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
    upload = form.get("file")
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items()}
    data["subject"] = shown["subject"]
    data["description"] = shown["description"]
    data["purposes"] = shown["purposes"]
    data["kind"] = shown["kind"] or "complaint"
    data["channel"] = shown["channel"] or "phone"
    data["severity"] = shown["severity"] or "1"
    data["emotion"] = shown["emotion"] or "calm"
    problems: list[FieldError] = []
    for key in ("customer_id", "order_id", "product_id", "category_id"):
        if shown[key] and not is_id(shown[key]):
            problems.append(FieldError(key, tr(request, "Enter a whole number.")))
    if not shown["customer_id"]:
        problems.append(FieldError("customer_id", tr(request, "This field is required.")))
    if not shown["category_id"]:
        problems.append(FieldError("category_id", tr(request, "This field is required.")))
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        c = service.create_complaint(session, ComplaintCreate(**data), actor=user)
        if isinstance(upload, UploadFile) and upload.filename:
            service.add_attachment(
                session,
                c.id,
                upload.filename,
                upload.content_type or "",
                upload.file.read(service.MAX_ATTACHMENT_BYTES + 1),  # past it: refused
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


def _render_edit(
    request: Request,
    session: Session,
    user: User,
    c: Complaint,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "complaints/edit.html",
        status_code=status_code,
        c=c,
        form=values,
        errors=errors or {},
        sla=service.sla_status(session, c),
        kinds=_opts(request, "complaint_kind", KINDS),
        channels=_opts(request, "complaint_channel", CHANNELS),
        categories=_categories(request, session, user, keep=c.category_id),
        severities=_opts(request, "severity", SEVERITIES),
        emotions=_opts(request, "emotion", EMOTIONS),
        purposes=_opts(request, "purpose", PURPOSES),
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
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in EDIT_FIELDS}
    shown["purposes"] = [p for p in form.getlist("purposes") if isinstance(p, str)]
    shown["version"] = str(form.get("version") or "")  # kept: a re-shown form still detects
    expected = form_version(form)
    old_severity = c.severity
    problems: list[FieldError] = []
    data: dict[str, Any] = {k: shown[k] for k in ("subject", "description", "purposes")}
    for key in ("kind", "channel", "emotion", "severity", "category_id"):
        if not shown[key]:
            problems.append(FieldError(key, tr(request, "This field is required.")))
        else:
            data[key] = shown[key]
    for key in ("order_id", "product_id"):
        if shown[key] and not is_id(shown[key]):
            problems.append(FieldError(key, tr(request, "Enter a whole number.")))
        data[key] = shown[key] or None
    data["root_cause"] = shown["root_cause"] or None
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
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        c = service.get_complaint(session, complaint_id, actor=user)
        return _render_edit(request, session, user, c, shown, form_errors(request, exc), 422)
    if c.severity != old_severity:
        msgid = "Saved. The severity changed, so the SLA due times were recomputed."
        flash(request, tr(request, msgid))
    else:
        flash(request, tr(request, "Saved."))
    return redirect(request, f"/complaints/{complaint_id}")


# --- complaint page ----------------------------------------------------------------------------


def _event_view(request: Request, session: Session, ev: Any, users: dict[int, str]) -> dict:
    """One timeline entry with a readable summary of its data."""
    data = ev.data or {}
    summary = ""
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
            summary += " · " + data["amount"]
    elif ev.kind == "severity":
        summary = f"{data.get('from')} → {data.get('to')}"
        if data.get("resolution_due_at"):
            due = datetime.fromisoformat(data["resolution_due_at"])
            summary += " · " + tr(request, "resolution due %(at)s", at=_when(request, due))
    elif ev.kind == "edited":
        names = [tr(request, EDIT_LABELS.get(f, f)) for f in data.get("fields", [])]
        summary = tr(request, "Changed: %(fields)s", fields=", ".join(names))
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
        "body": ev.body,
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
    remedy_cost = service.remedy_cost_of(c)
    return render(
        request,
        "complaints/detail.html",
        status_code=status_code,
        c=c,
        errors=errors or {},
        form=form or {},
        sla=service.sla_status(session, c),
        flag=sla_flag(c),
        actions=workflow.allowed_actions(c.status),
        may_work=service.can_work(user, c),
        may_assign=can(user, "complaint:assign"),
        events=[_event_view(request, session, e, users) for e in c.events],
        users=users,
        assignees=_users(session),
        remedy_kinds=_opts(request, "remedy_kind", REMEDY_KINDS),
        compensation_types=_opts(request, "compensation_type", COMPENSATION_TYPES),
        remedy_cost=remedy_cost,
        category_name=(
            c.category.name_zh if _is_zh(request) and c.category.name_zh else c.category.name
        ),
        emails=_emails_view(request, session, c),
    )


def _request_locale(request: Request) -> str:
    from retento.web.render import request_locale

    return request_locale(request)


def _emails_view(request: Request, session: Session, c: Complaint) -> dict[str, Any]:
    """The e-mails about the complaint (status from the outbox) and its follow-up link."""
    from retento.complaints import emails
    from retento.mail.compose import customer_locale
    from retento.mail.service import absolute

    customer = c.customer if c.customer_id else None
    path = emails.followup_path(c, customer_locale(customer) if customer else None)
    return {
        "address": emails.complainant_address(c, customer),
        "rows": emails.sent_emails(session, c),
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
        _reraise_access(exc)
        errors = _map_errors(form_errors(request, exc), mapping)
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


def _money(value: str, field: str) -> Decimal:
    """A money amount from a form field (blank is zero)."""
    text = (value or "").strip().replace(",", ".") or "0"
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidInput("Enter a number.", field=field) from None


@router.post("/complaints/{complaint_id:int}/remedies")
def complaint_remedy(
    request: Request, form: PageForm, session: DbSession, user: PageUser, complaint_id: DbId
) -> Response:
    """Record service recovery: apology, explanation, compensation (amount and cost), thanks."""

    def run(form: Any) -> None:
        kind = str(form.get("remedy_kind") or "")
        points = str(form.get("points") or "").strip() or "0"
        data = RemedyCreate(
            kind=kind,  # type: ignore[arg-type]
            compensation_type=(str(form.get("compensation_type") or "") or None),  # type: ignore[arg-type]
            amount=_money(str(form.get("amount") or ""), "amount"),
            cost=_money(str(form.get("cost") or ""), "cost"),
            points=points,  # type: ignore[arg-type]
            note=str(form.get("remedy_note") or "").strip() or None,
        )
        service.add_remedy(session, complaint_id, data, actor=user)

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
        service.record_follow_up(
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
        service.add_attachment(
            session,
            complaint_id,
            upload.filename,
            upload.content_type or "",
            upload.file.read(service.MAX_ATTACHMENT_BYTES + 1),  # past it: refused
            actor=user,
            data_dir=request.app.state.settings.data_dir,
        )
    except RetentoError as exc:
        session.rollback()
        _reraise_access(exc)
        c = service.get_complaint(session, complaint_id, actor=user)
        return _render_detail(request, session, user, c, form_errors(request, exc), {}, 422)
    flash(request, tr(request, "The file was attached."))
    return redirect(request, f"/complaints/{complaint_id}")


@router.get("/complaints/attachments/{attachment_id:int}")
def complaint_attachment(
    request: Request, session: DbSession, user: PageUser, attachment_id: DbId
) -> Response:
    """Download an attachment."""
    att = service.get_attachment(session, attachment_id, actor=user)
    if not Path(att.path).is_file():
        raise NotFound("Attachment file", attachment_id)
    return FileResponse(att.path, media_type=att.content_type, filename=att.filename)


# --- public form and status page ---------------------------------------------------------------

PUBLIC_FIELDS = ("name", "email", "phone", "category", "subject", "description", "order_reference")


def _render_public(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "complaints/public_form.html",
        status_code=status_code,
        form=values,
        errors=errors or {},
        categories=_public_categories(request, session),
        purposes=_opts(request, "purpose", PURPOSES),
    )


def _rate_error(request: Request, exc: public.TooManyRequests) -> dict[str, str]:
    """The translated rate-limit message as a form-wide error."""
    msgid = "Too many submissions from this address; try again in %(seconds)s seconds."
    return {"": tr(request, msgid, seconds=exc.retry_after)}


@router.get("/complain")
def public_form(request: Request, session: DbSession) -> Response:
    """The public complaint form (no login)."""
    return _render_public(request, session, {"category": "other", "purposes": []})


@router.post("/complain")
def public_submit(request: Request, form: PageForm, session: DbSession) -> Response:
    """Accept a public complaint (rate limited, honeypot) and show its tracking code."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in PUBLIC_FIELDS}
    shown["purposes"] = [p for p in form.getlist("purposes") if isinstance(p, str)]
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items()}
    data["category"] = shown["category"] or "other"
    data["purposes"] = shown["purposes"]
    data["website"] = str(form.get("website") or "") or None
    try:
        public.check_rate(request)
    except public.TooManyRequests as exc:
        page = _render_public(request, session, shown, _rate_error(request, exc), 429)
        page.headers.update(exc.headers)
        return page
    try:
        c = service.submit_public(
            session, PublicComplaintIn(**data), locale=_request_locale(request)
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        errors = form_errors(request, exc)
        if "website" in errors:
            errors = {"": tr(request, "The form could not be accepted.")}
        return _render_public(request, session, shown, errors, 422)
    request.session["complaint_receipt"] = c.tracking_code
    return redirect(request, f"/complain/status/{c.tracking_code}")


@router.get("/complain/status")
def public_lookup(request: Request) -> Response:
    """Look up a complaint by its tracking code."""
    code = request.query_params.get("code", "").strip().upper()
    if code:
        return redirect(request, f"/complain/status/{code}")
    return render(request, "complaints/public_lookup.html")


def _render_status(
    request: Request,
    session: Session,
    code: str,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    st = service.public_status(session, code)
    receipt = request.session.pop("complaint_receipt", None) == st["tracking_code"]
    return render(
        request,
        "complaints/public_status.html",
        status_code=status_code,
        st=st,
        receipt=receipt,
        errors=errors or {},
        form=form or {},
        open=st["status"] != "closed",
    )


@router.get("/complain/status/{code}")
def public_status_page(request: Request, session: DbSession, code: str) -> Response:
    """Status and customer-visible timeline of a complaint, by tracking code."""
    return _render_status(request, session, code)


@router.post("/complain/status/{code}/reply")
def public_reply_page(request: Request, form: PageForm, session: DbSession, code: str) -> Response:
    """The customer answers from the status page."""
    body = str(form.get("body") or "").strip()
    try:
        public.check_rate(request)
    except public.TooManyRequests as exc:
        page = _render_status(
            request, session, code, _rate_error(request, exc), {"body": body}, 429
        )
        page.headers.update(exc.headers)
        return page
    try:
        data = PublicReplyIn(body=body, website=str(form.get("website") or "") or None)
        if data.website:
            raise InvalidInput(tr(request, "The form could not be accepted."))
        service.public_reply(session, code, data.body)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status == 404:
            raise
        return _render_status(
            request, session, code, form_errors(request, exc), {"body": body}, 422
        )
    flash(request, tr(request, "Thank you, your message was sent."))
    return redirect(request, f"/complain/status/{code.strip().upper()}")


# --- public follow-up question (the link in the resolution e-mail) ------------------------------


def _followup_locale(request: Request, c: Complaint | None) -> str:
    """``?lang=`` (the e-mailed link), else the visitor's own choice in the header's language
    switch, else the customer's language, else the browser's."""
    from retento.mail.compose import customer_locale
    from retento.web.render import request_locale

    lang = request.query_params.get("lang")
    if lang in LOCALES:
        return normalise_locale(lang)
    if "session" in request.scope and request.session.get("locale"):
        return normalise_locale(request.session["locale"])
    customer = c.customer if c is not None and c.customer_id else None
    if customer is not None:
        return customer_locale(customer, request_locale(request))
    return request_locale(request)


def _followup_page(
    request: Request, template: str, locale: str, status_code: int = 200, **extra: Any
) -> Response:
    """Render a follow-up page in ``locale`` whatever the visitor's session says."""
    return render(request, template, status_code=status_code, locale=locale, **extra)


def _followup_gone(request: Request, locale: str, used: bool) -> Response:
    """404 for a link we do not know (mistyped, or replaced on a later resolution), 410 if used."""
    return _followup_page(
        request,
        "complaints/public_followup_gone.html",
        locale,
        410 if used else 404,
        kind="used" if used else "unknown",
    )


def _followup_complaint(session: Session, token: str) -> Complaint | None:
    try:
        return service.followup_question(session, token)
    except NotFound:
        return None


FOLLOWUP_CSAT = (
    (1, N_("Very dissatisfied")),
    (2, N_("Dissatisfied")),
    (3, N_("Neutral")),
    (4, N_("Satisfied")),
    (5, N_("Very satisfied")),
)


def _render_followup(
    request: Request,
    c: Complaint,
    token: str,
    locale: str,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    lang_q = f"?lang={locale}" if request.query_params.get("lang") else ""
    return _followup_page(
        request,
        "complaints/public_followup.html",
        locale,
        status_code,
        c=c,
        token=token,
        lang_q=lang_q,
        csat_options=[(n, gettext(locale, msgid)) for n, msgid in FOLLOWUP_CSAT],
        form=form or {},
        errors=errors or {},
    )


@router.get("/complain/followup/{token}")
def public_followup(request: Request, session: DbSession, token: str) -> Response:
    """The satisfaction question behind the follow-up link in the resolution e-mail."""
    c = _followup_complaint(session, token)
    locale = _followup_locale(request, c)
    if c is None or c.survey_answered_at is not None:
        return _followup_gone(request, locale, used=c is not None)
    return _render_followup(request, c, token, locale)


@router.post("/complain/followup/{token}")
def public_followup_answer(
    request: Request, form: PageForm, session: DbSession, token: str
) -> Response:
    """Record the answer through the same service as the API (a low score reopens)."""
    shown = {k: str(form.get(k) or "").strip() for k in ("csat", "would_buy_again", "comment")}
    # Counted first, in its own committed transaction, like the other public forms: the hit
    # counts even for a wrong link, and SQLite is not asked to write while this request reads.
    limited: public.TooManyRequests | None = None
    try:
        public.check_rate(request)
    except public.TooManyRequests as exc:
        limited = exc
    c = _followup_complaint(session, token)
    locale = _followup_locale(request, c)
    if c is None or c.survey_answered_at is not None:
        return _followup_gone(request, locale, used=c is not None)
    if limited is not None:
        msgid = N_("Too many submissions from this address; try again in %(seconds)s seconds.")
        rate = {"": gettext(locale, msgid) % {"seconds": limited.retry_after}}
        page = _render_followup(request, c, token, locale, shown, rate, 429)
        page.headers.update(limited.headers)
        return page
    errors: dict[str, str] = {}
    csat = _int(shown["csat"])
    if csat is None or not 1 <= csat <= 5:
        errors["csat"] = gettext(locale, N_("Choose how satisfied you are, from 1 to 5."))
    if shown["would_buy_again"] not in ("yes", "no"):
        errors["would_buy_again"] = gettext(locale, N_("Choose yes or no."))
    if len(shown["comment"]) > 2000:
        errors["comment"] = gettext(locale, N_("At most 2000 characters."))
    if errors:
        return _render_followup(request, c, token, locale, shown, errors, 422)
    try:
        service.answer_survey(
            session,
            token,
            SurveyAnswerIn(
                csat=csat,
                would_buy_again=shown["would_buy_again"] == "yes",
                comment=shown["comment"] or None,
            ),
        )
    except service.FollowUpAnswered:
        # Another answer through this link won (a double click, a second tab): one per link.
        session.rollback()
        return _followup_gone(request, locale, used=True)
    lang_q = f"?lang={locale}" if request.query_params.get("lang") else ""
    return redirect(request, f"/complain/followup/{token}/thanks{lang_q}")


@router.get("/complain/followup/{token}/thanks")
def public_followup_thanks(request: Request, session: DbSession, token: str) -> Response:
    """Thank you, and whether the complaint was opened again."""
    c = _followup_complaint(session, token)
    locale = _followup_locale(request, c)
    if c is None:
        return _followup_gone(request, locale, used=False)
    if c.survey_answered_at is None:
        return redirect(request, f"/complain/followup/{token}")
    return _followup_page(
        request,
        "complaints/public_followup_thanks.html",
        locale,
        c=c,
        reopened=workflow.is_open(c.status),
    )


# --- category tree admin -----------------------------------------------------------------------

CATEGORY_FIELDS = ("code", "name", "name_zh", "parent_id")


def _category_errors(request: Request, exc: ValidationError | RetentoError) -> dict[str, str]:
    """Form errors by field; the service's usual refusals in the page's language."""
    errors = form_errors(request, exc)
    if isinstance(exc, Conflict) and exc.field == "code":
        errors["code"] = tr(request, "A category with this code exists already.")
    elif isinstance(exc, InvalidInput) and exc.field == "parent_id":
        if "itself" in exc.message:
            errors["parent_id"] = tr(
                request, "A category cannot move under itself or one of its subcategories."
            )
        else:
            errors["parent_id"] = tr(request, "This parent category does not exist.")
    if isinstance(exc, ValidationError) and any(
        e["loc"] == ("code",) and e["type"] == "string_pattern_mismatch" for e in exc.errors()
    ):
        errors["code"] = tr(
            request, "Use lower-case letters, digits, hyphens, dots or underscores only."
        )
    return errors


def _parent_options(
    request: Request, session: Session, exclude: int | None = None
) -> list[tuple[str, str]]:
    """Possible parents in tree order; ``exclude`` leaves out a category and its subtree."""
    out = []
    for c, _, path in service.category_tree(session):
        if exclude is not None and any(p.id == exclude for p in path):
            continue
        out.append((str(c.id), _tree_label(request, path)))
    return out


def _render_categories(
    request: Request,
    session: Session,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    tree = service.category_tree(session)
    used = dict(
        session.execute(
            select(Complaint.category_id, func.count()).group_by(Complaint.category_id)
        ).all()
    )
    offered = {c.id for c, _, _ in service.category_tree(session, active_only=True)}
    rows = [
        {
            "c": c,
            "depth": depth,
            "name": _cat_name(request, c),
            "offered": c.id in offered,
            "complaints": used.get(c.id, 0),
        }
        for c, depth, _ in tree
    ]
    return render(
        request,
        "complaints/categories.html",
        status_code=status_code,
        rows=rows,
        parents=_parent_options(request, session),
        form=form or {},
        errors=errors or {},
    )


def _error_status(exc: Exception) -> int:
    return 409 if isinstance(exc, Conflict) else 422


@router.get("/complaints/categories")
def category_admin(request: Request, session: DbSession, user: PageUser) -> Response:
    """The complaint category tree (managers and admins)."""
    require(user, "sla:manage")
    return _render_categories(request, session)


@router.post("/complaints/categories")
def category_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Add a category (at the top or under a parent)."""
    require(user, "sla:manage")
    shown = {k: str(form.get(k) or "").strip() for k in CATEGORY_FIELDS}
    try:
        service.create_category(
            session,
            CategoryCreate(
                code=shown["code"].lower(),
                name=shown["name"],
                name_zh=shown["name_zh"] or None,
                parent_id=_int(shown["parent_id"]),
            ),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        errors = _category_errors(request, exc)
        return _render_categories(request, session, shown, errors, _error_status(exc))
    flash(request, tr(request, "The category was saved."))
    return redirect(request, "/complaints/categories")


def _render_category(
    request: Request,
    session: Session,
    cat: ComplaintCategory,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "complaints/category.html",
        status_code=status_code,
        cat=cat,
        parents=_parent_options(request, session, exclude=cat.id),
        form=form,
        errors=errors or {},
    )


@router.get("/complaints/categories/{category_id:int}")
def category_edit(
    request: Request, session: DbSession, user: PageUser, category_id: DbId
) -> Response:
    """Rename, move or (de)activate one category."""
    require(user, "sla:manage")
    cat = service.get_category(session, category_id)
    form = {
        "name": cat.name,
        "name_zh": cat.name_zh or "",
        "parent_id": "" if cat.parent_id is None else str(cat.parent_id),
        "is_active": cat.is_active,
    }
    return _render_category(request, session, cat, form)


@router.post("/complaints/categories/{category_id:int}")
def category_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, category_id: DbId
) -> Response:
    """Save a category; complaints filed under it keep it."""
    require(user, "sla:manage")
    cat = service.get_category(session, category_id)
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in CATEGORY_FIELDS[1:]}
    shown["is_active"] = form.get("is_active") == "1"
    try:
        service.update_category(
            session,
            category_id,
            CategoryUpdate(
                name=shown["name"],
                name_zh=shown["name_zh"] or None,
                parent_id=_int(shown["parent_id"]),
                is_active=shown["is_active"],
            ),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        cat = service.get_category(session, category_id)
        errors = _category_errors(request, exc)
        return _render_category(request, session, cat, shown, errors, _error_status(exc))
    flash(request, tr(request, "The category was saved."))
    return redirect(request, "/complaints/categories")


@router.post("/complaints/categories/{category_id:int}/active")
def category_toggle(
    request: Request, form: PageForm, session: DbSession, user: PageUser, category_id: DbId
) -> Response:
    """Deactivate (no longer offered on intake) or reactivate a category from the list."""
    require(user, "sla:manage")
    active = form.get("active") == "1"
    cat = service.update_category(
        session, category_id, CategoryUpdate(is_active=active), actor=user
    )
    msgid = N_("%(name)s is offered again.") if active else N_("%(name)s is no longer offered.")
    flash(request, tr(request, msgid, name=_cat_name(request, cat)))
    return redirect(request, "/complaints/categories")


# --- SLA admin ---------------------------------------------------------------------------------

POLICY_FIELDS = (
    "name", "severity", "value_class", "priority", "first_response_minutes",
    "resolution_minutes", "warn_fraction", "calendar_id", "auto_reassign_to_id",
)  # fmt: skip


def _policy_values(p: SlaPolicy | None) -> dict[str, Any]:
    """A policy as form values."""
    if p is None:
        return {"priority": "100", "warn_fraction": "0.8", "is_active": True}
    values = {k: "" if getattr(p, k) is None else str(getattr(p, k)) for k in POLICY_FIELDS}
    for k in ("first_response_minutes", "resolution_minutes"):
        values[k] = duration_input(getattr(p, k))
    values["is_active"] = p.is_active
    return values


def duration_input(minutes: int) -> str:
    """Minutes as the form shows them: ``45``, ``4h``, ``1h30m``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return str(rest)
    return f"{hours}h" + (f"{rest}m" if rest else "")


def _calendar_values(row: BusinessCalendarRow | None) -> dict[str, Any]:
    """A calendar as form values: one line of spans per weekday, holidays one per line."""
    if row is None:
        hours = {str(d): [["09:00", "18:00"]] for d in range(5)}
        return {"timezone": "UTC", **_hours_fields(hours), "holidays": ""}
    return {
        "name": row.name,
        "timezone": row.timezone,
        **_hours_fields(row.hours),
        "holidays": "\n".join(row.holidays or []),
    }


def _hours_fields(hours: dict[str, Any]) -> dict[str, str]:
    """``{"hours_0": "09:00-12:00, 13:00-18:00", …}``."""
    return {f"hours_{d}": ", ".join(f"{a}-{b}" for a, b in hours.get(str(d), [])) for d in range(7)}


def _parse_calendar(form: Any) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    """``(CalendarIn payload, values to re-show, problems)``."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in ("name", "timezone")}
    problems: list[FieldError] = []
    hours: dict[str, list[list[str]]] = {}
    for d in range(7):
        key = f"hours_{d}"
        text = str(form.get(key) or "").strip()
        shown[key] = text
        spans = []
        for part in text.replace("，", ",").split(","):
            if not part.strip():
                continue
            start, sep, end = part.strip().partition("-")
            if not sep:
                problems.append(FieldError(key, "Write spans as 09:00-17:00."))
                break
            spans.append([start.strip(), end.strip()])
        if spans:
            hours[str(d)] = spans
    holidays_text = str(form.get("holidays") or "")
    shown["holidays"] = holidays_text.strip()
    holidays: list[str] = []
    for line in holidays_text.replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            holidays.append(date.fromisoformat(line).isoformat())
        except ValueError:
            problems.append(FieldError("holidays", f"'{line}' is not a date (YYYY-MM-DD)."))
            break
    data = {
        "name": shown["name"],
        "timezone": shown["timezone"] or "UTC",
        "hours": hours,
        "holidays": holidays,
    }
    return data, shown, problems


def _parse_policy(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(SlaPolicyIn payload, values to re-show)``."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in POLICY_FIELDS}
    shown["is_active"] = form.get("is_active") == "1"
    data: dict[str, Any] = {k: (v if v != "" else None) for k, v in shown.items()}
    if data["priority"] is None:
        data["priority"] = 100
    if data["warn_fraction"] is None:
        data["warn_fraction"] = 0.8
    return data, shown


def _render_sla(
    request: Request,
    session: Session,
    user: User,
    template: str,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    calendars = service.list_calendars(session, actor=user)
    return render(
        request,
        template,
        status_code=status_code,
        policies=service.list_policies(session, actor=user),
        calendars=calendars,
        calendar_opts=[(str(r.id), r.name) for r in calendars],
        severities=_opts(request, "severity", SEVERITIES),
        value_classes=_opts(request, "value_class", VALUE_CLASSES),
        users=_users(session),
        weekdays=[tr(request, w) for w in WEEKDAYS],
        **extra,
    )


@router.get("/complaints/sla")
def sla_admin(request: Request, session: DbSession, user: PageUser) -> Response:
    """SLA policies and business calendars (managers and admins)."""
    require(user, "sla:manage")
    return _render_sla(
        request,
        session,
        user,
        "complaints/sla.html",
        policy_form=_policy_values(None),
        calendar_form=_calendar_values(None),
        policy_errors={},
        calendar_errors={},
    )


@router.post("/complaints/sla/policies")
def sla_policy_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Create an SLA policy."""
    require(user, "sla:manage")
    data, shown = _parse_policy(form)
    try:
        service.create_policy(session, SlaPolicyIn(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla.html",
            422,
            policy_form=shown,
            calendar_form=_calendar_values(None),
            policy_errors=form_errors(request, exc),
            calendar_errors={},
        )
    flash(request, tr(request, "The SLA policy was saved."))
    return redirect(request, "/complaints/sla")


@router.get("/complaints/sla/policies/{policy_id:int}")
def sla_policy_edit(
    request: Request, session: DbSession, user: PageUser, policy_id: DbId
) -> Response:
    """Edit one SLA policy."""
    require(user, "sla:manage")
    p = session.get(SlaPolicy, policy_id)
    if p is None:
        raise NotFound("SLA policy", policy_id)
    return _render_sla(
        request, session, user, "complaints/sla_policy.html", policy=p, form=_policy_values(p)
    )


@router.post("/complaints/sla/policies/{policy_id:int}")
def sla_policy_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, policy_id: DbId
) -> Response:
    """Save an SLA policy; open complaints under it get new due times."""
    require(user, "sla:manage")
    p = session.get(SlaPolicy, policy_id)
    if p is None:
        raise NotFound("SLA policy", policy_id)
    data, shown = _parse_policy(form)
    try:
        service.update_policy(session, policy_id, SlaPolicyUpdate(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        p = session.get(SlaPolicy, policy_id)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla_policy.html",
            422,
            policy=p,
            form=shown,
            errors=form_errors(request, exc),
        )
    flash(request, tr(request, "The SLA policy was saved."))
    return redirect(request, "/complaints/sla")


@router.post("/complaints/sla/calendars")
def sla_calendar_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Create a business calendar."""
    require(user, "sla:manage")
    data, shown, problems = _parse_calendar(form)
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        service.create_calendar(session, CalendarIn(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla.html",
            422,
            policy_form=_policy_values(None),
            calendar_form=shown,
            policy_errors={},
            calendar_errors=form_errors(request, exc),
        )
    flash(request, tr(request, "The business calendar was saved."))
    return redirect(request, "/complaints/sla")


@router.get("/complaints/sla/calendars/{calendar_id:int}")
def sla_calendar_edit(
    request: Request, session: DbSession, user: PageUser, calendar_id: DbId
) -> Response:
    """Edit one business calendar."""
    require(user, "sla:manage")
    row = session.get(BusinessCalendarRow, calendar_id)
    if row is None:
        raise NotFound("Calendar", calendar_id)
    return _render_sla(
        request,
        session,
        user,
        "complaints/sla_calendar.html",
        calendar=row,
        form=_calendar_values(row),
    )


@router.post("/complaints/sla/calendars/{calendar_id:int}")
def sla_calendar_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, calendar_id: DbId
) -> Response:
    """Save a business calendar; open complaints using it get new due times."""
    require(user, "sla:manage")
    data, shown, problems = _parse_calendar(form)
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        service.update_calendar(session, calendar_id, CalendarIn(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        row = session.get(BusinessCalendarRow, calendar_id)
        return _render_sla(
            request,
            session,
            user,
            "complaints/sla_calendar.html",
            422,
            calendar=row,
            form=shown,
            errors=form_errors(request, exc),
        )
    flash(request, tr(request, "The business calendar was saved."))
    return redirect(request, "/complaints/sla")


# --- dashboard ---------------------------------------------------------------------------------


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _charts(request: Request, d: dict[str, Any]) -> dict[str, str]:
    """ECharts options (JSON) for the dashboard's charts."""
    grid = {"left": 8, "right": 8, "top": 28, "bottom": 4, "containLabel": True}

    def bar(names: list[str], values: list[Any], name: str, color: str = "#1f6feb") -> str:
        return json.dumps(
            {
                "grid": grid,
                "tooltip": {"trigger": "axis"},
                "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0}},
                "yAxis": {"type": "value"},
                "color": [color],
                "series": [{"name": name, "type": "bar", "data": values}],
            },
            ensure_ascii=False,
        )

    vol = d["volume"]
    count = tr(request, "Complaints")
    charts = {
        "category": bar(
            [r["name"] for r in vol["by_category"]], [r["count"] for r in vol["by_category"]], count
        ),
        "channel": bar(
            [
                tr(request, label_msgid("complaint_channel", r["channel"]))
                for r in vol["by_channel"]
            ],
            [r["count"] for r in vol["by_channel"]],
            count,
            "#7c4dff",
        ),
    }
    pareto = d["pareto"]
    charts["pareto"] = json.dumps(
        {
            "grid": grid,
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "xAxis": {"type": "category", "data": [r["root_cause"] for r in pareto]},
            "yAxis": [
                {"type": "value"},
                {"type": "value", "max": 100, "axisLabel": {"formatter": "{value} %"}},
            ],
            "color": ["#1f6feb", "#e5484d"],
            "series": [
                {"name": count, "type": "bar", "data": [r["count"] for r in pareto]},
                {
                    "name": tr(request, "Cumulative share"),
                    "type": "line",
                    "yAxisIndex": 1,
                    "data": [_pct(r["cumulative"]) for r in pareto],
                },
            ],
        },
        ensure_ascii=False,
    )
    t = d["times"]
    labels = [tr(request, "First response"), tr(request, "Resolution")]
    charts["times"] = json.dumps(
        {
            "grid": grid,
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "xAxis": {"type": "category", "data": labels},
            "yAxis": {"type": "value", "name": tr(request, "hours")},
            "color": ["#22a06b", "#f5a524", "#e5484d"],
            "series": [
                {
                    "name": tr(request, "Median"),
                    "type": "bar",
                    "data": [t["first_response"]["median_hours"], t["resolution"]["median_hours"]],
                },
                {
                    "name": tr(request, "90th percentile"),
                    "type": "bar",
                    "data": [t["first_response"]["p90_hours"], t["resolution"]["p90_hours"]],
                },
                {
                    "name": tr(request, "SLA target (average)"),
                    "type": "line",
                    "data": [
                        t["first_response"]["target_hours_avg"],
                        t["resolution"]["target_hours_avg"],
                    ],
                },
            ],
        },
        ensure_ascii=False,
    )
    rep = d["repurchase"]

    def rate_bar(rows: list[dict], group: str) -> str:
        return bar(
            [tr(request, label_msgid(group, str(r["group"]))) for r in rows],
            [_pct(r["rate"]) for r in rows],
            tr(request, "Repurchase rate (%)"),
            "#22a06b",
        )

    charts["repurchase_severity"] = rate_bar(rep["by_severity"], "severity")
    charts["repurchase_speed"] = rate_bar(rep["by_resolution_speed"], "speed")
    monthly = d["monthly"]
    charts["monthly"] = bar([r["month"] for r in monthly], [r["count"] for r in monthly], count)
    return charts


@router.get("/complaints/dashboard")
def complaint_dashboard(request: Request, session: DbSession, user: PageUser) -> Response:
    """Complaint analytics: volume, Pareto, SLA times, remedies, recovery, repurchase, PDCA log."""
    return _render_dashboard(request, session, user)


def _render_dashboard(
    request: Request,
    session: Session,
    user: User,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    d = analytics.dashboard(session, actor=user)
    return render(
        request,
        "complaints/dashboard.html",
        status_code=status_code,
        d=d,
        charts=_charts(request, d),
        pct=_pct,
        improvements=service.list_improvements(session, actor=user),
        users={u.id: (u.display_name or u.username) for u in session.scalars(select(User))},
        owners=_users(session),
        categories=_categories(request, session, user),
        form=form or {},
        errors=errors or {},
        stages=PDCA_STAGES,
    )


@router.post("/complaints/dashboard/improvements")
def improvement_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Log a PDCA improvement against a root cause."""
    require(user, "complaint:improve")
    keys = ("title", "root_cause", "category_id", "owner_id", "plan", "due_on")
    shown = {k: str(form.get(k) or "").strip() for k in keys}
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items()}
    data["title"], data["root_cause"], data["plan"] = (
        shown["title"],
        shown["root_cause"],
        shown["plan"],
    )
    try:
        a = service.create_improvement(session, ImprovementCreate(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        return _render_dashboard(request, session, user, shown, form_errors(request, exc), 422)
    flash(request, tr(request, "The improvement was logged."))
    return redirect(request, f"/complaints/improvements/{a.id}")


# --- PDCA improvement page ---------------------------------------------------------------------

PDCA_NEXT = {"plan": "do", "do": "check", "check": "act", "act": "done"}
PDCA_NOTE = {"plan": "plan", "do": "do_note", "check": "check_result", "act": "act_note"}
PDCA_STEP_TITLES = {
    "plan": N_("Plan: what will change and how success is measured"),
    "do": N_("Do: what was done"),
    "check": N_("Check: the result measured"),
    "act": N_("Act: standardised or adjusted"),
}
PDCA_ADVANCE = {
    "do": N_("Record Do"),
    "check": N_("Record Check"),
    "act": N_("Record Act (standardise)"),
    "done": N_("Close the improvement"),
}
IMPROVEMENT_FIELDS = ("title", "owner_id", "due_on", "plan", "do_note", "check_result", "act_note")


def _improvement_values(a: Any) -> dict[str, str]:
    return {k: "" if getattr(a, k) is None else str(getattr(a, k)) for k in IMPROVEMENT_FIELDS}


def _render_improvement(
    request: Request,
    session: Session,
    user: User,
    a: Any,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    stage = a.stage
    nxt = PDCA_NEXT.get(stage)
    # Notes shown for editing: every step reached so far plus the one the next step records.
    reached = PDCA_STAGES.index(nxt) if nxt else len(PDCA_STAGES)
    steps = [
        {
            "stage": s,
            "field": PDCA_NOTE[s],
            "title": tr(request, PDCA_STEP_TITLES[s]),
            "open": PDCA_STAGES.index(s) <= reached,
        }
        for s in ("plan", "do", "check", "act")
    ]
    category = session.get(ComplaintCategory, a.category_id) if a.category_id else None
    return render(
        request,
        "complaints/improvement.html",
        status_code=status_code,
        a=a,
        form=form,
        errors=errors or {},
        steps=steps,
        stages=PDCA_STAGES,
        next_stage=nxt,
        advance_label=tr(request, PDCA_ADVANCE[nxt]) if nxt else "",
        owners=_users(session),
        users={u.id: (u.display_name or u.username) for u in session.scalars(select(User))},
        category=(category.name_zh if _is_zh(request) and category.name_zh else category.name)
        if category
        else None,
        evidence=service.improvement_evidence(session, a, actor=user),
        may_improve=can(user, "complaint:improve"),
    )


@router.get("/complaints/improvements/{improvement_id:int}")
def improvement_page(
    request: Request, session: DbSession, user: PageUser, improvement_id: DbId
) -> Response:
    """One PDCA improvement: its steps so far, the evidence, and the form for the next step."""
    a = service.get_improvement(session, improvement_id, actor=user)
    return _render_improvement(request, session, user, a, _improvement_values(a))


@router.post("/complaints/improvements/{improvement_id:int}")
def improvement_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, improvement_id: DbId
) -> Response:
    """Save an improvement; ``step`` = the next stage records that step (its note is required)."""
    require(user, "complaint:improve")
    a = service.get_improvement(session, improvement_id, actor=user)
    shown = {k: str(form.get(k) or "").strip() for k in IMPROVEMENT_FIELDS}
    step = str(form.get("step") or "save")
    data: dict[str, Any] = {"title": shown["title"], "plan": shown["plan"]}
    for key in ("do_note", "check_result", "act_note", "due_on"):
        data[key] = shown[key] or None
    problems: list[FieldError] = []
    if shown["owner_id"] and not is_id(shown["owner_id"]):
        problems.append(FieldError("owner_id", tr(request, "Enter a whole number.")))
    data["owner_id"] = shown["owner_id"] or None
    if step != "save":
        if step != PDCA_NEXT.get(a.stage):
            problems.append(
                FieldError(
                    "step", tr(request, "This step is not the next one for this improvement.")
                )
            )
        data["stage"] = step
        need = PDCA_NOTE.get(a.stage if step == "done" else step)
        if step != "done" and need and not shown[need]:
            problems.append(
                FieldError(need, tr(request, "Describe this step before recording it."))
            )
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        service.update_improvement(
            session,
            improvement_id,
            ImprovementUpdate(**data),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        _reraise_access(exc)
        a = service.get_improvement(session, improvement_id, actor=user)
        errors = form_errors(request, exc)
        if "step" in errors:  # the buttons, not an input: say it above the form
            errors[""] = errors.pop("step")
        return _render_improvement(request, session, user, a, shown, errors, 422)
    if step == "done":
        flash(request, tr(request, "The improvement was closed."))
    elif step != "save":
        label = tr(request, label_msgid("pdca", step))
        flash(request, tr(request, "Step recorded: %(stage)s.", stage=label))
    else:
        flash(request, tr(request, "Saved."))
    return redirect(request, f"/complaints/improvements/{improvement_id}")


# --- customer 360 panel ------------------------------------------------------------------------


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict | None:
    """The customer's complaints and their latest timeline events."""
    rows, total = service.list_complaints(
        session, actor=user, customer_id=customer.id, sort="-received_at", limit=20
    )
    events = service.customer_timeline(session, customer.id, actor=user, limit=20)
    subjects = {c.id: c.subject for c in rows}
    return {
        "complaints": [(c, sla_flag(c)) for c in rows],
        "total": total,
        "events": events,
        "subjects": subjects,
        "may_create": can(user, "complaint:create"),
    }


register_panel(
    Panel(
        key="complaints",
        title=N_("Complaints"),
        template="complaints/_panel.html",
        load=_panel,
        permission="complaint:read",
        order=30,
        slot="main",
    )
)
