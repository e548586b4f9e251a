"""Streaming CSV export in the importer's format, so an exported file re-imports unchanged.

Text cells that a spreadsheet would run as formulas are neutralised (``dataio.cells``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from retento.auth.models import User
from retento.customers.field_values import definitions
from retento.customers.models import Customer, CustomerTag
from retento.customers.service import customer_filter
from retento.dataio.cells import neutralise
from retento.orders.models import Order, OrderLine
from retento.orders.service import order_filter
from retento.products.models import Product
from retento.products.service import product_filter
from retento.touchpoints.models import Touchpoint
from retento.touchpoints.service import touchpoint_filter

BATCH = 5_000
#: A customer export's filter entry holding the custom field keys, read by the request before a
#: stream that reads through its own session starts (its header then needs no query).
CUSTOM_KEYS = "custom_field_keys"
BOM = "\ufeff"  # lets spreadsheet programs read UTF-8 (Chinese names) correctly

CUSTOMER_HEADER = [
    "external_id", "name", "party_type", "kind", "email", "phone", "address", "city", "country",
    "acquired_on", "birth_date", "consent_email", "consent_sms", "consent_phone",
    "consent_profiling", "tags", "owner", "custom_fields", "note",
]  # fmt: skip
PRODUCT_HEADER = ["external_id", "name", "category", "unit_price", "unit_cost", "is_active"]
LINE_HEADER = [
    "order_external_id", "customer_external_id", "ordered_at", "status", "channel",
    "order_discount", "line_no", "product_external_id", "quantity", "unit_price", "unit_cost",
    "line_discount",
]  # fmt: skip
ORDER_HEADER = LINE_HEADER + ["order_revenue", "order_cost", "order_profit", "order_refunded"]
TOUCHPOINT_HEADER = [
    "external_id", "customer_external_id", "occurred_at", "channel", "stage", "direction",
    "outcome", "owner", "note",
]  # fmt: skip


def cell(value: Any) -> str:
    """One value as the importer reads it back; text a spreadsheet would run as a formula gets
    a leading quote (``cells.neutralise``), which the importer removes again."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    if isinstance(value, int | float):
        return str(value)
    return neutralise(str(value))


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        w.writerow([cell(v) for v in row])
    return buf.getvalue()


def _restrict(stmt: Select, model: Any, filtered: Select | None) -> Select:
    """Keep only the rows of the list service's filter (its WHERE clauses, as an id subquery)."""
    if filtered is None or filtered.whereclause is None:
        return stmt
    return stmt.where(model.id.in_(filtered.with_only_columns(model.id)))


def _stream(session: Session, stmt: Select) -> Iterator[list[Any]]:
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    for part in result.partitions():
        yield [list(r) for r in part]


def _customers(session: Session, filters: dict[str, Any]) -> Iterator[list[list[Any]]]:
    # The custom field keys, when the caller read them already (``CUSTOM_KEYS``).
    filters = dict(filters)
    given_keys = filters.pop(CUSTOM_KEYS, None)
    owner = aliased(User)
    c = Customer
    stmt = (
        select(
            c.id,
            c.external_id,
            c.name,
            c.party_type,
            c.kind,
            c.email,
            c.phone,
            c.address,
            c.city,
            c.country,
            c.acquired_on,
            c.birth_date,
            c.consent_email,
            c.consent_sms,
            c.consent_phone,
            c.consent_profiling,
            owner.username,
            c.custom_fields,
            c.note,
        )  # fmt: skip
        .outerjoin(owner, owner.id == c.owner_id)
        .order_by(c.id)
    )
    # A full export (no filter) includes archived customers, so their orders re-import; the
    # web list's export passes its "archived" choice.
    stmt = _restrict(stmt, c, customer_filter(**{"archived": None, **filters}))
    # One column per defined custom field (custom.<key>, which the importer reads back); the
    # custom_fields column keeps the other (undefined) keys as JSON.
    keys = list(given_keys) if given_keys is not None else [d.key for d in definitions(session)]
    yield [CUSTOMER_HEADER + [f"custom.{k}" for k in keys]]
    for part in _stream(session, stmt):
        ids = [r[0] for r in part]
        tags: dict[int, list[str]] = {}
        for cid, tag in session.execute(
            select(CustomerTag.customer_id, CustomerTag.tag)
            .where(CustomerTag.customer_id.in_(ids))
            .order_by(CustomerTag.customer_id, CustomerTag.tag)
        ):
            tags.setdefault(cid, []).append(tag)
        rows = []
        for r in part:
            custom = r[17] or {}
            other = {k: v for k, v in custom.items() if k not in keys} if keys else custom
            rows.append(
                [*r[1:16], ";".join(tags.get(r[0], [])), r[16], other, *r[18:]]
                + [custom.get(k) for k in keys]
            )
        yield rows


