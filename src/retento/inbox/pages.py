"""Web pages: the user's notifications (general ones and SLA escalations), the unread badge in
the header, and the notification settings (a channel per kind)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from retento.auth.permissions import can
from retento.complaints.models import ComplaintNotification
from retento.complaints.notifications import mark_notification_read
from retento.core.deps import DbSession
from retento.core.validation import DbId
from retento.inbox import service
from retento.mail.service import valid_address
from retento.notifications import service as notes
from retento.notifications.kinds import (
    CHANNEL_LABELS,
    CHANNELS,
    get_kind,
    load_kind_modules,
    render_text,
)
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    flash,
    is_htmx,
    page_router,
    render,
    request_locale,
    safe_next,
    tr,
)

router = page_router()

PAGE_SIZE = 50

# How a notice is described: (clock, level) -> message id, with %(code)s for the tracking code.
DESCRIPTIONS = {
    ("first_response", "near_breach"): N_(
        "First response for %(code)s is due soon (80%% of the target used)."
    ),
    ("first_response", "breached"): N_(
        "First response for %(code)s is overdue: the SLA is breached."
    ),
    ("resolution", "near_breach"): N_(
        "Resolution of %(code)s is due soon (80%% of the target used)."
    ),
    ("resolution", "breached"): N_("Resolution of %(code)s is overdue: the SLA is breached."),
}


def describe(request: Request, clock: str, level: str, code: str, fallback: str) -> str:
    """The notice in the reader's language; the stored English text if the kind is unknown."""
    msgid = DESCRIPTIONS.get((clock, level))
    return tr(request, msgid, code=code) if msgid else fallback


def _row(request: Request, item: service.Item) -> dict:
    if item.source == "sla":
        n, c = item.notice, item.complaint
        return {
            "source": "sla",
            "id": item.id,
            "unread": item.unread,
            "level": n.level,  # type: ignore[union-attr]
            "badge": None,
            "text": describe(request, n.clock, n.level, c.tracking_code, n.message),  # type: ignore[union-attr]
            "subject": c.subject,  # type: ignore[union-attr]
            "link": f"/complaints/{c.id}",  # type: ignore[union-attr]
            "created_at": item.created_at,
        }
    n = item.note
    kind = get_kind(n.kind)  # type: ignore[union-attr]
    return {
        "source": "note",
        "id": item.id,
        "unread": item.unread,
        "level": None,
        "badge": tr(request, kind.group) if kind and kind.group else None,
        "text": render_text(n.kind, n.params, request_locale(request), n.message),  # type: ignore[union-attr]
        "subject": item.complaint.subject
        if item.complaint is not None
        else (n.params or {}).get("survey") or (n.params or {}).get("file") or "",  # type: ignore[union-attr]
        "link": n.link,  # type: ignore[union-attr]
        "created_at": item.created_at,
    }


@router.get("/notifications")
def notifications(
    request: Request, session: DbSession, user: PageUser, unread: int = 0, offset: int = 0
) -> Response:
    """The user's notifications, newest first, unread ones highlighted."""
    offset = min(max(offset, 0), service.MAX_OFFSET)
    load_kind_modules()
    rows = service.list_items(
        session, actor=user, unread_only=bool(unread), limit=PAGE_SIZE + 1, offset=offset
    )
    return render(
        request,
        "inbox/list.html",
        items=[_row(request, i) for i in rows[:PAGE_SIZE]],
        unread=bool(unread),
        unread_total=service.unread_count(session, actor=user),
        cap=service.UNREAD_CAP,
        offset=offset,
        limit=PAGE_SIZE,
        has_next=len(rows) > PAGE_SIZE,
    )


@router.get("/notifications/badge")
def badge(request: Request, session: DbSession, user: PageUser) -> Response:
    """The unread count for the header bell (loaded by htmx after the page)."""
    count = service.unread_count(session, actor=user)
    return render(request, "inbox/_badge.html", count=count, cap=service.UNREAD_CAP)


@router.post("/notifications/{notification_id}/open")
def open_notice(
    request: Request, session: DbSession, user: PageUser, notification_id: DbId
) -> Response:
    """Mark the escalation notice read and go to its complaint."""
    mark_notification_read(session, notification_id, actor=user)  # 404 unless it is the user's
    notice = session.get(ComplaintNotification, notification_id)
    return RedirectResponse(f"/complaints/{notice.complaint_id}", status_code=303)  # type: ignore[union-attr]


@router.post("/notifications/n/{notification_id}/open")
def open_notification(
    request: Request, session: DbSession, user: PageUser, notification_id: DbId
) -> Response:
    """Mark the notification read and go where it leads (the list if nowhere)."""
    n = notes.mark_read(session, notification_id, actor=user)  # 404 unless it is the user's
    return RedirectResponse(safe_next(n.link, "/notifications"), status_code=303)


@router.post("/notifications/n/{notification_id}/read")
def read_notification(
    request: Request, session: DbSession, user: PageUser, notification_id: DbId
) -> Response:
    """Mark the notification read and stay on the list."""
    notes.mark_read(session, notification_id, actor=user)
    target = safe_next(request.query_params.get("next"), "/notifications")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/notifications/read-all")
def read_all(request: Request, session: DbSession, user: PageUser) -> Response:
    """Mark every notification read and return to the list."""
    n = service.mark_all_read(session, actor=user)
    flash(request, tr(request, N_("%(n)s notifications marked read."), n=n))
    target = safe_next(request.query_params.get("next"), "/notifications")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _settings(request: Request, session, user, errors: dict[str, str] | None = None) -> Response:
    groups: dict[str, list[dict]] = {}
    for kind, channel, default in notes.preferences(session, actor=user):
        groups.setdefault(kind.group, []).append(
            {"kind": kind, "channel": channel, "default": default}
        )
    return render(
        request,
        "inbox/preferences.html",
        groups=list(groups.items()),
        channels=[(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        has_address=valid_address((user.email or "").strip()),
        escalations=can(user, "complaint:read"),
        errors=errors or {},
        status_code=422 if errors else 200,
    )


@router.get("/notifications/preferences")
def preferences(request: Request, session: DbSession, user: PageUser) -> Response:
    """How the user wants to hear of each kind: in the app, by e-mail at once, daily, or not."""
    return _settings(request, session, user)


@router.post("/notifications/preferences")
def save_preferences(
    request: Request, session: DbSession, user: PageUser, form: PageForm
) -> Response:
    """Store the channel chosen for each kind."""
    kinds = [k.code for k in load_kind_modules().values() if k.offered_to(user.role)]
    choices = {code: str(form.get(code)) for code in kinds if form.get(code) is not None}
    bad = {code: v for code, v in choices.items() if v not in CHANNELS}
    if bad:
        errors = {code: tr(request, N_("Choose one of the listed channels.")) for code in bad}
        return _settings(request, session, user, errors)
    notes.save_preferences(session, choices, actor=user)
    flash(request, tr(request, N_("Notification settings saved.")))
    return RedirectResponse("/notifications/preferences", status_code=303)
