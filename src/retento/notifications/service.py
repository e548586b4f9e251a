"""Raise, list and mark notifications; read and save each user's channel per kind.

``notify`` runs inside the caller's transaction (flush only). A notification's ``dedupe_key``
is unique: the insert is ``ON CONFLICT DO NOTHING``, so an event delivered twice, or by two
processes at once, notifies each user once. Nothing here locks a user row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.auth import roles
from retento.auth.models import User
from retento.auth.permissions import is_builtin
from retento.core.db import utcnow
from retento.core.errors import FieldError, InvalidInput, Msg, NotFound, param, range_error
from retento.core.pagination import MAX_LIMIT
from retento.notifications.kinds import (
    CHANNELS,
    Kind,
    get_kind,
    load_kind_modules,
    shown_params,
)
from retento.notifications.models import Notification, NotificationPreference
from retento.web.i18n import N_

UNREAD_CAP = 99  # the header badge says "99+" beyond this


def _insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def channels_for(session: Session, users: list[User], kind: Kind) -> dict[int, str]:
    """Each user's channel for ``kind``: their saved choice, else their role's default (a
    custom role's: its base role's)."""
    if any(not is_builtin(u.role) for u in users):
        # Notifications are raised by jobs and public forms too, where no signed-in user's
        # request made this process's cache of custom roles current.
        roles.sync(session)
    saved = dict(
        session.execute(
            select(NotificationPreference.user_id, NotificationPreference.channel).where(
                NotificationPreference.kind == kind.code,
                NotificationPreference.user_id.in_([u.id for u in users]),
            )
        ).all()
    )
    return {u.id: saved.get(u.id) or kind.default_for(u.role) for u in users}


def notify(
    session: Session,
    kind_code: str,
    users: Iterable[User | None],
    *,
    key: str,
    params: dict[str, Any] | None = None,
    link: str | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    actor: User | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Notify each active user (never the actor) once per ``key``, on the channel they chose.

    Returns the notifications actually created (none for a key already notified).
    """
    kind = get_kind(kind_code)
    if kind is None:
        raise ValueError(Msg("Unknown notification kind %(kind)s", kind=repr(kind_code)))
    seen: dict[int, User] = {}
    for u in users:
        if u is not None and u.is_active and (actor is None or u.id != actor.id):
            seen.setdefault(u.id, u)
    if not seen:
        return []
    now = now or utcnow()
    params = {k: v for k, v in (params or {}).items()}
    try:
        # The stored text (the API's, and the fallback of a kind that is gone) in English.
        message = (kind.text % shown_params(kind, params, "en"))[:500]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            Msg(
                "Parameters %(params)s do not fit kind %(kind)s",
                params=sorted(params),
                kind=repr(kind_code),
            )
        ) from exc
    channels = channels_for(session, list(seen.values()), kind)
    rows = [
        {
            "user_id": uid,
            "kind": kind.code,
            "message": message,
            "params": params,
            "link": link,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "delivery": channels[uid],
            "dedupe_key": f"{kind.code}:{key}:{uid}"[:200],
            "created_at": now,
        }
        for uid in seen
        if channels[uid] != "off"
    ]
    if not rows:
        return []
    stmt = (
        _insert(session)(Notification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.id)
    )
    ids = [r[0] for r in session.execute(stmt).all()]
    if not ids:
        return []
    created = list(session.scalars(select(Notification).where(Notification.id.in_(ids))).all())
    from retento.notifications.emails import queue_now

    for n in created:
        if n.delivery == "email":
            if queue_now(session, n, seen[n.user_id], now=now):
                n.emailed_at = now
    session.flush()
    return created


# --- the reader's side -------------------------------------------------------------------------


def _check_page(limit: int, offset: int) -> None:
    """A page of the list, its parameters named as the outbox's are (``mail.pages``)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise range_error("limit", N_("Page size"), 1, MAX_LIMIT).refuse()
    if offset < 0:
        where = param("offset", N_("Position in the list"))
        raise FieldError("offset", Msg("%(field)s must not be negative.", field=where)).refuse()


def list_notifications(
    session: Session, *, actor: User, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> list[Notification]:
    """The actor's own notifications, newest first."""
    _check_page(limit, offset)
    stmt = select(Notification).where(Notification.user_id == actor.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = stmt.order_by(Notification.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt).all())


def count(session: Session, *, actor: User, unread_only: bool = False) -> int:
    stmt = select(func.count(Notification.id)).where(Notification.user_id == actor.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return int(session.scalar(stmt) or 0)


def unread_count(session: Session, *, actor: User) -> int:
    """How many of the actor's notifications are unread, capped at ``UNREAD_CAP + 1``."""
    capped = (
        select(Notification.id)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .limit(UNREAD_CAP + 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def get_notification(session: Session, notification_id: int, *, actor: User) -> Notification:
    """One of the actor's notifications (someone else's is not found)."""
    n = session.get(Notification, notification_id)
    if n is None or n.user_id != actor.id:
        raise NotFound("Notification", notification_id)
    return n


def mark_read(session: Session, notification_id: int, *, actor: User) -> Notification:
    """Mark one of the actor's notifications read (a no-op if it already is)."""
    n = get_notification(session, notification_id, actor=actor)
    if n.read_at is None:
        n.read_at = utcnow()
        session.flush()
    return n


def mark_all_read(session: Session, *, actor: User) -> int:
    """Mark every unread notification of the actor read; returns how many changed."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- preferences -------------------------------------------------------------------------------


def preferences(session: Session, *, actor: User) -> list[tuple[Kind, str, bool]]:
    """Every kind with the actor's channel and whether it is the role's default."""
    kinds = [k for k in load_kind_modules().values() if k.offered_to(actor.role)]
    saved = dict(
        session.execute(
            select(NotificationPreference.kind, NotificationPreference.channel).where(
                NotificationPreference.user_id == actor.id
            )
        ).all()
    )
    out = []
    for k in kinds:
        chosen = saved.get(k.code)
        out.append((k, chosen or k.default_for(actor.role), chosen is None))
    return out


def save_preferences(session: Session, choices: dict[str, str], *, actor: User) -> int:
    """Store the actor's channel per kind (upsert; no lock on the user); returns the count."""
    kinds = load_kind_modules()
    for code, channel in choices.items():
        if code not in kinds:
            raise InvalidInput(Msg("Unknown notification kind '%(code)s'.", code=code), field=code)
        if not kinds[code].offered_to(actor.role):
            raise InvalidInput(
                Msg(
                    "The %(role)s role does not receive '%(code)s' notifications.",
                    role=actor.role,
                    code=code,
                ),
                field=code,
            )
        if channel not in CHANNELS:
            raise InvalidInput(
                Msg(
                    "'%(channel)s' is not a channel; choose one of: %(choices)s.",
                    channel=channel,
                    choices=", ".join(CHANNELS),
                ),
                field=code,
            )
    now = utcnow()
    ins = _insert(session)
    for code, channel in choices.items():
        stmt = ins(NotificationPreference).values(
            user_id=actor.id, kind=code, channel=channel, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "kind"], set_={"channel": channel, "updated_at": now}
        )
        session.execute(stmt)
    session.flush()
    if choices:
        record(session, actor, "update", "notification_preferences", actor.id, None, choices)
    return len(choices)