def _products(session: Session, filters: dict[str, Any]) -> Iterator[list[list[Any]]]:
    p = Product
    stmt = select(
        p.id, p.external_id, p.name, p.category, p.unit_price, p.unit_cost, p.is_active
    ).order_by(p.id)
    stmt = _restrict(stmt, p, product_filter(**filters))
    yield [PRODUCT_HEADER]
    for part in _stream(session, stmt):
        yield [r[1:] for r in part]


def _lines(session: Session, filters: dict[str, Any], totals: bool) -> Iterator[list[list[Any]]]:
    o, ln = Order, OrderLine
    cols = [
        o.external_id, Customer.external_id, o.ordered_at, o.status, o.channel, o.discount,
        ln.line_no, Product.external_id, ln.quantity, ln.unit_price, ln.unit_cost, ln.discount,
    ]  # fmt: skip
    if totals:
        cols += [o.revenue, o.cost, o.profit, o.refunded]
    stmt = (
        select(*cols)
        .select_from(ln)
        .join(o, o.id == ln.order_id)
        .join(Customer, Customer.id == o.customer_id)
        .join(Product, Product.id == ln.product_id)
        .order_by(o.id, ln.line_no, ln.id)
    )
    filtered = order_filter(**filters)
    if filtered.whereclause is not None:
        stmt = stmt.where(o.id.in_(filtered.with_only_columns(o.id)))
    yield [ORDER_HEADER if totals else LINE_HEADER]
    yield from _stream(session, stmt)


def _touchpoints(session: Session, filters: dict[str, Any]) -> Iterator[list[list[Any]]]:
    t = Touchpoint
    owner = aliased(User)
    stmt = (
        select(
            t.id,
            t.external_id,
            Customer.external_id,
            t.occurred_at,
            t.channel,
            t.stage,
            t.direction,
            t.outcome,
            owner.username,
            t.note,
        )  # fmt: skip
        .join(Customer, Customer.id == t.customer_id)
        .outerjoin(owner, owner.id == t.owner_id)
        .order_by(t.id)
    )
    stmt = _restrict(stmt, t, touchpoint_filter(**filters))
    yield [TOUCHPOINT_HEADER]
    for part in _stream(session, stmt):
        yield [r[1:] for r in part]


def export_batches(
    session: Session, entity: str, filters: dict[str, Any]
) -> Iterator[list[list[Any]]]:
    """Batches of raw rows (the header alone first) for customers, products, orders, order
    lines or touchpoints filtered like their list service; the web lists write them as CSV or
    XLSX."""
    if entity == "customers":
        return _customers(session, filters)
    if entity == "products":
        return _products(session, filters)
    if entity == "orders":
        return _lines(session, filters, totals=True)
    if entity == "order_lines":
        return _lines(session, filters, totals=False)
    return _touchpoints(session, filters)


def csv_chunks(batches: Iterator[list[list[Any]]]) -> Iterator[str]:
    """The one CSV writer of every export (files, web and API downloads): a chunk of text per
    batch of rows, UTF-8 BOM first (spreadsheet programs then read Chinese correctly), CRLF
    line ends, each value written by ``cell`` (formula-looking text neutralised)."""
    first = True
    for batch in batches:
        text = _csv(batch)
        yield (BOM + text) if first else text
        first = False


def export(session: Session, entity: str, filters: dict[str, Any]) -> Iterator[str]:
    """CSV text chunks (header first) for ``entity`` filtered like its list service."""
    return csv_chunks(export_batches(session, entity, filters))


def custom_field_keys(session: Session) -> list[str]:
    """The keys of the custom field columns a customer export writes (``CUSTOM_KEYS``)."""
    return [d.key for d in definitions(session)]
