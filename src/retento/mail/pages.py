"""Web page: the email outbox (administrators) with filters, retry of failed emails, a test email."""

from __future__ import annotations

from fastapi import Form, Request
from fastapi.responses import Response

from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput, Msg, RetentoError, number_error, param
from retento.core.validation import DbId
from retento.mail import service
from retento.mail.kinds import is_kind, known_kinds
from retento.mail.models import MAIL_STATUSES
from retento.mail.unsubscribe import NO_CONSENT
from retento.web.i18n import N_
from retento.web.labels import register_labels, register_value_labels
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    page_router,
    redirect,
    render,
    tr,
    tr_count,
)

router = page_router()

register_nav(NavItem("admin.mail", N_("Outbox"), "/admin/mail", "mail:manage", 30, "admin"))
register_labels(
    "mail_status",
    {
        "queued": N_("Queued"),
        "sending": N_("Sending"),
        "sent": N_("Sent"),
        "failed": N_("Failed"),
        "cancelled": N_("Cancelled"),
    },
)
register_labels(
    "entity",
    {"mail_message": N_("Email"), "mail_outbox": N_("Outbox")},
)
register_value_labels("mail_message", {"status": "mail_status", "kind": "mail_kind"})

PAGE_SIZE = 50
# Stands for the one-time link in a queued message's preview: the link is made only when the
# message is sent, so the outbox never stores a usable one.
LINK_PREVIEW = N_("[personal link, added when the email is sent]")
# Reasons the outbox itself writes as a message's last error: shown in the reader's language
# (an SMTP server's answer is shown as it came).
OWN_ERRORS = frozenset({service.LINK_GONE, NO_CONSENT})


def _offset(value: str) -> int:
    try:
        offset = int(value or 0)
    except ValueError:
        raise number_error("offset", N_("Position in the list"), whole=True).refuse() from None
    if offset < 0:
        where = param("offset", N_("Position in the list"))
        raise FieldError("offset", Msg("%(field)s must not be negative.", field=where)).refuse()
    return offset


def _page(request: Request, session: DbSession, user: PageUser, status_code: int = 200, **extra):
    q = request.query_params
    status = q.get("status", "")
    kind = q.get("kind", "")
    recipient = q.get("recipient", "").strip()
    offset = _offset(q.get("offset", ""))
    if status and status not in MAIL_STATUSES:
        raise InvalidInput(tr(request, "Choose one of the listed values."), field="status")
    if kind and not is_kind(kind):
        raise InvalidInput(tr(request, "Choose one of the listed values."), field="kind")
    rows, _ = service.list_messages(
        session,
        actor=user,
        status=status or None,
        kind=kind or None,
        recipient=recipient or None,
        limit=PAGE_SIZE + 1,
        offset=offset,
    )
    settings = request.app.state.settings
    link_text = tr(request, LINK_PREVIEW)
    ctx = {
        "rows": rows[:PAGE_SIZE],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": {"status": status, "kind": kind, "recipient": recipient},
        "statuses": MAIL_STATUSES,
        "kinds": known_kinds(),
        "counts": service.status_counts(session),
        "enabled": settings.mail_enabled,
        "smtp": f"{settings.smtp_host}:{settings.smtp_port}" if settings.mail_enabled else "",
        "mail_from": settings.mail_from,
        "preview": lambda body: service.preview_text(body, settings, link_text),
        "mail_error": lambda text: tr(request, text) if text in OWN_ERRORS else text,
        **extra,
    }
    if request.headers.get("hx-target") == "results":
        return render(request, "mail/_results.html", **ctx)
    return render(request, "mail/outbox.html", status_code=status_code, **ctx)


@router.get("/admin/mail")
def outbox(request: Request, session: DbSession, user: PageUser) -> Response:
    """Every email the system queued, newest first: status, attempts, last error."""
    return _page(request, session, user)


@router.post("/admin/mail/{message_id:int}/retry")
def retry(request: Request, session: DbSession, user: PageUser, message_id: DbId) -> Response:
    """Queue a failed email again."""
    msg = service.retry(session, message_id, actor=user)
    flash(request, tr(request, "The email to %(to)s is queued again.", to=msg.recipient))
    return redirect(request, "/admin/mail")


@router.post("/admin/mail/retry-failed")
def retry_failed(request: Request, session: DbSession, user: PageUser) -> Response:
    """Queue every failed email again (after the SMTP server was down)."""
    n = service.retry_failed(session, actor=user)
    if n:
        many = "%(n)s failed emails are queued again."
        flash(request, tr_count(request, n, "The failed email is queued again.", many))
    else:
        flash(request, tr(request, "No failed email can be retried."), "info")
    return redirect(request, "/admin/mail")


@router.post("/admin/mail/test")
def send_test(
    request: Request, session: DbSession, user: PageUser, address: str = Form("")
) -> Response:
    """Send a test email through the configured SMTP server now."""
    address = address.strip()
    try:
        if not service.valid_address(address):
            raise InvalidInput(tr(request, "Enter an email address."), field="address")
        msg = service.send_test(session, address, actor=user, settings=request.app.state.settings)
    except RetentoError as exc:
        if exc.status in (401, 403):
            raise
        session.rollback()
        return _page(
            request,
            session,
            user,
            422,
            errors={"address": error_text(request, exc.message)},
            form={"address": address},
        )
    if msg.status == "sent":
        flash(request, tr(request, "The test email to %(to)s was sent.", to=address))
    elif msg.status == "queued":
        flash(
            request,
            tr(request, "Sending is disabled; the test email waits in the outbox."),
            "info",
        )
    else:
        flash(
            request,
            tr(request, "The test email failed: %(error)s", error=msg.last_error or ""),
            "error",
        )
    return redirect(request, "/admin/mail")
