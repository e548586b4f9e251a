"""Writing and reading the audit log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from retento.audit.models import AuditEntry
from retento.auth.permissions import require
from retento.core.pagination import apply_sort, paginate

if TYPE_CHECKING:
    from retento.auth.models import User

SECRET_FIELDS = {"password_hash", "token_hash"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Column values of an ORM object as JSON-safe data (secrets left out)."""
    mapper = inspect(obj).mapper
    data = {
        c.key: _jsonable(getattr(obj, c.key))
        for c in mapper.column_attrs
        if c.key not in SECRET_FIELDS
    }
    if extra:
        data.update(_jsonable(extra))
    return data


def record(
    session: Session,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry; for updates only the changed keys are kept."""
    if action == "update" and before is not None and after is not None:
        keys = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        keys.discard("updated_at")
        if not keys - {"version"}:  # a version bump alone changed nothing a person made
            return None  # type: ignore[return-value]
        before = {k: before.get(k) for k in sorted(keys)}
        after = {k: after.get(k) for k in sorted(keys)}
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def list_entries(
    session: Session,
    actor: User,
    *,
    actor_name: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """Filtered, newest-first page of audit entries (admins only)."""
    require(actor, "audit:read")
    stmt = select(AuditEntry)
    if actor_name:
        stmt = stmt.where(AuditEntry.actor_name == actor_name)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    stmt = apply_sort(
        stmt, sort, {"at": AuditEntry.at, "entity": AuditEntry.entity}, AuditEntry.id.desc()
    )
    return paginate(session, stmt, limit=limit, offset=offset)
