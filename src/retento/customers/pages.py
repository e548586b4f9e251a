"""Web pages: the customer list (search, filters, export) and the 360 page. The form, archive,
restore and privacy screens are in ``customers.form_pages``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from retento.auth.models import User
from retento.auth.permissions import require
from retento.auth.service import assignable_user_choices
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput
from retento.core.pagination import apply_sort
from retento.core.validation import DbId, label_query_params, offset_from_text
from retento.customers import (
    field_forms,
    field_values,
    insights,
    search,
    service,
    timeline,
)
from retento.customers.filters import SORT_OPTIONS, list_filters
from retento.customers.models import CONSENTS, KINDS, Customer, CustomerTag, scope_of
from retento.customers.panels import panels_for
from retento.web.chart_units import money_axis_name
from retento.web.charts import grid
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.listfilters import refuse
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    PageUser,
    is_htmx,
    page_router,
    render,
    request_locale,
    tr,
)

router = page_router()

# The list's search box (and the count and export that repeat its query), named by its label
# when what was typed cannot be searched for (a NUL character: core.validation).
label_query_params(("/customers", "/customers/count", "/customers/export.csv"), {"q": N_("Search")})

register_nav(NavItem("customers", N_("Customers"), "/customers", "customer:read", 10))

PAGE_SIZE = 50
TIMELINE_PAGE = 50
COUNT_CAP = 10_000


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
    filters, _, problems = list_filters(request, user, session)
    # A filter the list refuses is refused here too, not dropped: the file would hold every
    # customer instead of the ones asked for (the XLSX export and the list answer 422).
    refuse(problems)
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


# The customer form, archive/restore and privacy screens; their routes join this page router.
from retento.customers import form_pages  # noqa: E402

router.include_router(form_pages.router)

# The merge screens live in their own module; their routes join this page router.
from retento.customers import merge_pages  # noqa: E402

router.include_router(merge_pages.router)

# The XLSX export of the list lives in its own module; its route joins this page router.
from retento.customers import export_pages  # noqa: E402

router.include_router(export_pages.router)

# The administrators' Customer fields pages (custom field definitions) join this page router.
from retento.customers import field_pages  # noqa: E402

router.include_router(field_pages.router)

# The public unsubscribe page behind the link in marketing e-mail joins this page router.
from retento.customers import unsubscribe_pages  # noqa: E402

router.include_router(unsubscribe_pages.router)
