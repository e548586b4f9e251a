"""Custom field definitions JSON API (``/api/v1/customer-fields``)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from retento.core.deps import CurrentUser, DbSession
from retento.core.validation import DbId
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.customers import field_defs
from retento.customers.field_defs import (
    FieldDefinitionCreate,
    FieldDefinitionRead,
    FieldDefinitionUpdate,
)

router = APIRouter(prefix="/api/v1/customer-fields", tags=["customers"])


@router.get("", response_model=list[FieldDefinitionRead])
def list_fields(
    session: DbSession,
    user: CurrentUser,
    active: bool = Query(False, description="true: only active fields (the form's)."),
):
    """The defined custom fields of customer records, in display order."""
    return field_defs.list_definitions(session, actor=user, active_only=active)


@router.post("", response_model=FieldDefinitionRead, status_code=201)
def create_field(data: FieldDefinitionCreate, session: DbSession, user: CurrentUser):
    """Define a field (administrators). The key is the idempotency key: the same request sent
    again returns the field; another field with that key is a 409."""
    return field_defs.create_definition(session, data, actor=user)


@router.get("/{definition_id}", response_model=FieldDefinitionRead)
def get_field(definition_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    d = field_defs.get_definition(session, definition_id, actor=user)
    set_etag(response, d)
    return d


@router.patch("/{definition_id}", response_model=FieldDefinitionRead)
def update_field(
    definition_id: DbId,
    data: FieldDefinitionUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change labels, options, required, active (false retires it) and position; the key and
    the type stay. A stale ``If-Match`` or ``version`` gets 409."""
    d = field_defs.update_definition(
        session, definition_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, d)
    return d
