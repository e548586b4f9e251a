"""CSRF protection: a per-session token sent back as a hidden input or the ``X-CSRF-Token`` header."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from retento.core.errors import RetentoError
from retento.web.i18n import N_

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


class CsrfError(RetentoError):
    """The form's token is missing or does not match the session's."""

    def __init__(self) -> None:
        super().__init__(
            403,
            "csrf_failed",
            N_(
                "The form has expired or did not come from this site. Reload the page and try again."
            ),
        )


def csrf_token(request: Request) -> str:
    """The session's token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


async def check_csrf(request: Request) -> None:
    """Dependency of every page router: unsafe methods must carry the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_KEY)
    sent = request.headers.get(HEADER)
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise CsrfError()


def check_api_csrf(request: Request) -> None:
    """JSON API calls authenticated by the session cookie: unsafe methods need the
    ``X-CSRF-Token`` header (a cross-site form or fetch cannot set it). Bearer calls are exempt."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_KEY)
    sent = request.headers.get(HEADER)
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise CsrfError()
