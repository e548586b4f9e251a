"""Web page: the order list (customer, status, channel, date and amount filters; CSV/XLSX export)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import FieldError
from retento.core.pagination import apply_sort
from retento.core.validation import offset_from_text
from retento.customers.models import Customer
from retento.dataio.downloads import download, entity_producer
from retento.orders import service
from retento.orders.models import ORDER_CHANNELS, ORDER_STATUSES, Order
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.listfilters import amount, day_bounds, raw_params, refuse, with_query
from retento.web.nav import NavItem, register_nav
from retento.web.render import PageUser, is_htmx, page_router, render, tr

router = page_router()

register_nav(NavItem("orders", N_("All orders"), "/orders", "order:read", 12, "more"))

PAGE_SIZE = 50

SORT_OPTIONS = (
    ("-ordered_at", N_("Newest first")),
    ("ordered_at", N_("Oldest first")),
    ("-revenue", N_("Amount, highest first")),
    ("revenue", N_("Amount, lowest first")),
    ("-profit", N_("Profit, highest first")),
    ("status", N_("Status")),
)
SORTS = {code for code, _ in SORT_OPTIONS}
PARAMS = ("customer", "status", "channel", "since", "until", "min_amount", "max_amount", "sort")


def _filters(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    """Service filters (``orders.service.order_filter``) and the raw values to show again."""
    raw = raw_params(request, PARAMS)
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    if raw["customer"]:
        filters["customer_q"] = raw["customer"]
    for key, allowed in (("status", ORDER_STATUSES), ("channel", ORDER_CHANNELS)):
        if raw[key] in allowed:
            filters[key] = raw[key]
        elif raw[key]:
            problems.append(FieldError(key, tr(request, "Choose one of the listed values.")))
    filters.update(day_bounds(request, raw["since"], raw["until"], problems))
    low = amount(request, raw["min_amount"], "min_amount", problems)
    high = amount(request, raw["max_amount"], "max_amount", problems)
    if low is not None:
        filters["min_amount"] = low
    if high is not None:
        filters["max_amount"] = high
    if low is not None and high is not None and high < low:
        problems.append(
            FieldError("max_amount", tr(request, "The highest amount is below the lowest."))
        )
    if raw["sort"] and raw["sort"] not in SORTS:
        problems.append(FieldError("sort", tr(request, "Choose one of the listed orders.")))
    raw["sort"] = raw["sort"] if raw["sort"] in SORTS else "-ordered_at"
    refuse(problems)
    return filters, raw


def list_page(
    session: Session, user: User, filters: dict[str, Any], sort: str, limit: int, offset: int
) -> list[tuple[Order, str]]:
    """One page of ``(order, customer name)``, sorted, without counting every row."""
    require(user, "order:read")
    stmt = apply_sort(service.order_filter(**filters), sort, service.SORTABLE, Order.id)
    orders = list(session.scalars(stmt.limit(limit).offset(offset)))
    ids = {o.customer_id for o in orders}
    found = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    names = dict(found.tuples().all())
    return [(o, names.get(o.customer_id, "")) for o in orders]


@router.get("/orders")
def order_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Orders of every customer, filtered and sorted; each links to its order page."""
    require(user, "order:read")
    filters, raw = _filters(request)
    offset = offset_from_text(request.query_params.get("offset", "0"))
    rows = list_page(session, user, filters, raw["sort"], PAGE_SIZE + 1, offset)
    ctx = {
        "rows": rows[:PAGE_SIZE],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "csv_url": with_query(request, "/orders/export.csv"),
        "xlsx_url": with_query(request, "/orders/export.xlsx"),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "orders/_list_results.html", **ctx)
    return render(
        request,
        "orders/list.html",
        statuses=[(s, tr(request, label_msgid("status", s))) for s in ORDER_STATUSES],
        channels=[(c, tr(request, label_msgid("channel", c))) for c in ORDER_CHANNELS],
        sorts=[(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
        **ctx,
    )


def _export(request: Request, user: User, fmt: str) -> Response:
    filters, _ = _filters(request)
    return download(
        request,
        user,
        entity_producer("orders", filters),
        fmt=fmt,
        filename="orders",
        sheet=tr(request, "Orders"),
    )


@router.get("/orders/export.csv")
def order_export_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered orders, one row per line with the order's totals, as CSV (re-importable)."""
    require(user, "data:export")
    return _export(request, user, "csv")


@router.get("/orders/export.xlsx")
def order_export_xlsx(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered orders as an Excel workbook (amounts as numbers)."""
    require(user, "data:export")
    return _export(request, user, "xlsx")
