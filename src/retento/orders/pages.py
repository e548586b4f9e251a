"""Web pages: enter an order with lines for a customer, see, edit or delete an order, list recent
orders on the 360."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import Conflict, FieldError, InvalidInput, RetentoError
from retento.core.validation import DbId
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.customers.service import (
    can_change_customer,
    get_customer,
    require_customer_change,
)
from retento.orders import service
from retento.orders.models import ORDER_CHANNELS, ORDER_STATUSES, Order
from retento.orders.schemas import OrderCreate, OrderRead, OrderUpdate, RefundCreate
from retento.products.models import Product
from retento.touchpoints.forms import local_now, parse_local
from retento.web.conflict import (
    STALE,
    conflict_page,
    delete_conflict_page,
    form_base,
    form_version,
    read_base,
)
from retento.web.forms import PageForm
from retento.web.i18n import N_, Formatter
from retento.web.labels import label_msgid, register_field_labels, register_value_labels
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

router = page_router()

LINE_ROWS = 3
PICKER_LIMIT = 1000


PANEL_ROWS = 10


@cache
def _recent_orders_stmt() -> Any:
    """The panel's query, built once (building it and its cache key cost about as much CPU as
    running it); the customer is a parameter."""
    return (
        select(
            Order.id,
            Order.external_id,
            Order.ordered_at,
            Order.status,
            Order.channel,
            Order.revenue,
            Order.profit,
            Order.refunded,
            func.count().over().label("total"),
        )
        .where(Order.customer_id == bindparam("customer_id", type_=Order.customer_id.type))
        .order_by(Order.ordered_at.desc(), Order.id)
        .limit(PANEL_ROWS)
    )


def _recent_orders(request: Request, session: Session, customer: Customer, user: User) -> dict:
    """The customer's 10 newest orders and how many there are, in one query of plain rows (the
    panel shows no lines or refunds, so no order objects are built)."""
    require(user, "order:read")
    rows = session.execute(_recent_orders_stmt(), {"customer_id": customer.id}).all()
    return {"orders": rows, "total": rows[0].total if rows else 0, "customer": customer}


register_panel(
    Panel(
        key="orders",
        title=N_("Recent orders"),
        template="orders/_panel.html",
        load=_recent_orders,
        permission="order:read",
        order=10,
        slot="main",
    )
)


def _products(session: Session) -> list[Product]:
    """Active products for the picker, by name."""
    return list(
        session.scalars(
            select(Product)
            .where(Product.is_active.is_(True))
            .order_by(Product.name)
            .limit(PICKER_LIMIT)
        )
    )


def _render_form(
    request: Request,
    session: Session,
    customer: Customer,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    order: Order | None = None,
    base: dict[str, Any] | None = None,
) -> Response:
    """The order form: a new order for ``customer``, or the edit form of ``order``, which
    carries the values it was loaded with (``base``, for the stale-edit page), kept when it
    comes back with errors."""
    return render(
        request,
        "orders/form.html",
        status_code=status_code,
        customer=customer,
        order=order,
        lines_locked=bool(order is not None and order.refunds),
        form=form,
        errors=errors or {},
        products=_products(session),
        statuses=[(s, tr(request, label_msgid("status", s))) for s in ORDER_STATUSES],
        channels=[(c, tr(request, label_msgid("channel", c))) for c in ORDER_CHANNELS],
        order_key=uuid.uuid4().hex,  # a new order's idempotency key
        base=base if base is not None or order is None else _posted(request, order),
    )


@router.get("/customers/{customer_id:int}/orders/new")
def order_new(request: Request, session: DbSession, user: PageUser, customer_id: DbId) -> Response:
    """The order form: lines with a product picker; prices default to the product's."""
    customer = get_customer(session, customer_id, actor=user)
    require_customer_change(user, customer, "order:create")
    form = {
        "ordered_at": local_now(request),
        "status": "completed",
        "channel": "store",
        "lines": [{} for _ in range(LINE_ROWS)],
    }
    return _render_form(request, session, customer, form)


