"""Web pages: the customer list (search, filters, export), the 360 page and the customer form."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload, object_session

from retento.auth.models import User
from retento.auth.permissions import acts_on_all, require
from retento.auth.service import assignable_user_choices
from retento.core.countries import country_options
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, RetentoError
from retento.core.pagination import apply_sort
from retento.core.validation import DbId, offset_from_text
from retento.customers import (
    field_forms,
    field_values,
    insights,
    privacy,
    search,
    service,
    timeline,
)
from retento.customers.duplicates import PossibleDuplicate
from retento.customers.filters import SORT_OPTIONS, list_filters
from retento.customers.models import CONSENTS, KINDS, Customer, CustomerTag, scope_of
from retento.customers.panels import panels_for
from retento.customers.schemas import CustomerCreate, CustomerRead, CustomerUpdate
from retento.web.chart_units import money_axis_name
from retento.web.charts import grid
from retento.web.conflict import STALE, conflict_page, form_version
from retento.web.forms import FORM_KEY, PageForm, reissue_key_on_reuse, submitted_key
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    form_errors,
    is_htmx,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)

router = page_router()

register_nav(NavItem("customers", N_("Customers"), "/customers", "customer:read", 10))

PAGE_SIZE = 50
TIMELINE_PAGE = 50
COUNT_CAP = 10_000
CONTACT_ROWS = 2

# Field names of CustomerUpdate → labels, for the stale-edit page (web.conflict).
FIELD_LABELS = {
    "name": N_("Name"),
    "party_type": N_("Person or organisation"),
    "kind": N_("Kind"),
    "external_id": N_("External id"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "address": N_("Address"),
    "city": N_("City"),
    "country": N_("Country"),
    "acquired_on": N_("Customer since"),
    "birth_date": N_("Date of birth"),
    "tags": N_("Tags"),
    "owner_id": N_("Owner"),
    "note": N_("Note"),
    "custom_fields": N_("Custom fields"),
    "contacts": N_("Contacts"),
    "role": N_("Role"),
    "is_primary": N_("Primary"),
    **{c: label_msgid("consent", c) for c in CONSENTS},
}


def _offset(request: Request) -> int:
    value = request.query_params.get("offset", "0")
    return offset_from_text(value)


@dataclass(frozen=True, slots=True)
class ListRow:
    """One customer as the list shows it (a read model: no ORM object, no lazy loads)."""

    id: int
    name: str
    kind: str
    email: str | None
    phone: str | None
    city: str | None
    external_id: str | None
    archived: bool
    erased: bool
    owner_name: str | None
    tags: list[str] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return scope_of(self.kind)


@cache
def _list_rows_stmt() -> Any:
    """The page's rows by id, with the owner's name (built once; the ids are one expanding
    parameter). Only the shown columns: loading whole ORM customers with their owner (every
    user column) and tags cost ~40 % of the list page's CPU."""
    return (
        select(
            Customer.id,
            Customer.name,
            Customer.kind,
            Customer.email,
            Customer.phone,
            Customer.city,
            Customer.external_id,
            Customer.archived_at.is_not(None),
            Customer.erased_at.is_not(None),
            func.coalesce(func.nullif(User.display_name, ""), User.username),
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .where(Customer.id.in_(bindparam("ids", expanding=True)))
    )


@cache
def _list_tags_stmt() -> Any:
    return (
        select(CustomerTag.customer_id, CustomerTag.tag)
        .where(CustomerTag.customer_id.in_(bindparam("ids", expanding=True)))
        .order_by(CustomerTag.customer_id, CustomerTag.tag)
    )


def list_page(
    session: Session, user: User, filters: dict[str, Any], sort: str, limit: int, offset: int
) -> list[ListRow]:
    """One page of the filtered, sorted list, fast on millions of rows.

    The page's ids are found first (an index-only scan even at a deep offset), then only those
    rows are read with their owner's name and tags: a "deferred join". The list shows no
    contact persons, so none are read.
    """
    require(user, "customer:read")
    if sort == "relevance" and filters.get("q"):
        ids, _ = service.search_page_ids(
            session, limit=limit, offset=offset, with_total=False, **filters
        )
    else:
        if sort == "relevance":
            sort = "name"
        stmt = service.customer_filter(**filters, dialect=search.dialect_of(session))
        stmt = apply_sort(stmt, sort, service.SORTABLE, Customer.id)
        ids = list(session.scalars(stmt.with_only_columns(Customer.id).limit(limit).offset(offset)))
    if not ids:
        return []
    by_id = {r[0]: ListRow(*r) for r in session.execute(_list_rows_stmt(), {"ids": ids})}
    for customer_id, tag in session.execute(_list_tags_stmt(), {"ids": ids}):
        by_id[customer_id].tags.append(tag)
    return [by_id[i] for i in ids if i in by_id]


@router.get("/customers")
def customer_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Search, filter, sort and page through customers (htmx swaps only the results)."""
    filters, raw, problems = list_filters(request, user, session)
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    segments = _segment_options(request, session, raw["segment"])
    offset = _offset(request)
    rows = list_page(session, user, filters, raw["sort"], PAGE_SIZE + 1, offset)
    ctx = {
        "rows": rows[:PAGE_SIZE],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "count_url": "/customers/count" + (("?" + request.url.query) if request.url.query else ""),
        "export_url": "/customers/export.csv"
        + (("?" + request.url.query) if request.url.query else ""),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "customers/_results.html", **ctx)
    return render(
        request,
        "customers/list.html",
        kinds=[(k, tr(request, label_msgid("kind", k))) for k in KINDS],
        owners=assignable_user_choices(session),
        sorts=[(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
        segments=segments,
        field_filters=field_values.filter_options(
            field_values.definitions(session, active_only=True),
            request_locale(request),
            tr(request, "Yes"),
            tr(request, "No"),
        ),
        **ctx,
    )


def _segment_options(request: Request, session: Session, chosen: str) -> list[tuple[str, str]]:
    """The saved Insights segments as filter options; a chosen one that does not exist is a
    422 naming ``segment``."""
    from retento.insights import segments_service

    parsed = segments_service.parse_filter(chosen)
    if parsed is not None:
        segments_service.check_filter(session, parsed)
    return segments_service.filter_choices(session, request_locale(request))


@router.get("/customers/count")
def customer_count(request: Request, session: DbSession, user: PageUser) -> Response:
    """How many customers match, counted up to a cap so it stays fast on millions of rows."""
    require(user, "customer:read")
    filters, _, _ = list_filters(request, user, session)
    # A search counts up to search.COUNT_CAP, like the API's total (total_is_lower_bound).
    cap = search.COUNT_CAP if (filters.get("q") or "").strip() else COUNT_CAP
    n = service.count_customers(session, cap=cap, **filters)
    return render(request, "customers/_count.html", n=n, cap=cap)


@router.get("/customers/export.csv")
def customer_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered list as CSV (the importer's format), streamed in batches."""
    from retento.dataio.service import export_csv

    require(user, "data:export")
    filters, _, _ = list_filters(request, user, session)
    filters["dialect"] = search.dialect_of(session)
    filters["custom_field_keys"] = [d.key for d in field_values.definitions(session)]
    user_id = user.id
    factory = request.app.state.session_factory

    def body():
        # The stream outlives the request's session, so it reads through its own.
        s = factory()
        try:
            actor = s.get(User, user_id)
            given = dict(filters)
            if "mine_for" in given:
                given["mine_for"] = actor
            yield from export_csv(s, "customers", actor=actor, filters=given)
        finally:
            s.close()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
    )


