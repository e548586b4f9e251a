"""Web pages: the user's notifications (SLA escalations) and the unread badge in the header."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from retento.auth.permissions import can
from retento.complaints.models import ComplaintNotification
from retento.complaints.service import mark_notification_read
from retento.core.deps import DbSession
from retento.core.validation import DbId
from retento.inbox import service
from retento.web.i18n import N_
from retento.web.render import PageUser, flash, is_htmx, page_router, render, safe_next, tr

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


@router.get("/notifications")
def notifications(
    request: Request, session: DbSession, user: PageUser, unread: int = 0, offset: int = 0
) -> Response:
    """The user's escalation notices, newest first, unread ones highlighted."""
    offset = max(offset, 0)
    rows = service.list_notices(
        session, actor=user, unread_only=bool(unread), limit=PAGE_SIZE + 1, offset=offset
    )
    items = [
        {
            "id": n.id,
            "unread": n.read_at is None,
            "level": n.level,
            "text": describe(request, n.clock, n.level, c.tracking_code, n.message),
            "subject": c.subject,
            "complaint_id": c.id,
            "created_at": n.created_at,
        }
        for n, c in rows[:PAGE_SIZE]
    ]
    return render(
        request,
        "inbox/list.html",
        items=items,
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
    count = service.unread_count(session, actor=user) if can(user, "complaint:read") else 0
    return render(request, "inbox/_badge.html", count=count, cap=service.UNREAD_CAP)


@router.post("/notifications/{notification_id}/open")
def open_notice(
    request: Request, session: DbSession, user: PageUser, notification_id: DbId
) -> Response:
    """Mark the notice read and go to its complaint."""
    mark_notification_read(session, notification_id, actor=user)  # 404 unless it is the user's
    notice = session.get(ComplaintNotification, notification_id)
    return RedirectResponse(f"/complaints/{notice.complaint_id}", status_code=303)  # type: ignore[union-attr]


@router.post("/notifications/read-all")
def read_all(request: Request, session: DbSession, user: PageUser) -> Response:
    """Mark every notice read and return to the list."""
    n = service.mark_all_read(session, actor=user)
    flash(request, tr(request, N_("%(n)s notifications marked read."), n=n))
    target = safe_next(request.query_params.get("next"), "/notifications")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
