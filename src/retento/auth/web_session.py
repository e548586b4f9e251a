"""A browser's log-in session and the password form, shared by the login, the admin user page
and My account (``auth.account_pages``): start and end a server-side session, the throttle's
message, and setting a password from a form."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.auth import service, sessions
from retento.auth.models import User
from retento.auth.schemas import UserUpdate
from retento.auth.throttle import LoginThrottled, client_ip
from retento.core.db import transaction, will_write
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.web.i18n import LOCALES
from retento.web.render import flash, form_errors, redirect, tr


def log_in(request: Request, session: DbSession, user: User, *, in_request: bool = False) -> None:
    """Start a fresh server-side session for ``user``: a new random id (against fixation) and a
    new CSRF token; the cookie carries the id, the language and the CSRF token, nothing else.

    ``in_request``: write the session row in the request's own transaction, for a request that
    has already written (a password change, which ended the user's sessions)."""
    settings = request.app.state.settings
    locale = request.session.get("locale")
    chosen = bool(request.session.get("locale_chosen"))
    old = request.session.get(sessions.COOKIE_KEY)

    def start(s: Session) -> str:
        if isinstance(old, str) and old:
            sessions.revoke(s, old)
        return sessions.start(
            s,
            user,
            absolute_seconds=settings.session_absolute_seconds,
            user_agent=request.headers.get("user-agent", ""),
            ip=client_ip(request),
        )

    if in_request:
        # The request holds SQLite's write lock (PostgreSQL: the rows of the sessions it ended):
        # a transaction of its own would wait for them until the lock timeout (503).
        plain = start(session)
    else:
        # The session row is written in a short transaction of its own that queues for the
        # write lock before it starts (on SQLite): the request's own transaction has already
        # read, and a job committing meanwhile would make its first write fail ("database is
        # locked": a login right after `make demo` started answered 500).
        with transaction(request.app.state.session_factory) as own:
            will_write(own)
            plain = start(own)
    request.session.clear()
    request.session[sessions.COOKIE_KEY] = plain
    if chosen and locale in LOCALES and locale != user.locale:
        # A language picked on the login page is the user's latest choice: keep it, on the user
        # too (the saved language wins on every page), exactly as the header switcher does.
        user = service.update_user(session, user.id, UserUpdate(locale=locale), actor=user)
    request.session["locale"] = user.locale or locale or "en"


def log_out(request: Request, session: DbSession) -> None:
    """End this browser's session server-side and clear the cookie (the language stays)."""
    locale = request.session.get("locale")
    sid = request.session.get(sessions.COOKIE_KEY)
    if isinstance(sid, str) and sid:
        sessions.revoke(session, sid)
    request.session.clear()
    if locale:
        request.session["locale"] = locale


def throttled_message(request: Request, seconds: int) -> str:
    if seconds < 120:
        return tr(request, "Too many failed log-ins. Wait %(n)s seconds and try again.", n=seconds)
    minutes = -(-seconds // 60)
    return tr(request, "Too many failed log-ins. Wait %(n)s minutes and try again.", n=minutes)


def translated(request: Request, errors: dict[str, str]) -> dict[str, str]:
    """Service messages (password policy, ...) are message ids: show them translated."""
    return {field: tr(request, message) for field, message in errors.items()}


def change_password(
    request: Request,
    session: DbSession,
    user: User,
    user_id: int,
    password: str,
    current_password: str,
    *,
    page: Any,
    done_url: str,
) -> Response:
    """Set ``user_id``'s password from a form (the admin user page, or one's own account page):
    one's own needs the current one (wrong ones count like failed log-ins); the user's open
    sessions are logged out, API tokens stay valid. ``page(status_code, errors, headers)``
    shows the form again with the errors."""
    own = user_id == user.id
    try:
        data = UserUpdate(password=password, current_password=current_password if own else None)
        service.update_user(
            session, user_id, data, actor=user, guard=service.LoginGuard.of(request)
        )
    except LoginThrottled as exc:
        session.rollback()
        message = throttled_message(request, exc.retry_after)
        return page(429, {"current_password": message}, exc.headers)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status == 401:
            raise
        return page(422, translated(request, form_errors(request, exc)), None)
    if own:
        # A fresh session for this browser (the others have ended); the message goes into it.
        log_in(request, session, service.get_user(session, user_id), in_request=True)
        message = tr(
            request,
            "Your password was changed; your other sessions are logged out. Your API tokens "
            "stay valid: revoke any you no longer trust below.",
        )
    else:
        message = tr(
            request,
            "The password was reset; the user's sessions are logged out. Their API tokens "
            "stay valid: revoke them below if someone else may know them.",
        )
    flash(request, message)
    return redirect(request, done_url)
