"""Touchpoint JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Response

from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset, TimeFilter
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.touchpoints import service
from retento.touchpoints.schemas import TouchpointCreate, TouchpointRead, TouchpointUpdate

router = APIRouter(prefix="/api/v1/touchpoints", tags=["touchpoints"])


@router.get("", response_model=Page[TouchpointRead])
def list_touchpoints(
    session: DbSession,
    user: CurrentUser,
    customer_id: DbId | None = None,
    channel: str | None = None,
    stage: str | None = None,
    direction: str | None = None,
    outcome: str | None = None,
    owner_id: DbId | None = None,
    since: TimeFilter | None = None,
    until: TimeFilter | None = None,
    sort: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
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
def create_touchpoint(
    data: TouchpointCreate,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    """Record a touchpoint; a retry with the same ``Idempotency-Key`` returns the first one."""
    return service.create_touchpoint(session, data, actor=user, idempotency_key=idempotency_key)


@router.get("/{touchpoint_id}", response_model=TouchpointRead)
def get_touchpoint(touchpoint_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    """One touchpoint; the ``ETag`` header carries its version for ``If-Match``."""
    t = service.get_touchpoint(session, touchpoint_id, actor=user)
    set_etag(response, t)
    return t


@router.patch("/{touchpoint_id}", response_model=TouchpointRead)
def update_touchpoint(
    touchpoint_id: DbId,
    data: TouchpointUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change the fields sent; a stale ``If-Match`` or ``version`` gets 409."""
    t = service.update_touchpoint(
        session, touchpoint_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, t)
    return t


@router.delete("/{touchpoint_id}", status_code=204)
def delete_touchpoint(
    touchpoint_id: DbId, session: DbSession, user: CurrentUser, if_match: IfMatch = None
):
    """Delete a touchpoint (204); a stale ``If-Match`` gets 409 and deletes nothing."""
    service.delete_touchpoint(session, touchpoint_id, actor=user, version=parse_if_match(if_match))
    return Response(status_code=204)
