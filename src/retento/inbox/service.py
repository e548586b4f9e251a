"""Inbox queries and changes over the escalation notices the complaint jobs write."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints.models import Complaint, ComplaintNotification
from retento.core.db import utcnow
from retento.core.errors import InvalidInput
from retento.core.pagination import MAX_LIMIT

UNREAD_CAP = 99  # the header badge says "99+" beyond this; counting further costs for nothing


def list_notices(
    session: Session, *, actor: User, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> list[tuple[ComplaintNotification, Complaint]]:
    """The actor's own notices with their complaint, newest first (one query, no count)."""
    require(actor, "complaint:read")
    stmt = (
        select(ComplaintNotification, Complaint)
        .join(Complaint, Complaint.id == ComplaintNotification.complaint_id)
        .where(ComplaintNotification.user_id == actor.id)
        .order_by(ComplaintNotification.id.desc())
    )
    if unread_only:
        stmt = stmt.where(ComplaintNotification.read_at.is_(None))
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative.", field="offset")
    return [(n, c) for n, c in session.execute(stmt.limit(limit).offset(offset))]


def unread_count(session: Session, *, actor: User) -> int:
    """How many of the actor's notices are unread, capped at ``UNREAD_CAP + 1``."""
    require(actor, "complaint:read")
    capped = (
        select(ComplaintNotification.id)
        .where(ComplaintNotification.user_id == actor.id, ComplaintNotification.read_at.is_(None))
        .limit(UNREAD_CAP + 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def mark_all_read(session: Session, *, actor: User) -> int:
    """Mark every unread notice of the actor read; returns how many changed."""
    require(actor, "complaint:read")
    result = session.execute(
        update(ComplaintNotification)
        .where(ComplaintNotification.user_id == actor.id, ComplaintNotification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)
