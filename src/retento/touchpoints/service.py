"""Touchpoint state changes and queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.idempotency import insert_keyed, keyed_row
from retento.core.pagination import apply_sort, paginate
from retento.core.validation import check_not_future, clean_idempotency_key
from retento.core.versioning import lock_for_edit
from retento.customers.lookup import customer_match
from retento.customers.service import referenced_customer, require_customer_change
from retento.touchpoints.models import CHANNELS, DIRECTIONS, OUTCOMES, STAGES, Touchpoint
from retento.touchpoints.schemas import TouchpointCreate, TouchpointUpdate
from retento.web.i18n import N_
from retento.web.labels import check_code

SORTABLE = {
    "id": Touchpoint.id,
    "occurred_at": Touchpoint.occurred_at,
    "channel": Touchpoint.channel,
    "stage": Touchpoint.stage,
}


def get_touchpoint(session: Session, touchpoint_id: int, *, actor: User) -> Touchpoint:
    require(actor, "touchpoint:read")
    t = session.get(Touchpoint, touchpoint_id)
    if t is None:
        raise NotFound("Touchpoint", touchpoint_id)
    return t


def _check_external_id(
    session: Session, external_id: str | None, own_id: int | None = None
) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Touchpoint.id).where(Touchpoint.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            Msg(
                "external_id '%(value)s' is already used by touchpoint %(id)s.",
                value=external_id,
                id=other,
            ),
            field="external_id",
        )


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is not None:
        u = session.get(User, owner_id)
        if u is None or not u.is_active:
            raise InvalidInput(
                Msg("User %(id)s does not exist or is inactive.", id=owner_id), field="owner_id"
            )


def _same_touchpoint(data: TouchpointCreate):
    details = (data.customer_id, data.channel, data.stage, data.note)
    return lambda t: (t.customer_id, t.channel, t.stage, t.note) == details


def create_touchpoint(
    session: Session,
    data: TouchpointCreate,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> Touchpoint:
    """Record an interaction; the actor is its owner unless another is named.

    With ``idempotency_key`` (the form's key, the API's ``Idempotency-Key``) a repeated request
    (a double click, a retry) returns the touchpoint the first one recorded; the same key with
    another customer, channel, stage or note is a 409 (core.idempotency)."""
    customer = referenced_customer(session, data.customer_id)
    require_customer_change(actor, customer, "touchpoint:create")
    key = clean_idempotency_key(idempotency_key)
    if key and (done := keyed_row(session, Touchpoint, key, _same_touchpoint(data))):
        return done
    check_not_future(data.occurred_at, "occurred_at", utcnow())
    _check_external_id(session, data.external_id)
    _check_owner(session, data.owner_id)
    values = data.model_dump()
    if values["owner_id"] is None:
        values["owner_id"] = actor.id
    t, created = insert_keyed(
        session, Touchpoint(**values, idempotency_key=key), key, _same_touchpoint(data)
    )
    if created:
        record(session, actor, "create", "touchpoint", t.id, None, snapshot(t))
    return t


def update_touchpoint(
    session: Session,
    touchpoint_id: int,
    data: TouchpointUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Touchpoint:
    """Change the fields sent; a stale ``version``/If-Match gets 409 (core.versioning)."""
    t = get_touchpoint(session, touchpoint_id, actor=actor)
    require_customer_change(actor, t.customer, "touchpoint:update")
    lock_for_edit(session, t, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("occurred_at", "channel", "stage", "direction", "outcome"):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    check_not_future(changes.get("occurred_at"), "occurred_at", utcnow())
    if "external_id" in changes:
        _check_external_id(session, changes["external_id"], t.id)
    if "owner_id" in changes:
        _check_owner(session, changes["owner_id"])
    before = snapshot(t)
    for key, value in changes.items():
        setattr(t, key, value)
    session.flush()
    record(session, actor, "update", "touchpoint", t.id, before, snapshot(t))
    return t


def delete_touchpoint(
    session: Session, touchpoint_id: int, *, actor: User, version: int | None = None
) -> None:
    """Delete a touchpoint; a stale ``version`` (If-Match) gets 409 and deletes nothing."""
    t = get_touchpoint(session, touchpoint_id, actor=actor)
    require_customer_change(actor, t.customer, "touchpoint:delete")
    lock_for_edit(session, t, version)
    before = snapshot(t)
    session.delete(t)
    session.flush()
    record(session, actor, "delete", "touchpoint", touchpoint_id, before, None)


def touchpoint_filter(
    *,
    customer_id: int | None = None,
    channel: str | None = None,
    stage: str | None = None,
    direction: str | None = None,
    outcome: str | None = None,
    owner_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    customer_q: str | None = None,
):
    """Touchpoints matching every filter given; ``customer_q`` is part of the customer's name
    or external id. An unknown channel, stage, direction or outcome is a 422 naming it."""
    check_code("channel", N_("Channel"), channel, CHANNELS)
    check_code("stage", N_("Journey stage"), stage, STAGES)
    check_code("direction", N_("Direction"), direction, DIRECTIONS)
    check_code("outcome", N_("Outcome"), outcome, OUTCOMES)
    stmt = select(Touchpoint)
    if customer_q:
        stmt = stmt.where(Touchpoint.customer_id.in_(customer_match(customer_q)))
    for col, val in (
        (Touchpoint.customer_id, customer_id),
        (Touchpoint.channel, channel),
        (Touchpoint.stage, stage),
        (Touchpoint.direction, direction),
        (Touchpoint.outcome, outcome),
        (Touchpoint.owner_id, owner_id),
    ):
        if val is not None and val != "":
            stmt = stmt.where(col == val)
    if since:
        stmt = stmt.where(Touchpoint.occurred_at >= since)
    if until:
        stmt = stmt.where(Touchpoint.occurred_at < until)
    return stmt


def list_touchpoints(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    **filters,
):
    require(actor, "touchpoint:read")
    stmt = apply_sort(touchpoint_filter(**filters), sort, SORTABLE, Touchpoint.id)
    return paginate(session, stmt, limit=limit, offset=offset)
