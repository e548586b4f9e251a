"""Request-scoped dependencies: the unit of work and the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
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


def optional_user(request: Request, session: DbSession) -> User | None:
    """The user behind a bearer token or the web session cookie, if any."""
    from retento.auth.service import user_for_token

    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.")
        return user_for_token(session, token.strip())
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if user_id is not None:
        user = session.get(User, user_id)
        if (
            user is not None
            and user.is_active
            and request.session.get("pw") == user.password_hash[-12:]
        ):
            return user
        request.session.clear()
    return None


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized()
    return user


CurrentUser = Annotated[User, Depends(current_user)]
