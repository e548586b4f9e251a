"""Touchpoint JSON API."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response

from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.touchpoints import service
from retento.touchpoints.schemas import TouchpointCreate, TouchpointRead, TouchpointUpdate

router = APIRouter(prefix="/api/v1/touchpoints", tags=["touchpoints"])


@router.get("", response_model=Page[TouchpointRead])
def list_touchpoints(
    session: DbSession,
    user: CurrentUser,
    customer_id: int | None = None,
    channel: str | None = None,
    stage: str | None = None,
    direction: str | None = None,
    outcome: str | None = None,
    owner_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    rows, total = service.list_touchpoints(
        session,
        actor=user,
        customer_id=customer_id,
        channel=channel,
        stage=stage,
        direction=direction,
        outcome=outcome,
        owner_id=owner_id,
        since=since,
        until=until,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[TouchpointRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("", response_model=TouchpointRead, status_code=201)
def create_touchpoint(data: TouchpointCreate, session: DbSession, user: CurrentUser):
    return service.create_touchpoint(session, data, actor=user)


@router.get("/{touchpoint_id}", response_model=TouchpointRead)
def get_touchpoint(touchpoint_id: int, session: DbSession, user: CurrentUser):
    return service.get_touchpoint(session, touchpoint_id, actor=user)


@router.patch("/{touchpoint_id}", response_model=TouchpointRead)
def update_touchpoint(
    touchpoint_id: int, data: TouchpointUpdate, session: DbSession, user: CurrentUser
):
    return service.update_touchpoint(session, touchpoint_id, data, actor=user)


@router.delete("/{touchpoint_id}", status_code=204)
def delete_touchpoint(touchpoint_id: int, session: DbSession, user: CurrentUser):
    service.delete_touchpoint(session, touchpoint_id, actor=user)
    return Response(status_code=204)
