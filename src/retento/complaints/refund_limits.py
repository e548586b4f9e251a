"""The refunds on a complaint stay within what the customer paid for its order: for a new
refund (``remedies``) and when a complaint is linked to another order (``service``). Apart from
both so neither imports the other."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.complaints.models import Complaint, Remedy
from retento.core.errors import InvalidInput, Msg
from retento.core.locking import lock_row
from retento.core.money import ZERO, money_text


def _refunds_on_order(session: Session, order_id: int, *, excluding: int | None = None) -> Decimal:
    """The refunds given on the complaints about an order (but complaint ``excluding``)."""
    stmt = (
        select(func.coalesce(func.sum(Remedy.amount), 0))
        .join(Complaint, Complaint.id == Remedy.complaint_id)
        .where(Complaint.order_id == order_id, Remedy.compensation_type == "refund")
    )
    if excluding is not None:
        stmt = stmt.where(Complaint.id != excluding)
    return Decimal(session.scalar(stmt) or 0).quantize(Decimal("0.01"))


def _paid_for(session: Session, order_id: int) -> Decimal | None:
    """What the customer paid for the order (refunds on the order included), its row locked so
    two complaints about one order, refunded at the same time, check against each other's
    committed refunds; None if the order is gone."""
    from retento.orders.models import Order

    order = lock_row(session, Order, order_id)
    return None if order is None else Decimal(order.revenue) + Decimal(order.refunded)


def check_refund_within_order(session: Session, order_id: int, amount: Decimal) -> None:
    """A refund given on a complaint about an order, with the refunds already given on that
    order's complaints, is at most what the customer paid for the order (99,999 on a 928
    order was recorded and costed)."""
    paid = _paid_for(session, order_id)
    if paid is None:
        return
    given = _refunds_on_order(session, order_id)
    if given + amount > paid:
        raise InvalidInput(
            Msg(
                "The refund exceeds what was paid for order %(order)s: %(paid)s paid, "
                "%(given)s already refunded on its complaints, at most %(left)s more.",
                order=order_id,
                paid=money_text(paid),
                given=money_text(given),
                left=money_text(max(paid - given, ZERO)),
            ),
            field="amount",
        )


def check_order_covers_refunds(session: Session, c: Complaint, order_id: int) -> None:
    """A complaint's refunds still fit when it is linked to another order (unlinking, refunding
    without a limit and linking again went past the order)."""
    mine = sum((r.amount for r in c.remedies if r.compensation_type == "refund"), ZERO)
    if not mine:
        return
    paid = _paid_for(session, order_id)
    if paid is None:
        return
    others = _refunds_on_order(session, order_id, excluding=c.id)
    if mine + others > paid:
        raise InvalidInput(
            Msg(
                "The refunds on this complaint (%(mine)s) and on the other complaints about "
                "order %(order)s (%(others)s) exceed what was paid for it (%(paid)s).",
                mine=money_text(mine),
                order=order_id,
                others=money_text(others),
                paid=money_text(paid),
            ),
            field="order_id",
        )
