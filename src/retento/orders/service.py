"""Order state changes and queries; totals always come from ``totals.order_totals``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.core.errors import Conflict, FieldError, InvalidInput, Msg, Named, NotFound
from retento.core.hooks import emit
from retento.core.idempotency import KEY_REUSED, insert_keyed, keyed_row
from retento.core.locking import lock_row
from retento.core.money import MAX_MONEY, ZERO, money_text
from retento.core.pagination import apply_sort, paginate
from retento.core.validation import check_not_future, clean_idempotency_key
from retento.core.versioning import check_version
from retento.customers.guard import hold_customer
from retento.customers.lookup import customer_match
from retento.customers.service import referenced_customer, require_customer_change
from retento.orders.models import ORDER_CHANNELS, ORDER_STATUSES, Order, OrderLine, Refund
from retento.orders.schemas import OrderCreate, OrderLineIn, OrderUpdate, RefundCreate
from retento.orders.totals import LineFigures, RefundFigures, order_totals
from retento.products.models import Product
from retento.web.i18n import N_, Formatter
from retento.web.labels import check_code

SORTABLE = {
    "id": Order.id,
    "ordered_at": Order.ordered_at,
    "revenue": Order.revenue,
    "profit": Order.profit,
    "external_id": Order.external_id,
    "status": Order.status,
}


def order_snapshot(o: Order) -> dict:
    return snapshot(
        o,
        {
            "lines": [
                {
                    "product_id": ln.product_id,
                    "quantity": ln.quantity,
                    "unit_price": ln.unit_price,
                    "unit_cost": ln.unit_cost,
                    "discount": ln.discount,
                }
                for ln in o.lines
            ],
            "refunds": [
                {"amount": r.amount, "quantity": r.quantity, "line_id": r.line_id}
                for r in o.refunds
            ],
        },
    )


def recompute(order: Order) -> None:
    """Refresh the order's denormalised revenue, cost, profit and refunded amount."""
    by_id = {ln.id: ln for ln in order.lines}
    t = order_totals(
        (LineFigures(ln.quantity, ln.unit_price, ln.unit_cost, ln.discount) for ln in order.lines),
        order.discount,
        (
            RefundFigures(
                r.amount, (by_id[r.line_id].unit_cost * r.quantity) if r.line_id in by_id else ZERO
            )
            for r in order.refunds
        ),
    )
    if t.gross < 0:
        raise InvalidInput("The discounts are larger than the order's lines.", field="discount")
    if t.refunded > t.gross:
        # A larger discount after refunds would make the refunds exceed what was paid.
        raise InvalidInput(
            Msg(
                "The refunds (%(refunded)s) would exceed the order's amount (%(gross)s).",
                refunded=money_text(t.refunded),
                gross=money_text(t.gross),
            ),
            field="discount",
        )
    for name, value in (
        ("gross", t.gross),
        ("revenue", t.revenue),
        ("cost", t.cost),
        ("profit", t.profit),
    ):
        if abs(value) > MAX_MONEY:
            # Numeric(14, 2) holds at most 999 999 999 999.99; quantity × price can exceed it.
            raise InvalidInput(
                Msg(
                    "The order's %(name)s (%(value)s) exceeds the largest amount stored (%(max)s).",
                    name=Msg(name),
                    value=money_text(value),
                    max=money_text(MAX_MONEY),
                ),
                field="lines",
            )
    order.revenue, order.cost, order.profit, order.refunded = (
        t.revenue,
        t.cost,
        t.profit,
        t.refunded,
    )


def _build_lines(session: Session, lines: list[OrderLineIn]) -> list[OrderLine]:
    ids = {ln.product_id for ln in lines}
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    out, errors = [], []
    for i, ln in enumerate(lines):
        p = products.get(ln.product_id)
        if p is None:
            errors.append(
                FieldError(
                    f"lines.{i}.product_id",
                    Msg(
                        "%(entity)s %(key)s does not exist.",
                        entity=Msg("Product"),
                        key=str(ln.product_id),
                    ),
                )
            )
            continue
        price = p.unit_price if ln.unit_price is None else ln.unit_price
        cost = p.unit_cost if ln.unit_cost is None else ln.unit_cost
        if ln.discount > ln.quantity * price:
            errors.append(
                FieldError(f"lines.{i}.discount", Msg("The discount exceeds the line amount."))
            )
            continue
        out.append(
            OrderLine(
                line_no=i + 1,
                product_id=p.id,
                quantity=ln.quantity,
                unit_price=price,
                unit_cost=cost,
                discount=ln.discount,
            )
        )
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)
    return out


