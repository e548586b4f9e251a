"""Notification JSON API: the caller's own notifications and channel preferences."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset
from retento.notifications import service
from retento.notifications.schemas import NotificationRead, PreferenceRead, PreferencesIn
from retento.web.i18n import gettext, normalise_locale

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=Page[NotificationRead])
def list_notifications(
    session: DbSession,
    user: CurrentUser,
    unread: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
):
    """The caller's notifications, newest first (SLA escalations: /api/v1/complaints/notifications)."""
    rows = service.list_notifications(
        session, actor=user, unread_only=unread, limit=limit, offset=offset
    )
    return Page(
        items=[NotificationRead.model_validate(r) for r in rows],
        total=service.count(session, actor=user, unread_only=unread),
        limit=limit,
        offset=offset,
    )


@router.post("/{notification_id}/read", status_code=204)
def read_notification(notification_id: DbId, session: DbSession, user: CurrentUser):
    """Mark one of the caller's notifications read."""
    service.mark_read(session, notification_id, actor=user)
    return Response(status_code=204)


@router.post("/read-all")
def read_all(session: DbSession, user: CurrentUser) -> dict:
    """Mark all the caller's notifications read; returns how many changed."""
    return {"marked": service.mark_all_read(session, actor=user)}


def _preferences(request: Request, session, user) -> list[PreferenceRead]:
    loc = normalise_locale(request.headers.get("accept-language", "en").split(",")[0])
    return [
        PreferenceRead(
            kind=k.code,
            label=gettext(loc, k.label),
            description=gettext(loc, k.description),
            channel=channel,  # type: ignore[arg-type]
            is_default=default,
        )
        for k, channel, default in service.preferences(session, actor=user)
    ]


@router.get("/preferences", response_model=list[PreferenceRead])
def get_preferences(request: Request, session: DbSession, user: CurrentUser):
    """The caller's channel per kind (in_app, email, digest or off) and whether it is the default."""
    return _preferences(request, session, user)


@router.put("/preferences", response_model=list[PreferenceRead])
def put_preferences(request: Request, data: PreferencesIn, session: DbSession, user: CurrentUser):
    """Store the caller's channel for the kinds given."""
    service.save_preferences(session, dict(data.channels), actor=user)
    return _preferences(request, session, user)