def _parse(request: Request, form: Any, customer_id: DbId) -> tuple[dict, dict, list[FieldError]]:
    get = lambda k: str(form.get(k) or "").strip()  # noqa: E731
    shown: dict[str, Any] = {
        k: get(k) for k in ("ordered_at", "status", "channel", "discount", "external_id", "note")
    }
    problems: list[FieldError] = []
    data: dict[str, Any] = {
        "customer_id": customer_id,
        "status": shown["status"] or "completed",
        "channel": shown["channel"] or "store",
        "discount": shown["discount"] or "0",
        "external_id": shown["external_id"] or None,
        "note": shown["note"] or None,
    }
    try:
        data["ordered_at"] = parse_local(request, shown["ordered_at"], "ordered_at")
    except InvalidInput as exc:
        problems.append(FieldError("ordered_at", exc.message))
    lines, shown_lines, index = [], [], []
    i = 0
    while f"lines.{i}.product_id" in form:
        row = {
            k: get(f"lines.{i}.{k}") for k in ("product_id", "quantity", "unit_price", "discount")
        }
        shown_lines.append(row)
        if any(row.values()):
            line: dict[str, Any] = {
                "product_id": row["product_id"] or None,
                "quantity": row["quantity"] or ("1" if row["product_id"] else None),
                "discount": row["discount"] or "0",
            }
            if row["unit_price"]:
                line["unit_price"] = row["unit_price"]
            lines.append(line)
            index.append(i)
        i += 1
    data["lines"] = lines
    shown["lines"] = shown_lines or [{}]
    shown["_index"] = index
    return data, shown, problems


def _line_errors(errors: dict[str, str], index: list[int]) -> dict[str, str]:
    """Schema line numbers count only filled rows; point the messages at the form's rows."""
    out = {}
    for key, msg in errors.items():
        parts = key.split(".")
        if (
            len(parts) == 3
            and parts[0] == "lines"
            and parts[1].isdigit()
            and int(parts[1]) < len(index)
        ):
            key = f"lines.{index[int(parts[1])]}.{parts[2]}"
        elif key == "lines":
            key = "lines.0.product_id"
        out[key] = msg
    return out