def _every_month(months: list) -> list:
    """``months`` with the months between them that had no orders added as zeros, so the
    chart's time axis is even (the last 24 calendar months at most)."""
    if not months:
        return []
    have = {m: (r, p) for m, r, p in months}
    year, month = (int(x) for x in months[0][0].split("-"))
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        r, p = have.get(key, (0, 0))
        out.append((key, r, p))
        if key >= months[-1][0]:
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out[-24:]


def _chart(request: Request, months: list) -> str:
    """The ECharts option of the revenue-by-month bar chart, as JSON for ``data-chart``."""
    months = _every_month(months)
    option = {
        "grid": grid(right=8, bottom=4),
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [tr(request, "Revenue"), tr(request, "Profit")], "top": 0},
        "xAxis": {"type": "category", "data": [m for m, _, _ in months]},
        # revenue and profit are amounts: the axis names its currency ("Amount ($)")
        "yAxis": {"type": "value", "name": money_axis_name(request, tr(request, "Amount"))},
        "color": ["#1f6feb", "#22a06b"],
        "series": [
            {
                "name": tr(request, "Revenue"),
                "type": "bar",
                "data": [float(r) for _, r, _ in months],
            },
            {
                "name": tr(request, "Profit"),
                "type": "line",
                "smooth": True,
                "data": [float(p) for _, _, p in months],
            },
        ],
    }
    return json.dumps(option, ensure_ascii=False)