def _check_external_id(
    session: Session, external_id: str | None, own_id: int | None = None
) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Order.id).where(Order.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            Msg(
                "external_id '%(value)s' is already used by order %(id)s.",
                value=external_id,
                id=other,
            ),
            field="external_id",
        )


def get_order(session: Session, order_id: int, *, actor: User) -> Order:
    require(actor, "order:read")
    o = session.get(Order, order_id)
    if o is None:
        raise NotFound("Order", order_id)
    return o


def lock_order(session: Session, order_id: int) -> Order:
    """The order locked for a change (``core.locking.lock_row``), its customer held ``FOR
    SHARE`` first (``customers.guard.hold_customer``).

    A merge locks the customers, moves the points (the loyalty wallets) and then the orders;
    a refund, edit or delete that locked the order first and then reached for the wallet (its
    points clawed back) would deadlock with it. Taken customer first, the change waits for the
    merge and then finds the order on the survivor, whose row it holds in turn."""
    customer_id = session.scalar(select(Order.customer_id).where(Order.id == order_id))
    while customer_id is not None:
        hold_customer(session, customer_id)
        o = lock_row(session, Order, order_id)
        if o is None or o.customer_id == customer_id:
            break
        customer_id = o.customer_id  # moved by a merge while this waited
    else:
        o = None
    if o is None:
        raise NotFound("Order", order_id)
    return o


def _same_order(customer_id: int, data: OrderCreate):
    """Whether the order recorded with a key was made from these details: the customer, the
    order discount and each line's product, quantity, discount and the prices given (a page
    sent again after Back with another quantity typed in is not the same order)."""
    wanted = [
        (ln.product_id, ln.quantity, ln.discount, ln.unit_price, ln.unit_cost) for ln in data.lines
    ]

    def same(o: Order) -> bool:
        lines = sorted(o.lines, key=lambda ln: ln.line_no)
        if o.customer_id != customer_id or o.discount != data.discount:
            return False
        # A price left out is the product's: any stored one matches it.
        return len(lines) == len(wanted) and all(
            (ln.product_id, ln.quantity, ln.discount) == (product, quantity, discount)
            and price in (None, ln.unit_price)
            and cost in (None, ln.unit_cost)
            for ln, (product, quantity, discount, price, cost) in zip(lines, wanted, strict=True)
        )

    return same


def create_order(
    session: Session, data: OrderCreate, *, actor: User, idempotency_key: str | None = None
) -> Order:
    """Create an order with its lines; unit price and cost default to the product's.

    With ``idempotency_key`` (the new-order form's key, the API's ``Idempotency-Key``) a
    repeated request (a double click, a retry) returns the order the first one recorded; two at
    once meet at the key's unique index and the later one returns the earlier one's order. The
    same key with another customer or other lines is a 409 naming ``Idempotency-Key``.
    """
    customer = referenced_customer(session, data.customer_id)
    require_customer_change(actor, customer, "order:create")
    key = clean_idempotency_key(idempotency_key)
    if key and (done := keyed_row(session, Order, key, _same_order(customer.id, data))):
        return done
    _check_external_id(session, data.external_id)
    o = Order(
        external_id=data.external_id,
        customer_id=customer.id,
        ordered_at=data.ordered_at,
        status=data.status,
        channel=data.channel,
        discount=data.discount,
        note=data.note,
        idempotency_key=key,
    )
    o.lines = _build_lines(session, data.lines)
    recompute(o)
    o, created = insert_keyed(session, o, key, _same_order(customer.id, data))
    if not created:
        return o
    record(session, actor, "create", "order", o.id, None, order_snapshot(o))
    emit("order.created", session, order=o, actor=actor)
    return o


