"""My account: every user's own page — change one's password (with the current one), see and
end one's open sessions, see and revoke one's API tokens.

The admin user page (``/admin/users/{id}``) needs ``user:manage``; an agent or analyst had no
page to change their own password (only ``PATCH /api/v1/users/{id}``). The services already
let a user act on their own account (``auth.service``: own sessions, own tokens, own password
with the current one); these pages give them a place in the user menu."""

from __future__ import annotations

from typing import Any

from fastapi import Form, Request
from fastapi.responses import Response

from retento.auth import service
from retento.auth.web_session import change_password, log_out
from retento.core.deps import DbSession
from retento.core.validation import DbId
from retento.web.render import PageUser, flash, page_router, redirect, render, tr

router = page_router()

ACCOUNT = "/account"


def _account_page(
    request: Request, session: DbSession, user: Any, status_code: int = 200, **extra: Any
) -> Response:
    """The account page of the logged-in user."""
    extra.setdefault("errors", {})
    return render(
        request,
        "auth/account.html",
        status_code=status_code,
        me=user,
        tokens=service.list_tokens(session, user, actor=user),
        sessions=service.list_sessions(
            session,
            user,
            actor=user,
            idle_seconds=request.app.state.settings.session_max_age_seconds,
        ),
        current_session_id=getattr(request.state, "session_row_id", None),
        **extra,
    )


@router.get(ACCOUNT)
def account(request: Request, session: DbSession, user: PageUser) -> Response:
    """One's own account: password, open sessions, API tokens."""
    return _account_page(request, session, user)


@router.post(ACCOUNT + "/password")
def account_password(
    request: Request,
    session: DbSession,
    user: PageUser,
    password: str = Form(""),
    current_password: str = Form(""),
) -> Response:
    """Change one's own password (the current one first; ``pages.change_password``)."""

    def page(status_code: int, errors: dict[str, str], headers: Any) -> Response:
        return _account_page(request, session, user, status_code, errors=errors, headers=headers)

    return change_password(
        request, session, user, user.id, password, current_password, page=page, done_url=ACCOUNT
    )


@router.post(ACCOUNT + "/sessions/revoke")
def account_sessions_revoke(request: Request, session: DbSession, user: PageUser) -> Response:
    """Log out everywhere, this browser included (API tokens stay)."""
    service.log_out_everywhere(session, user, actor=user)
    log_out(request, session)
    return redirect(request, "/login")


@router.post(ACCOUNT + "/tokens/{token_id}/revoke")
def account_token_revoke(
    request: Request, session: DbSession, user: PageUser, token_id: DbId
) -> Response:
    """Revoke one of one's own API tokens (another user's needs ``user:manage``: 403)."""
    service.revoke_token(session, token_id, actor=user)
    flash(request, tr(request, "The token was revoked."))
    return redirect(request, ACCOUNT)
