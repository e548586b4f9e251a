"""Web pages: the touchpoint list (filters, CSV/XLSX export) and the versioned edit form."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, RetentoError
from retento.core.pagination import apply_sort
from retento.core.validation import DbId, offset_from_text
from retento.customers.models import Customer
from retento.customers.service import can_change_customer
from retento.dataio.downloads import download, entity_producer
from retento.touchpoints import service
from retento.touchpoints.forms import FIELDS, field_options, parse_local
from retento.touchpoints.models import CHANNELS, DIRECTIONS, OUTCOMES, STAGES, Touchpoint
from retento.touchpoints.schemas import TouchpointRead, TouchpointUpdate
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import register_field_labels, register_value_labels
from retento.web.listfilters import day_bounds, raw_params, refuse, with_query
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    is_htmx,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)
from retento.web.system_texts import localize_system_text

router = page_router()

register_nav(
    NavItem("touchpoints", N_("Touchpoints"), "/touchpoints", "touchpoint:read", 14, "more")
)

PAGE_SIZE = 50
SORT_OPTIONS = (
    ("-occurred_at", N_("Newest first")),
    ("occurred_at", N_("Oldest first")),
    ("channel", N_("Channel")),
    ("stage", N_("Stage")),
)
SORTS = {code for code, _ in SORT_OPTIONS}
CHOICES = {"channel": CHANNELS, "stage": STAGES, "direction": DIRECTIONS, "outcome": OUTCOMES}
PARAMS = ("customer", *CHOICES, "since", "until", "sort")

FIELD_LABELS = {
    "occurred_at": N_("When"),
    "channel": N_("Channel"),
    "stage": N_("Stage"),
    "direction": N_("Direction"),
    "outcome": N_("Outcome"),
    "note": N_("Note"),
}
# Its fields by name in the audit log's before/after view, as the list's column headings call
# them (``id``, ``customer_id``, ``created_at`` … are named for every record type).
register_field_labels(
    "touchpoint",
    {**FIELD_LABELS, "stage": N_("Journey stage"), "owner_id": N_("Owner")},
)
# Its coded values by label on the stale-edit page and in the audit log (web.labels' groups).
register_value_labels("touchpoint", {k: k for k in CHOICES})


def _filters(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """Service filters (``touchpoints.service.touchpoint_filter``) and the raw values."""
    raw = raw_params(request, PARAMS)
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    if raw["customer"]:
        filters["customer_q"] = raw["customer"]
    for key, allowed in CHOICES.items():
        if raw[key] in allowed:
            filters[key] = raw[key]
        elif raw[key]:
            problems.append(FieldError(key, tr(request, "Choose one of the listed values.")))
    filters.update(day_bounds(request, raw["since"], raw["until"], problems))
    if raw["sort"] and raw["sort"] not in SORTS:
        problems.append(FieldError("sort", tr(request, "Choose one of the listed orders.")))
    raw["sort"] = raw["sort"] if raw["sort"] in SORTS else "-occurred_at"
    refuse(problems)
    return filters, raw


def list_page(
    session: Session, user: User, filters: dict[str, Any], sort: str, limit: int, offset: int
) -> list[tuple[Touchpoint, Customer]]:
    """One page of ``(touchpoint, customer)``, sorted, without counting every row."""
    require(user, "touchpoint:read")
    stmt = apply_sort(service.touchpoint_filter(**filters), sort, service.SORTABLE, Touchpoint.id)
    rows = list(session.scalars(stmt.limit(limit).offset(offset)))
    ids = {t.customer_id for t in rows}
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    return [(t, customers[t.customer_id]) for t in rows if t.customer_id in customers]


@router.get("/touchpoints")
def touchpoint_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Every recorded interaction, filtered by customer, channel, stage, direction, outcome, date."""
    require(user, "touchpoint:read")
    filters, raw = _filters(request)
    offset = offset_from_text(request.query_params.get("offset", "0"))
    rows = list_page(session, user, filters, raw["sort"], PAGE_SIZE + 1, offset)
    shown = rows[:PAGE_SIZE]
    ctx = {
        "rows": [(t, c, can_change_customer(user, c)) for t, c in shown],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "csv_url": with_query(request, "/touchpoints/export.csv"),
        "xlsx_url": with_query(request, "/touchpoints/export.xlsx"),
        # a note the system wrote (a tier change's) in the reader's language, tier name too
        "systext": lambda field, text: localize_system_text(
            request_locale(request), text, session, field=field
        ),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "touchpoints/_list_results.html", **ctx)
    return render(
        request,
        "touchpoints/list.html",
        sorts=[(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
        **field_options(request),
        **ctx,
    )


def _export(request: Request, user: User, fmt: str) -> Response:
    filters, _ = _filters(request)
    return download(
        request,
        user,
        entity_producer("touchpoints", filters),
        fmt=fmt,
        filename="touchpoints",
        sheet=tr(request, "Touchpoints"),
    )


@router.get("/touchpoints/export.csv")
def touchpoint_export_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered touchpoints as CSV in the importer's format, streamed."""
    require(user, "data:export")
    return _export(request, user, "csv")


@router.get("/touchpoints/export.xlsx")
def touchpoint_export_xlsx(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered touchpoints as an Excel workbook, streamed."""
    require(user, "data:export")
    return _export(request, user, "xlsx")


def _values(request: Request, t: Touchpoint) -> dict[str, str]:
    tz = ZoneInfo(request.app.state.settings.timezone)
    return {
        "occurred_at": t.occurred_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "channel": t.channel,
        "stage": t.stage,
        "direction": t.direction,
        "outcome": t.outcome,
        "note": t.note or "",
        "version": str(t.version),
    }


def _posted(request: Request, t: Touchpoint) -> dict[str, str]:
    """The touchpoint as its edit form posts it unchanged (input name → value): the form's
    hidden base of a three-way stale-edit page (``web.conflict``), read back by ``_update``."""
    return {k: v for k, v in _values(request, t).items() if k != "version"}


def _update(request: Request, form: Any) -> TouchpointUpdate:
    """The edit form's inputs as the service's input."""
    shown = {k: str(form.get(k) or "").strip() for k in FIELDS}
    return TouchpointUpdate(
        occurred_at=parse_local(request, shown["occurred_at"], "occurred_at"),
        channel=shown["channel"] or None,
        stage=shown["stage"] or None,
        direction=shown["direction"] or None,
        outcome=shown["outcome"] or None,
        note=shown["note"] or None,
    )


def _render_form(
    request: Request,
    t: Touchpoint,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The edit form; it carries the values it was loaded with (``base``, for the stale-edit
    page), kept when it comes back with errors."""
    return render(
        request,
        "touchpoints/edit.html",
        status_code=status_code,
        touchpoint=t,
        form=values,
        errors=errors or {},
        base=base if base is not None else _posted(request, t),
        **field_options(request),
    )


def _editable(session: Session, user: User, touchpoint_id: int) -> Touchpoint:
    t = service.get_touchpoint(session, touchpoint_id, actor=user)
    from retento.customers.service import require_customer_change

    require_customer_change(user, t.customer, "touchpoint:update")
    return t


@router.get("/touchpoints/{touchpoint_id:int}/edit")
def touchpoint_edit(
    request: Request, session: DbSession, user: PageUser, touchpoint_id: DbId
) -> Response:
    """The form for correcting a recorded touchpoint."""
    t = _editable(session, user, touchpoint_id)
    return _render_form(request, t, _values(request, t))


@router.post("/touchpoints/{touchpoint_id:int}/edit")
def touchpoint_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, touchpoint_id: DbId
) -> Response:
    """Save the correction; a form loaded before someone else saved gets the conflict page."""
    t = _editable(session, user, touchpoint_id)
    shown = {k: str(form.get(k) or "").strip() for k in FIELDS}
    shown["version"] = str(form.get("version") or "").strip()
    expected = form_version(form)
    update: TouchpointUpdate | None = None
    try:
        update = _update(request, form)
        service.update_touchpoint(
            session, touchpoint_id, update, actor=user, expected_version=expected
        )
    except STALE:
        session.rollback()
        current = service.get_touchpoint(session, touchpoint_id, actor=user)
        assert update is not None
        return conflict_page(
            request,
            session,
            entity="touchpoint",
            record=current,
            title=tr(request, "Touchpoint #%(id)s", id=current.id),
            submitted=update.model_dump(exclude_unset=True, exclude={"version"}),
            current=TouchpointRead.model_validate(current).model_dump(),
            labels=FIELD_LABELS,
            form=form,
            action=f"/touchpoints/{touchpoint_id}/edit",
            reload_url=f"/touchpoints/{touchpoint_id}/edit",
            cancel_url="/touchpoints",
            expected=expected,
            base=read_base(
                form,
                lambda v: _update(request, v).model_dump(exclude_unset=True, exclude={"version"}),
            ),
            current_form=_posted(request, current),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and not isinstance(exc, InvalidInput):
            if exc.status in (401, 403, 404):
                raise
        t = service.get_touchpoint(session, touchpoint_id, actor=user)
        return _render_form(request, t, shown, form_errors(request, exc), 422, form_base(form))
    flash(request, tr(request, "The touchpoint was saved."))
    return redirect(request, f"/touchpoints?customer={t.customer_id}")
