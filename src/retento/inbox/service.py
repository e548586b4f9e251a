"""Inbox queries over both sources: general notifications and the complaint escalation notices.

The escalation notices stay in ``complaint_notifications`` (written by the complaint SLA job);
general notifications live in ``notifications``. A page of the merged list takes the newest
``offset + limit`` of each and merges them, which is exact for offset paging.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.complaints.models import Complaint, ComplaintNotification
from retento.core.db import utcnow
from retento.core.errors import InvalidInput, Msg
from retento.core.pagination import MAX_LIMIT
from retento.notifications import service as notes
from retento.notifications.models import Notification

UNREAD_CAP = notes.UNREAD_CAP  # the header badge says "99+" beyond this
MAX_OFFSET = 10_000


@dataclass
class Item:
    """One row of the inbox: ``source`` is "note" (general) or "sla" (an escalation notice)."""

    source: str
    id: int
    created_at: datetime
    unread: bool
    note: Notification | None = None
    notice: ComplaintNotification | None = None
    complaint: Complaint | None = None


def _check_page(limit: int, offset: int) -> None:
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(
            Msg("limit must be between 1 and %(max)s.", max=MAX_LIMIT), field="limit"
        )
    if offset < 0 or offset > MAX_OFFSET:
        raise InvalidInput(
            Msg("offset must be between 0 and %(max)s.", max=MAX_OFFSET), field="offset"
        )


def list_notices(
    session: Session, *, actor: User, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> list[tuple[ComplaintNotification, Complaint]]:
    """The actor's own escalation notices with their complaint, newest first."""
    require(actor, "complaint:read")
    _check_page(limit, offset)
    stmt = (
        select(ComplaintNotification, Complaint)
        .join(Complaint, Complaint.id == ComplaintNotification.complaint_id)
        .where(ComplaintNotification.user_id == actor.id)
        .order_by(ComplaintNotification.id.desc())
    )
    if unread_only:
        stmt = stmt.where(ComplaintNotification.read_at.is_(None))
    return [(n, c) for n, c in session.execute(stmt.limit(limit).offset(offset))]


def list_items(
    session: Session, *, actor: User, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> list[Item]:
    """Both kinds of the actor's notifications, newest first."""
    _check_page(limit, offset)
    want = offset + limit
    stmt = (
        select(Notification)
        .where(Notification.user_id == actor.id)
        .order_by(Notification.id.desc())
        .limit(want)
    )
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    items = [
        Item("note", n.id, n.created_at, n.read_at is None, note=n) for n in session.scalars(stmt)
    ]
    # The complaint's subject is read live (a notification keeps no customer text).
    ids = {i.note.subject_id for i in items if i.note and i.note.subject_type == "complaint"}
    if ids and can(actor, "complaint:read"):
        found = {c.id: c for c in session.scalars(select(Complaint).where(Complaint.id.in_(ids)))}
        for i in items:
            if i.note and i.note.subject_type == "complaint":
                i.complaint = found.get(i.note.subject_id)  # type: ignore[arg-type]
    if can(actor, "complaint:read"):
        stmt = (
            select(ComplaintNotification, Complaint)
            .join(Complaint, Complaint.id == ComplaintNotification.complaint_id)
            .where(ComplaintNotification.user_id == actor.id)
            .order_by(ComplaintNotification.id.desc())
            .limit(want)
        )
        if unread_only:
            stmt = stmt.where(ComplaintNotification.read_at.is_(None))
        items += [
            Item("sla", n.id, n.created_at, n.read_at is None, notice=n, complaint=c)
            for n, c in session.execute(stmt)
        ]
    items.sort(key=lambda i: (i.created_at, i.source == "note", i.id), reverse=True)
    return items[offset : offset + limit]


def unread_count(session: Session, *, actor: User) -> int:
    """How many of the actor's notifications are unread, capped at ``UNREAD_CAP + 1``."""
    total = notes.unread_count(session, actor=actor)
    if total <= UNREAD_CAP and can(actor, "complaint:read"):
        capped = (
            select(ComplaintNotification.id)
            .where(
                ComplaintNotification.user_id == actor.id,
                ComplaintNotification.read_at.is_(None),
            )
            .limit(UNREAD_CAP + 1)
            .subquery()
        )
        total += int(session.scalar(select(func.count()).select_from(capped)) or 0)
    return min(total, UNREAD_CAP + 1)


def mark_all_read(session: Session, *, actor: User) -> int:
    """Mark every unread notification and notice of the actor read; returns how many changed."""
    n = notes.mark_all_read(session, actor=actor)
    if can(actor, "complaint:read"):
        result: Any = session.execute(
            update(ComplaintNotification)
            .where(
                ComplaintNotification.user_id == actor.id,
                ComplaintNotification.read_at.is_(None),
            )
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        n += int(result.rowcount or 0)
    session.flush()
    return n