@cache
def _customer_with_parts() -> Any:
    """The 360 page's first query, built once (building it cost more CPU than running it)."""
    return (
        select(Customer)
        .where(Customer.id == bindparam("customer_id", type_=Customer.id.type))
        .options(
            joinedload(Customer.tag_rows),
            joinedload(Customer.contacts),
            joinedload(Customer.assignments),
        )
    )


@router.get("/customers/{customer_id:int}")
def customer_360(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Everything about one customer: profile, totals, chart, timeline and the domains' panels."""
    require(user, "customer:read")
    # One query puts the customer, its owner, tags, contacts and assignments in the session, so
    # get_customer and the template read them without a lazy load each (4 round trips → 1).
    # (The session only holds objects weakly: ``loaded`` keeps it there until get_customer.)
    loaded = session.scalars(_customer_with_parts(), {"customer_id": customer_id}).unique().all()
    customer = service.get_customer(session, customer_id, actor=user)
    del loaded
    months = insights.revenue_by_month(session, customer.id, actor=user)
    panels = panels_for(request, session, customer, user)
    return render(
        request,
        "customers/detail.html",
        customer=customer,
        totals=insights.customer_totals(session, customer.id, actor=user),
        months=months,
        chart=_chart(request, months) if months else "",
        **_timeline_context(request, session, user, customer),
        side_panels=[(p, c) for p, c in panels if p.slot == "side"],
        main_panels=[(p, c) for p, c in panels if p.slot != "side"],
        may_change=service.can_change_customer(user, customer),
        consents=CONSENTS,
        # (no definitions read for a customer without custom fields: one statement less)
        custom_rows=field_forms.display_rows(
            field_values.definitions(session) if customer.custom_fields else [],
            customer.custom_fields,
            request_locale(request),
        ),
    )


def _timeline_context(
    request: Request,
    session: Session,
    user: User,
    customer: Customer,
    kind: str = "",
    cursor: str = "",
) -> dict[str, Any]:
    """One page of the merged timeline with the kind filter's choices and the next page's URL."""
    page = timeline.customer_timeline(
        session,
        customer.id,
        actor=user,
        locale=request_locale(request),
        kind=kind or None,
        limit=TIMELINE_PAGE,
        cursor=timeline.Cursor.decode(cursor) if cursor else None,
    )
    next_url = ""
    if page.next_cursor is not None:
        query = {"kind": kind} if kind else {}
        query["cursor"] = page.next_cursor.encode()
        next_url = f"/customers/{customer.id}/timeline?{urlencode(query)}"
    return {
        "events": page.entries,
        "timeline_kinds": timeline.visible_kinds(user),
        "timeline_kind": kind,
        "timeline_sources": {s.kind: s for s in timeline.timeline_sources()},
        "timeline_next": next_url,
        "timeline_more_page": bool(cursor),
    }


@router.get("/customers/{customer_id:int}/timeline")
def customer_timeline(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """The customer's timeline, filtered by ``kind``, from ``cursor`` on: a page of its own, the
    360 box's content for htmx (after a touchpoint is added, or the filter changed), or only the
    next entries when htmx asks for older ones."""
    customer = service.get_customer(session, customer_id, actor=user)
    kind = request.query_params.get("kind", "").strip()
    cursor = request.query_params.get("cursor", "").strip()
    ctx = _timeline_context(request, session, user, customer, kind, cursor)
    if not is_htmx(request):
        return render(request, "customers/timeline.html", customer=customer, **ctx)
    template = "customers/_timeline_items.html" if cursor else "customers/_timeline.html"
    return render(request, template, customer=customer, **ctx)


def _form_values(customer: Customer | None) -> dict[str, Any]:
    """The form's initial values (strings, as the inputs show them)."""
    if customer is None:
        return {"party_type": "person", "kind": "consumer", "contacts": [{}] * CONTACT_ROWS}
    values: dict[str, Any] = {
        k: getattr(customer, k) or ""
        for k in (
            "name", "party_type", "kind", "external_id", "email", "phone", "address", "city",
            "country", "note",
        )
    }  # fmt: skip
    values["acquired_on"] = customer.acquired_on.isoformat() if customer.acquired_on else ""
    values["birth_date"] = customer.birth_date.isoformat() if customer.birth_date else ""
    values["version"] = str(customer.version)
    values["tags"] = ", ".join(customer.tags)
    values["owner_id"] = str(customer.owner_id or "")
    values.update(
        field_forms.form_values(
            field_values.definitions(object_session(customer)), customer.custom_fields or {}
        )
    )
    for c in CONSENTS:
        values[c] = getattr(customer, c)
    values["contacts"] = [
        {"name": k.name, "role": k.role or "", "email": k.email or "", "phone": k.phone or "",
         "is_primary": k.is_primary}
        for k in customer.contacts
    ] + [{}]  # fmt: skip
    return values


def _parse_form(
    request: Request, form: Any, session: Session, stored: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    """``(payload for the schema, values to re-show, problems found while parsing)``;
    ``stored``: the edited customer's custom fields."""
    get = lambda k: str(form.get(k) or "").strip()  # noqa: E731
    shown: dict[str, Any] = {
        k: get(k)
        for k in (
            "name", "party_type", "kind", "external_id", "email", "phone", "address", "city",
            "country", "acquired_on", "birth_date", "note", "tags", "owner_id",
        )
    }  # fmt: skip
    # Kept as sent, so a form shown again after a 422 still detects someone else's save.
    version = get("version")
    problems: list[FieldError] = []
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items()}
    data["name"] = shown["name"]
    data["party_type"] = shown["party_type"] or "person"
    data["kind"] = shown["kind"] or "consumer"
    if data["country"]:
        data["country"] = data["country"].upper()
    data["tags"] = [t for t in shown["tags"].replace("，", ",").split(",") if t.strip()]
    for c in CONSENTS:
        shown[c] = data[c] = form.get(c) == "1"
    data["custom_fields"], custom_shown, custom_problems = field_forms.parse(
        request, form, field_values.definitions(session), stored or {}
    )
    shown.update(custom_shown)
    problems += custom_problems
    owner = shown["owner_id"]
    data["owner_id"] = int(owner) if owner.isascii() and owner.isdigit() else None
    if owner and data["owner_id"] is None:
        # Not silently dropped: the customer would be saved without the owner chosen.
        problems.append(FieldError("owner_id", tr(request, "Choose one of the listed values.")))
    contacts, shown_contacts = [], []
    i = 0
    while f"contacts.{i}.name" in form or f"contacts.{i}.email" in form:
        row = {k: get(f"contacts.{i}.{k}") for k in ("name", "role", "email", "phone")}
        row["is_primary"] = form.get(f"contacts.{i}.is_primary") == "1"
        shown_contacts.append(row)
        if any(row[k] for k in ("name", "role", "email", "phone")):
            contact = {k: (v or None) for k, v in row.items() if k != "is_primary"}
            contacts.append({**contact, "name": row["name"], "is_primary": row["is_primary"]})
        i += 1
    shown["contacts"] = shown_contacts or [{}]
    shown["version"] = version
    data["contacts"] = contacts
    return data, shown, problems


def _contact_errors(errors: dict[str, str], data: dict[str, Any], shown: dict[str, Any]) -> None:
    """Contacts skipped when blank shift indexes: map schema indexes back to the form rows."""
    rows = [
        i
        for i, r in enumerate(shown["contacts"])
        if any(r.get(k) for k in ("name", "role", "email", "phone"))
    ]
    for key in list(errors):
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "contacts" and parts[1].isdigit():
            idx = int(parts[1])
            if idx < len(rows) and rows[idx] != idx:
                errors[f"contacts.{rows[idx]}.{parts[2]}"] = errors.pop(key)


def _check_form(
    request: Request,
    session: Session,
    schema: type[CustomerCreate] | type[CustomerUpdate],
    data: dict[str, Any],
    problems: list[FieldError],
    own_id: int | None = None,
    stored_custom: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, str]]:
    """``(the schema's object or None, every error of the form)``: the form's own parsing, the
    schema's checks and the service's checks against stored rows (owner, external id, one
    primary contact, no date of birth for an organisation) all at once, so a form with several
    mistakes does not come back once for each of them."""
    errors: dict[str, str] = {}
    payload = None
    try:
        payload = schema(**data)
    except ValidationError as exc:
        errors = form_errors(request, exc)
    for p in problems:
        errors.setdefault(p.field or "", error_text(request, p.message))

    def accepted(name: str) -> Any:
        """The value when the steps above found nothing wrong with it (else not checked)."""
        wrong = any(k == name or k.startswith(f"{name}.") for k in errors)
        return None if wrong else data.get(name)

    for exc in service.field_problems(
        session,
        owner_id=accepted("owner_id"),
        external_id=accepted("external_id"),
        contacts=data.get("contacts"),
        own_id=own_id,
        custom_fields=None if accepted("custom_fields") is None else data["custom_fields"],
        stored_custom=stored_custom,
        party_type=accepted("party_type"),
        birth_date=accepted("birth_date"),
    ):
        for name, message in form_errors(request, exc).items():
            errors.setdefault(name, message)
    field_forms.place_errors(errors, field_values.definitions(session))
    return payload, errors


def _render_form(
    request: Request,
    session: DbSession,
    user: User,
    customer: Customer | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    duplicates: list[dict[str, Any]] | None = None,
) -> Response:
    can_assign = acts_on_all(user)
    return render(
        request,
        "customers/form.html",
        status_code=status_code,
        customer=customer,
        form=values,
        errors=errors or {},
        can_assign=can_assign,
        owners=assignable_user_choices(session) if can_assign else [],
        kinds=[(k, tr(request, label_msgid("kind", k))) for k in KINDS],
        party_types=[
            (k, tr(request, label_msgid("party_type", k))) for k in ("person", "organisation")
        ],
        consents=CONSENTS,
        countries=country_options(request_locale(request)),
        duplicates=duplicates or [],
        field_defs=field_values.definitions(session, active_only=True),
    )


@router.get("/customers/new")
def customer_new(request: Request, session: DbSession, user: PageUser) -> Response:
    """The form for a new customer."""
    require(user, "customer:create")
    return _render_form(request, session, user, None, _form_values(None))


@router.post("/customers/new")
def customer_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Create a customer; on any error the form comes back with messages and nothing is saved."""
    require(user, "customer:create")  # before the checks, which look up external ids
    data, shown, problems = _parse_form(request, form, session)
    shown[FORM_KEY] = submitted_key(form)
    if not acts_on_all(user):
        data.pop("owner_id", None)
    payload, errors = _check_form(request, session, CustomerCreate, data, problems)
    try:
        if not errors:
            customer = service.create_customer(
                session,
                payload,
                actor=user,
                force=form.get("force") == "1",
                idempotency_key=shown[FORM_KEY] or None,
            )
    except PossibleDuplicate as exc:
        # Not an error: the form comes back listing the matches, with "Create anyway".
        session.rollback()
        return _render_form(request, session, user, None, shown, duplicates=exc.matches)
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403):
            raise
        errors = form_errors(request, exc)
    if errors:
        _contact_errors(errors, data, shown)
        reissue_key_on_reuse(errors, shown)
        return _render_form(request, session, user, None, shown, errors, 422)
    flash(request, tr(request, "Customer %(name)s was created.", name=customer.name))
    return redirect(request, f"/customers/{customer.id}")


@router.get("/customers/{customer_id:int}/edit")
def customer_edit(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """The form for changing a customer."""
    customer = service.get_customer(session, customer_id, actor=user)
    service.require_customer_change(user, customer, "customer:update")
    return _render_form(request, session, user, customer, _form_values(customer))


@router.post("/customers/{customer_id:int}/edit")
def customer_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Save a customer's changes; on any error nothing is saved.

    A form loaded before someone else saved gets the conflict page (409) instead.
    """
    customer = service.get_customer(session, customer_id, actor=user)
    stored_custom = dict(customer.custom_fields or {})
    data, shown, problems = _parse_form(request, form, session, stored_custom)
    expected = form_version(form)
    if not acts_on_all(user):
        data.pop("owner_id", None)
    try:
        # Before the checks, which look up other customers' external ids.
        service.require_customer_change(user, customer, "customer:update")
        update, errors = _check_form(
            request, session, CustomerUpdate, data, problems, customer_id, stored_custom
        )
        if not errors:
            service.update_customer(
                session, customer_id, update, actor=user, expected_version=expected
            )
    except STALE:
        session.rollback()
        current = service.get_customer(session, customer_id, actor=user)
        return conflict_page(
            request,
            session,
            entity="customer",
            record=current,
            title=current.name,
            submitted=update.model_dump(exclude_unset=True, exclude={"version"}),
            current=CustomerRead.model_validate(current).model_dump(),
            labels=FIELD_LABELS,
            form=form,
            action=f"/customers/{customer_id}/edit",
            reload_url=f"/customers/{customer_id}/edit",
            cancel_url=f"/customers/{customer_id}",
            expected=expected,
        )
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        errors = form_errors(request, exc)
    if errors:
        _contact_errors(errors, data, shown)
        customer = service.get_customer(session, customer_id, actor=user)
        return _render_form(request, session, user, customer, shown, errors, 422)
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, f"/customers/{customer_id}")