def update_order(
    session: Session,
    order_id: int,
    data: OrderUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Order:
    """Change the fields sent (lines are replaced); a stale ``version``/If-Match gets 409."""
    require(actor, "order:read")
    o = lock_order(session, order_id)
    require_customer_change(actor, o.customer, "order:update")
    check_version(o, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("ordered_at", "status", "channel", "discount"):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    if "external_id" in changes:
        _check_external_id(session, changes["external_id"], o.id)
    before = order_snapshot(o)
    was_cancelled, revenue_before = o.status == "cancelled", o.revenue
    if was_cancelled and changes.get("status", "cancelled") != "cancelled":
        # Cancelling reversed what the order earned (points clawed back, points spent on it
        # returned); reopening it would leave it paid for with nothing earned. A new order earns.
        raise Conflict(
            "A cancelled order cannot be reopened; record a new order instead.", field="status"
        )
    if changes.get("ordered_at") is not None and o.refunds:
        first = min(r.refunded_at for r in o.refunds)
        if first < changes["ordered_at"].replace(second=0, microsecond=0):
            raise InvalidInput(
                Msg(
                    "An order cannot be dated after its first refund (%(refunded)s).",
                    refunded=_when(first),
                ),
                field="ordered_at",
            )
    if "lines" in changes:
        if o.refunds:
            raise Conflict("An order with refunds cannot have its lines replaced.", field="lines")
        o.lines = _build_lines(session, data.lines or [])
        changes.pop("lines")
    for key, value in changes.items():
        setattr(o, key, value)
    recompute(o)
    session.flush()
    record(session, actor, "update", "order", o.id, before, order_snapshot(o))
    # Cancelling the order, or cancelling/reducing lines, reverses what it earned like a refund;
    # more paid than before earns the difference (subscribers in other domains, e.g. loyalty;
    # orders never import them).
    if o.status == "cancelled" and not was_cancelled:
        emit("order.cancelled", session, order=o, actor=actor)
    elif o.status != "cancelled" and o.revenue != revenue_before:
        emit("order.changed", session, order=o, actor=actor)
    return o


@cache
def _formatters(timezone: str) -> tuple[Formatter, Formatter]:
    return Formatter("en", timezone), Formatter("zh_CN", timezone)


def _when(value: datetime) -> Named:
    """A timestamp inside a message as the pages write it, in each language and the
    installation's time zone ("Apr 12, 2026, 2:30 PM" / "2026年4月12日 14:30")."""
    en, zh = _formatters(get_settings().timezone)
    return Named(en.datetime(value, "short"), zh_CN=zh.datetime(value, "short"))


def _placed(order: Order) -> datetime:
    """When the order was placed, to the minute: the refund form gives minutes, so a refund
    entered in the order's own minute is not "before" it by the order's seconds."""
    return order.ordered_at.replace(second=0, microsecond=0)


def _check_refund_time(order: Order, refunded_at: datetime | None) -> None:
    """A refund happens after its order was placed and not later than now (``FUTURE_SLACK``);
    without a time it is dated now."""
    now = utcnow()
    check_not_future(refunded_at, "refunded_at", now)
    if (refunded_at or now) < _placed(order):
        raise InvalidInput(
            Msg(
                "A refund cannot be dated before its order was placed (%(ordered)s).",
                ordered=_when(order.ordered_at),
            ),
            field="refunded_at",
        )


def add_refund(
    session: Session,
    order_id: int,
    data: RefundCreate,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> Refund:
    """Refund money (and optionally returned units of one line); never more than was paid.

    The order row is locked first, so refunds of one order run one after the other and each
    checks what remains against the refunds committed before it (docs/security.md "Races").
    With ``idempotency_key`` (the order page's form key, the API's ``Idempotency-Key``) a
    repeated request (a double click, a retry) returns the refund the first one recorded; the
    same key with another amount, line or quantity is a 409 naming ``Idempotency-Key``.
    """
    require(actor, "order:read")
    o = lock_order(session, order_id)
    require_customer_change(actor, o.customer, "order:update")
    idempotency_key = clean_idempotency_key(idempotency_key)
    if idempotency_key:
        done = next((r for r in o.refunds if r.idempotency_key == idempotency_key), None)
        if done is not None:
            # The same key with another amount or line is another refund, not a retry.
            if (done.amount, done.line_id, done.quantity) != (
                data.amount,
                data.line_id,
                data.quantity,
            ):
                raise Conflict(KEY_REUSED, field="Idempotency-Key")
            return done
    _check_refund_time(o, data.refunded_at)
    before = order_snapshot(o)
    if data.quantity and data.line_id is None:
        raise InvalidInput("Returned units need the line they belong to.", field="line_id")
    if data.line_id is not None:
        line = next((ln for ln in o.lines if ln.id == data.line_id), None)
        if line is None:
            raise InvalidInput(
                Msg("Line %(line)s is not on order %(order)s.", line=data.line_id, order=o.id),
                field="line_id",
            )
        returned = sum(r.quantity for r in o.refunds if r.line_id == line.id)
        if data.quantity > line.quantity - returned:
            raise InvalidInput(
                Msg(
                    "Only %(n)s units of line %(line)s can still be returned.",
                    n=line.quantity - returned,
                    line=line.line_no,
                ),
                field="quantity",
            )
    if data.amount > o.revenue:
        raise InvalidInput(
            Msg(
                "The refund exceeds what remains paid on the order (%(paid)s).",
                paid=money_text(o.revenue),
            ),
            field="amount",
        )
    r = Refund(
        amount=data.amount,
        line_id=data.line_id,
        quantity=data.quantity,
        reason=data.reason,
        idempotency_key=idempotency_key or None,
    )
    if data.refunded_at is not None:
        r.refunded_at = data.refunded_at
    o.refunds.append(r)
    recompute(o)
    session.flush()
    record(session, actor, "update", "order", o.id, before, order_snapshot(o))
    emit("order.refunded", session, order=o, refund=r, actor=actor)
    return r


def delete_order(
    session: Session, order_id: int, *, actor: User, version: int | None = None
) -> None:
    """Delete an order entered by mistake. What it earned is reversed first, as when it is
    cancelled (subscribers of ``order.cancelled``: loyalty claws its points back and returns
    points spent on it), so nothing stays credited for an order that no longer exists. An
    order with refunds is refused: money was paid back against it. A stale ``version``
    (If-Match, the page's hidden input) gets 409 and deletes nothing."""
    o = lock_order(session, order_id)
    require_customer_change(actor, o.customer, "order:delete")
    check_version(o, version)
    if o.refunds:
        raise Conflict(
            "An order with refunds cannot be deleted; cancel it instead.", field="order_id"
        )
    before = order_snapshot(o)
    if o.status != "cancelled":
        o.status = "cancelled"
        recompute(o)
        session.flush()
        emit("order.cancelled", session, order=o, actor=actor)
    session.delete(o)
    session.flush()
    record(session, actor, "delete", "order", order_id, before, None)


def order_filter(
    *,
    customer_id: int | None = None,
    status: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    external_id: str | None = None,
    customer_q: str | None = None,
    min_amount: Decimal | None = None,
    max_amount: Decimal | None = None,
):
    """Orders matching every filter given; ``customer_q`` is part of the customer's name or
    external id, the amounts bound the order's revenue (both ends included). An unknown status
    or channel is a 422 naming it."""
    check_code("status", N_("Status"), status, ORDER_STATUSES)
    check_code("channel", N_("Channel"), channel, ORDER_CHANNELS)
    stmt = select(Order)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if customer_q:
        stmt = stmt.where(Order.customer_id.in_(customer_match(customer_q)))
    if min_amount is not None:
        stmt = stmt.where(Order.revenue >= min_amount)
    if max_amount is not None:
        stmt = stmt.where(Order.revenue <= max_amount)
    if status:
        stmt = stmt.where(Order.status == status)
    if channel:
        stmt = stmt.where(Order.channel == channel)
    if since:
        stmt = stmt.where(Order.ordered_at >= since)
    if until:
        stmt = stmt.where(Order.ordered_at < until)
    if external_id:
        stmt = stmt.where(Order.external_id == external_id)
    return stmt


def list_orders(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    **filters,
):
    require(actor, "order:read")
    stmt = apply_sort(order_filter(**filters), sort, SORTABLE, Order.id)
    stmt = stmt.options(selectinload(Order.lines), selectinload(Order.refunds))
    return paginate(session, stmt, limit=limit, offset=offset)
