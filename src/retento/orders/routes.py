"""Order JSON API (lines are part of the order; refunds are added to it)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response

from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.orders import service
from retento.orders.schemas import OrderCreate, OrderRead, OrderUpdate, RefundCreate, RefundRead

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


@router.get("", response_model=Page[OrderRead])
def list_orders(
    session: DbSession,
    user: CurrentUser,
    customer_id: int | None = None,
    status: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    external_id: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
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
def create_order(data: OrderCreate, session: DbSession, user: CurrentUser):
    return service.create_order(session, data, actor=user)


@router.get("/{order_id}", response_model=OrderRead)
def get_order(order_id: int, session: DbSession, user: CurrentUser):
    return service.get_order(session, order_id, actor=user)


@router.patch("/{order_id}", response_model=OrderRead)
def update_order(order_id: int, data: OrderUpdate, session: DbSession, user: CurrentUser):
    return service.update_order(session, order_id, data, actor=user)


@router.post("/{order_id}/refunds", response_model=RefundRead, status_code=201)
def add_refund(order_id: int, data: RefundCreate, session: DbSession, user: CurrentUser):
    return service.add_refund(session, order_id, data, actor=user)


@router.delete("/{order_id}", status_code=204)
def delete_order(order_id: int, session: DbSession, user: CurrentUser):
    service.delete_order(session, order_id, actor=user)
    return Response(status_code=204)
