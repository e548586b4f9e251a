"""Small helpers for the notification tests: who got what, and what the outbox holds."""

from __future__ import annotations

from sqlalchemy import select

from retento.complaints.schemas import AssignIn
from retento.mail.models import OutboxMessage
from retento.notifications.models import Notification
from tests.factories import make_user


def got(db, user, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return list(db.scalars(stmt.order_by(Notification.id)))


def outbox(db, kind: str) -> list[OutboxMessage]:
    return list(
        db.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
    )


def team(db, users):
    """The manager's team: two agents with addresses reporting to ``users["manager"]``."""
    lead = users["manager"]
    a = make_user(db, username="ann", role="agent", manager_id=lead.id, email="ann@example.com")
    b = make_user(db, username="bob", role="agent", manager_id=lead.id, email="bob@example.com")
    db.commit()
    return lead, a, b


def assign_to(user) -> AssignIn:
    return AssignIn(assignee_id=user.id)
