"""The daily digest: one e-mail per user and UTC day with their "Daily digest" notifications.

Idempotent and safe to run in two processes at once: the digest row's unique (user, day) key is
inserted first with ``ON CONFLICT DO NOTHING`` (PostgreSQL makes a concurrent second insert wait
for the first and then skip), and only the run that inserted it queues the e-mail. Items raised
after the day's digest wait for the next day's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.db import utcnow
from retento.notifications.emails import queue_digest
from retento.notifications.models import Notification, NotificationDigest
from retento.notifications.service import _insert


@dataclass
class DigestReport:
    users: int = 0  # digests recorded this run
    emails: int = 0  # of which e-mailed (the others had no address)
    items: int = 0


def send_digests(session: Session, now: datetime | None = None) -> DigestReport:
    """Record and queue today's digest for every user with pending digest notifications."""
    now = now or utcnow()
    day = now.date()
    report = DigestReport()
    pending = (
        select(Notification.user_id)
        .where(
            Notification.delivery == "digest",
            Notification.digested_at.is_(None),
            Notification.created_at <= now,
        )
        .distinct()
    )
    for user_id in list(session.scalars(pending)):
        if session.scalar(
            select(NotificationDigest.id).where(
                NotificationDigest.user_id == user_id, NotificationDigest.day == day
            )
        ):
            continue  # today's digest went out; these wait for tomorrow's
        inserted = session.execute(
            _insert(session)(NotificationDigest)
            .values(user_id=user_id, day=day, items=0, created_at=now)
            .on_conflict_do_nothing(index_elements=["user_id", "day"])
            .returning(NotificationDigest.id)
        ).first()
        if inserted is None:
            continue  # another run recorded it first
        digest = session.get(NotificationDigest, inserted[0])
        items = list(
            session.scalars(
                select(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.delivery == "digest",
                    Notification.digested_at.is_(None),
                    Notification.created_at <= now,
                )
                .order_by(Notification.id)
            )
        )
        user = session.get(User, user_id)
        msg = None
        if user is not None and user.is_active and items:
            msg = queue_digest(session, user, items, digest_id=digest.id, now=now)  # type: ignore[union-attr]
        session.execute(
            update(Notification)
            .where(Notification.id.in_([n.id for n in items]))
            .values(digested_at=now)
            .execution_options(synchronize_session=False)
        )
        digest.items = len(items)  # type: ignore[union-attr]
        digest.outbox_id = msg.id if msg is not None else None  # type: ignore[union-attr]
        report.users += 1
        report.items += len(items)
        report.emails += msg is not None
    session.flush()
    return report