@router.post("/customers/{customer_id:int}/archive")
def customer_archive(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Archive a customer (managers and admins); the 360 page then offers to restore it."""
    customer = service.archive_customer(session, customer_id, actor=user)
    flash(request, tr(request, "Customer %(name)s was archived.", name=customer.name))
    return redirect(request, f"/customers/{customer_id}")


@router.post("/customers/{customer_id:int}/restore")
def customer_restore(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Bring an archived customer back into lists, search, scoring and surveys."""
    customer = service.restore_customer(session, customer_id, actor=user)
    flash(request, tr(request, "Customer %(name)s was restored.", name=customer.name))
    return redirect(request, f"/customers/{customer_id}")


@router.get("/customers/{customer_id:int}/export.zip")
def customer_data_export(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Everything held about the customer as a zip (privacy access request)."""
    import tempfile

    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    try:
        privacy.write_export(session, customer_id, out, actor=user)
    except BaseException:
        out.close()
        raise
    out.seek(0)

    def chunks():
        with out:
            while block := out.read(256 * 1024):
                yield block

    name = privacy.export_filename(customer_id)
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _render_erase(
    request: Request,
    customer: Customer,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    reason: str = "",
) -> Response:
    return render(
        request,
        "customers/erase.html",
        status_code=status_code,
        customer=customer,
        errors=errors or {},
        reason=reason,
    )


@router.get("/customers/{customer_id:int}/erase")
def customer_erase_form(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """What an erasure removes and keeps, and the typed confirmation it needs."""
    require(user, "customer:erase")
    customer = service.get_customer(session, customer_id, actor=user)
    return _render_erase(request, customer)


@router.post("/customers/{customer_id:int}/erase")
def customer_erase(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Erase the customer's personal data once its number was typed in as confirmation."""
    require(user, "customer:erase")
    customer = service.get_customer(session, customer_id, actor=user)
    typed = str(form.get("confirm") or "").strip().lstrip("#")
    reason = str(form.get("reason") or "").strip()
    errors: dict[str, str] = {}
    if typed != str(customer.id):
        errors["confirm"] = tr(
            request, "Type the customer number %(id)s to confirm.", id=customer.id
        )
    if len(reason) > 200:
        errors["reason"] = tr(request, "At most 200 characters.")
    if errors:
        return _render_erase(request, customer, errors, 422, reason)
    privacy.erase_customer(session, customer_id, actor=user, reason=reason or None)
    flash(request, tr(request, "The personal data of customer %(id)s was erased.", id=customer_id))
    return redirect(request, f"/customers/{customer_id}")


# The merge screens live in their own module; their routes join this page router.
from retento.customers import merge_pages  # noqa: E402

router.include_router(merge_pages.router)

# The XLSX export of the list lives in its own module; its route joins this page router.
from retento.customers import export_pages  # noqa: E402

router.include_router(export_pages.router)

# The administrators' Customer fields pages (custom field definitions) join this page router.
from retento.customers import field_pages  # noqa: E402

router.include_router(field_pages.router)