@router.post("/customers/{customer_id:int}/orders/new")
def order_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Create the order; on any error the form comes back with messages and nothing is saved."""
    customer = get_customer(session, customer_id, actor=user)
    data, shown, problems = _parse(request, form, customer.id)
    shown["order_key"] = str(form.get("order_key") or "").strip()[:120]  # kept on a retry
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        if not data["lines"]:
            raise InvalidInput(tr(request, "Add at least one line."), field="lines")
        # The key drawn with the form: a double click or a resubmitted page saves one order.
        key = str(form.get("order_key") or "").strip()[:120] or None
        order = service.create_order(session, OrderCreate(**data), actor=user, idempotency_key=key)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        customer = get_customer(session, customer_id, actor=user)
        errors = _line_errors(form_errors(request, exc), shown["_index"])
        if "customer_id" in errors:  # the page's customer (merged meanwhile): no input of its own
            errors.setdefault("", errors.pop("customer_id"))
        return _render_form(request, session, customer, shown, errors, 422)
    flash(request, tr(request, "Order #%(id)s was saved.", id=order.id))
    return redirect(request, f"/customers/{customer.id}")


def _detail(
    request: Request,
    order: Order,
    refund: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    user = request.state.viewer
    return render(
        request,
        "orders/detail.html",
        status_code=status_code,
        order=order,
        customer=order.customer,
        can_change=can_change_customer(user, order.customer),
        order_lines=[
            (str(ln.id), f"#{ln.line_no} {ln.product.name} × {ln.quantity}") for ln in order.lines
        ],
        refund=refund or {},
        errors=errors or {},
        refund_key=uuid.uuid4().hex,  # a new refund's idempotency key
    )


@router.get("/orders/{order_id:int}")
def order_detail(request: Request, session: DbSession, user: PageUser, order_id: DbId) -> Response:
    """One order with its lines and refunds, and the refund form for those who may change it."""
    return _detail(request, service.get_order(session, order_id, actor=user))


def _local(request: Request, value: Any) -> str:
    tz = ZoneInfo(request.app.state.settings.timezone)
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def _line_key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    """A line as the form shows it, to tell whether the user changed the lines."""

    def money(v: Any) -> str:
        try:
            return str(Decimal(str(v)).quantize(Decimal("0.01"))) if str(v).strip() else ""
        except InvalidOperation:
            return str(v)

    return (
        str(row.get("product_id") or ""),
        str(row.get("quantity") or ""),
        money(row.get("unit_price") or ""),
        money(row.get("discount") or "0"),
    )


def _order_form(request: Request, order: Order) -> dict[str, Any]:
    lines = [
        {
            "product_id": str(ln.product_id),
            "quantity": str(ln.quantity),
            "unit_price": str(ln.unit_price),
            "discount": str(ln.discount),
        }
        for ln in order.lines
    ]
    return {
        "ordered_at": _local(request, order.ordered_at),
        "status": order.status,
        "channel": order.channel,
        "discount": str(order.discount),
        "external_id": order.external_id or "",
        "note": order.note or "",
        "lines": [*lines, {}],
        "version": str(order.version),
    }


def _posted(request: Request, order: Order) -> dict[str, str]:
    """The order as its edit form posts it unchanged (input name → value): the form's hidden
    base of a three-way stale-edit page (``web.conflict``), read back by ``_parse``."""
    out: dict[str, str] = {}
    for k, v in _order_form(request, order).items():
        if k == "lines":
            for i, row in enumerate(v[:-1]):  # without the blank row for a new line
                out |= {f"lines.{i}.{c}": x for c, x in row.items()}
        elif k != "version":
            out[k] = v
    return out


# Field names of OrderUpdate → labels, for the stale-edit page (web.conflict).
FIELD_LABELS = {
    "ordered_at": N_("Ordered at"),
    "status": N_("Status"),
    "channel": N_("Channel"),
    "discount": N_("Order discount"),
    "external_id": N_("External id"),
    "note": N_("Note"),
    "lines": N_("Lines"),
}
# The order's fields in the audit log's before/after view.
register_field_labels(
    "order",
    {
        **FIELD_LABELS,
        "revenue": N_("Revenue"),
        "cost": N_("Cost"),
        "profit": N_("Profit"),
        "refunded": N_("Refunded"),
    },
)
register_value_labels("order", {"status": "status", "channel": "channel"})


@router.get("/orders/{order_id:int}/edit")
def order_edit(request: Request, session: DbSession, user: PageUser, order_id: DbId) -> Response:
    """The order form filled with the order; lines are locked once a refund exists."""
    order = service.get_order(session, order_id, actor=user)
    require_customer_change(user, order.customer, "order:update")
    return _render_form(request, session, order.customer, _order_form(request, order), order=order)


@router.post("/orders/{order_id:int}/edit")
def order_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, order_id: DbId
) -> Response:
    """Save the changed fields (and the lines, if changed); errors re-show the form."""
    order = service.get_order(session, order_id, actor=user)
    require_customer_change(user, order.customer, "order:update")
    before = _order_form(request, order)
    expected = form_version(form)
    data, shown, problems = _parse(request, form, order.customer_id)
    shown["version"] = str(form.get("version") or "")  # kept: a re-shown form still detects
    data.pop("customer_id")
    if shown["ordered_at"] == before["ordered_at"]:
        data.pop("ordered_at", None)  # unchanged: keep the stored seconds
    old_lines = [_line_key(r) for r in before["lines"] if r]
    if order.refunds or [_line_key(r) for r in data["lines"]] == old_lines:
        data.pop("lines")
    try:
        if problems:
            raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
        if "lines" in data and not data["lines"]:
            raise InvalidInput(tr(request, "Add at least one line."), field="lines")
        update = OrderUpdate(**data)
        service.update_order(session, order.id, update, actor=user, expected_version=expected)
    except STALE:
        session.rollback()
        current = service.get_order(session, order_id, actor=user)

        def read(values: Any) -> dict[str, Any]:
            """Form inputs → the compared values, as the submitted form is read (every field:
            the ones the save left out as unchanged are not compared)."""
            data, _, problems = _parse(request, values, current.customer_id)
            if problems:
                raise InvalidInput(problems[0].message, field=problems[0].field)
            data.pop("customer_id")
            return OrderUpdate(**data).model_dump(exclude_unset=True, exclude={"version"})

        return conflict_page(
            request,
            session,
            entity="order",
            record=current,
            title=f"#{current.id}",
            submitted=update.model_dump(exclude_unset=True, exclude={"version"}),
            current=OrderRead.model_validate(current).model_dump(),
            labels=FIELD_LABELS,
            form=form,
            action=f"/orders/{order_id}/edit",
            reload_url=f"/orders/{order_id}/edit",
            cancel_url=f"/orders/{order_id}",
            expected=expected,
            base=read_base(form, read),
            current_form=_posted(request, current),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        order = service.get_order(session, order_id, actor=user)
        errors = _line_errors(form_errors(request, exc), shown["_index"])
        if order.refunds:
            shown["lines"] = before["lines"]
        customer, base = order.customer, form_base(form)
        return _render_form(request, session, customer, shown, errors, 422, order, base)
    flash(request, tr(request, "Order #%(id)s was updated.", id=order.id))
    return redirect(request, f"/orders/{order.id}")


@router.post("/orders/{order_id:int}/refunds")
def order_refund(
    request: Request, form: PageForm, session: DbSession, user: PageUser, order_id: DbId
) -> Response:
    """Record a refund (money back, optionally units of one line returned)."""
    order = service.get_order(session, order_id, actor=user)
    shown = {
        k: str(form.get(k) or "").strip()
        for k in ("amount", "line_id", "quantity", "reason", "refunded_at", "refund_key")
    }
    try:
        data: dict[str, Any] = {
            "amount": shown["amount"] or None,
            "line_id": shown["line_id"] or None,
            "quantity": shown["quantity"] or 0,
            "reason": shown["reason"] or None,
        }
        if shown["refunded_at"]:
            data["refunded_at"] = parse_local(request, shown["refunded_at"], "refunded_at")
        # The key drawn with the page: a double click or a resubmitted page refunds once.
        key = str(form.get("refund_key") or "").strip()[:120] or None
        refund = service.add_refund(
            session, order.id, RefundCreate(**data), actor=user, idempotency_key=key
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        order = service.get_order(session, order_id, actor=user)
        return _detail(request, order, shown, form_errors(request, exc), 422)
    settings = request.app.state.settings
    fmt = Formatter(request_locale(request), settings.timezone, settings.currency)
    flash(request, tr(request, "Refund of %(amount)s recorded.", amount=fmt.money(refund.amount)))
    return redirect(request, f"/orders/{order.id}")


@router.post("/orders/{order_id:int}/delete")
def order_delete(
    request: Request, form: PageForm, session: DbSession, user: PageUser, order_id: DbId
) -> Response:
    """Delete an order entered by mistake (the API's DELETE: what it earned is reversed first).
    An order with refunds is refused with the reason on its page; one already deleted is a 404.
    A delete from a page loaded before someone else saved the order deletes nothing: 409 saying
    what changed (a form without a version, from a page older than this check, deletes)."""
    order = service.get_order(session, order_id, actor=user)
    customer_id = order.customer_id
    expected = form_version(form)  # a version that is no number: 422, nothing deleted
    try:
        service.delete_order(session, order.id, actor=user, version=expected)
    except STALE:
        session.rollback()
        current = service.get_order(session, order_id, actor=user)
        return delete_conflict_page(
            request,
            session,
            entity="order",
            record_id=current.id,
            title=tr(request, "Order #%(id)s", id=current.id),
            expected=expected,
            version=current.version,
            action=f"/orders/{order_id}/delete",
            reload_url=f"/orders/{order_id}",
            cancel_url=f"/orders/{order_id}",
            labels=FIELD_LABELS,
        )
    except Conflict as exc:
        session.rollback()
        flash(request, error_text(request, exc.message), "error")
        return redirect(request, f"/orders/{order_id}")
    flash(request, tr(request, "Order #%(id)s was deleted.", id=order_id))
    return redirect(request, f"/customers/{customer_id}")


# The order list lives in its own module; its routes join this page router.
from retento.orders import list_pages  # noqa: E402

router.include_router(list_pages.router)
