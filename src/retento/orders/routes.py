"""Order JSON API (lines are part of the order; refunds are added to it)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset, TimeFilter
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.orders import service
from retento.orders.schemas import OrderCreate, OrderRead, OrderUpdate, RefundCreate, RefundRead

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


@router.get("", response_model=Page[OrderRead])
def list_orders(
    session: DbSession,
    user: CurrentUser,
    customer_id: DbId | None = None,
    status: str | None = None,
    channel: str | None = None,
    since: TimeFilter | None = None,
    until: TimeFilter | None = None,
    external_id: str | None = None,
    sort: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = service.list_orders(
        session,
        actor=user,
        customer_id=customer_id,
        status=status,
        channel=channel,
        since=since,
        until=until,
        external_id=external_id,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[OrderRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post("", response_model=OrderRead, status_code=201)
def create_order(
    data: OrderCreate,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    return service.create_order(session, data, actor=user, idempotency_key=idempotency_key)


@router.get("/{order_id}", response_model=OrderRead)
def get_order(order_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    """One order; the ``ETag`` header carries its version for ``If-Match``."""
    o = service.get_order(session, order_id, actor=user)
    set_etag(response, o)
    return o


@router.patch("/{order_id}", response_model=OrderRead)
def update_order(
    order_id: DbId,
    data: OrderUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change the fields sent (lines are replaced); a stale ``If-Match`` or ``version`` gets 409."""
    o = service.update_order(
        session, order_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, o)
    return o


@router.post("/{order_id}/refunds", response_model=RefundRead, status_code=201)
def add_refund(
    order_id: DbId,
    data: RefundCreate,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    return service.add_refund(session, order_id, data, actor=user, idempotency_key=idempotency_key)


@router.delete("/{order_id}", status_code=204)
def delete_order(order_id: DbId, session: DbSession, user: CurrentUser, if_match: IfMatch = None):
    """Delete an order entered by mistake (204); a stale ``If-Match`` gets 409, nothing deleted."""
    service.delete_order(session, order_id, actor=user, version=parse_if_match(if_match))
    return Response(status_code=204)
