"""Audit log (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from retento.audit import service
from retento.audit.schemas import AuditRead
from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.core.validation import Limit, Offset, TimeFilter

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=Page[AuditRead])
def list_audit(
    session: DbSession,
    user: CurrentUser,
    actor: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    since: TimeFilter | None = None,
    until: TimeFilter | None = None,
    sort: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = service.list_entries(
        session,
        user,
        actor_name=actor,
        entity=entity,
        entity_id=entity_id,
        action=action,
        since=since,
        until=until,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[AuditRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )
