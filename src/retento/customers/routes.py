"""Customer JSON API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.customers import service
from retento.customers.schemas import CustomerCreate, CustomerRead, CustomerUpdate

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("", response_model=Page[CustomerRead])
def list_customers(
    session: DbSession,
    user: CurrentUser,
    q: str | None = Query(None, description="Name prefix, external id, email, phone or id."),
    kind: str | None = None,
    scope: Literal["external", "internal"] | None = None,
    tag: str | None = None,
    owner_id: int | None = None,
    party_type: Literal["person", "organisation"] | None = None,
    mine: bool = Query(False, description="Only customers I own or am assigned to."),
    sort: str | None = Query(
        None, description="Field or -field: id, name, kind, external_id, created_at."
    ),
    limit: int = 50,
    offset: int = 0,
):
    rows, total = service.list_customers(
        session,
        actor=user,
        q=q,
        kind=kind,
        scope=scope,
        tag=tag,
        owner_id=owner_id,
        party_type=party_type,
        mine_for=user if mine else None,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[CustomerRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("", response_model=CustomerRead, status_code=201)
def create_customer(data: CustomerCreate, session: DbSession, user: CurrentUser):
    return service.create_customer(session, data, actor=user)


@router.get("/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: int, session: DbSession, user: CurrentUser):
    return service.get_customer(session, customer_id, actor=user)


@router.patch("/{customer_id}", response_model=CustomerRead)
def update_customer(customer_id: int, data: CustomerUpdate, session: DbSession, user: CurrentUser):
    return service.update_customer(session, customer_id, data, actor=user)


@router.delete("/{customer_id}", status_code=204)
def delete_customer(customer_id: int, session: DbSession, user: CurrentUser):
    service.delete_customer(session, customer_id, actor=user)
    return Response(status_code=204)
