"""Request-scoped dependencies: the unit of work and the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.errors import Unauthorized


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on any error."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit as soon as the endpoint returns, *before* the response is sent, so
# the client's next request (a redirect, an htmx refresh) always reads what was just written.
DbSession = Annotated[Session, Depends(get_session, scope="function")]

# The header that makes a POST safe to retry (orders, refunds, complaints and their entries,
# remedies, loyalty postings, survey distributions, customers, touchpoints, experience records,
# products): the service keeps the key with what it recorded, and a repeat answers with that
# instead of doing it again (core.idempotency).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=120,
        description="1–120 printable characters. A retried request with the same key answers "
        "with what the first one recorded and does nothing again; the same key with other "
        "details may be refused (409, field Idempotency-Key).",
    ),
]


def optional_user(request: Request, session: DbSession) -> User | None:
    """The user behind a bearer token or the web session cookie, if any.

    The token or session row and its user are read with one statement in the request's own
    session (one pooled connection per request; a plain read never waits on a lock). Their last
    use is written at most once a minute, in a short transaction of its own on that connection
    that never waits (``auth.last_use.touch_apart``). A cookie-authenticated unsafe ``/api/``
    call must carry the CSRF header.
    """
    from retento.auth import sessions
    from retento.auth.service import user_for_bearer

    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.")
        user = user_for_bearer(session, token.strip())
        # (Also reloads the user here, in the worker thread, if recording the last use ended
        # the read transaction.)
        if not user.is_active:
            raise Unauthorized("The token's user is deactivated.")
        request.state.auth_method = "bearer"
        return user
    if "session" not in request.scope:
        return None
    sid = request.session.get(sessions.COOKIE_KEY)
    if not sid or not isinstance(sid, str):
        return None
    settings = request.app.state.settings
    found = sessions.resolve_user(session, sid, idle_seconds=settings.session_max_age_seconds)
    if found is None or not found[1].is_active:
        # Ended, revoked or unknown: forget it, keep the language and the CSRF token.
        request.session.pop(sessions.COOKIE_KEY, None)
        return None
    session_row_id, user = found
    request.state.auth_method = "cookie"
    request.state.session_row_id = session_row_id
    if request.url.path.startswith("/api/"):
        from retento.web.csrf import check_api_csrf

        check_api_csrf(request)
    return user


# async: no I/O, so no hop to the thread pool (each costs CPU on the event loop and the worker).
async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
