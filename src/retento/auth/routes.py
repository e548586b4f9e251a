"""Users and API tokens (JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from retento.auth import service
from retento.auth.schemas import (
    SessionRead,
    SessionsRevoked,
    TokenCreate,
    TokenIssued,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset
from retento.core.versioning import IfMatch, parse_if_match, set_etag

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser):
    return user


@router.get("/users", response_model=Page[UserRead])
def list_users(
    session: DbSession,
    user: CurrentUser,
    q: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    manager_id: DbId | None = None,
    sort: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    """Users; ``manager_id`` lists that manager's direct reports (their team)."""
    rows, total = service.list_users(
        session,
        user,
        q=q,
        role=role,
        active=active,
        manager_id=manager_id,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[UserRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(data: UserCreate, session: DbSession, user: CurrentUser):
    return service.create_user(session, data, actor=user)


@router.get("/users/{user_id}", response_model=UserRead)
def get_user(user_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    if user_id != user.id:
        from retento.auth.permissions import require

        require(user, "user:manage")
    found = service.get_user(session, user_id)
    set_etag(response, found)
    return found


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(
    user_id: DbId,
    data: UserUpdate,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change the fields sent; a stale ``If-Match`` or ``version`` gets 409.

    Setting your own ``password`` needs ``current_password`` (422 naming it when missing or
    wrong; wrong ones count like failed log-ins: 429 with ``Retry-After`` while throttled). A
    new password ends the user's web sessions; their API tokens, the one used here included,
    stay valid until revoked (``DELETE /api/v1/tokens/{id}``)."""
    changed = service.update_user(
        session,
        user_id,
        data,
        actor=user,
        expected_version=parse_if_match(if_match),
        guard=service.LoginGuard.of(request),
    )
    set_etag(response, changed)
    return changed


@router.get("/users/{user_id}/tokens", response_model=list[TokenRead])
def list_tokens(user_id: DbId, session: DbSession, user: CurrentUser):
    return service.list_tokens(session, service.get_user(session, user_id), actor=user)


@router.post("/users/{user_id}/tokens", response_model=TokenIssued, status_code=201)
def issue_token(user_id: DbId, data: TokenCreate, session: DbSession, user: CurrentUser):
    token, plain = service.issue_token(
        session, service.get_user(session, user_id), name=data.name, actor=user
    )
    return TokenIssued(**TokenRead.model_validate(token).model_dump(), token=plain)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: DbId, session: DbSession, user: CurrentUser):
    service.revoke_token(session, token_id, actor=user)
    return Response(status_code=204)


@router.get("/users/{user_id}/sessions", response_model=list[SessionRead])
def list_sessions(user_id: DbId, request: Request, session: DbSession, user: CurrentUser):
    """The user's open web sessions (the user themself, or `user:manage`)."""
    return service.list_sessions(
        session,
        service.get_user(session, user_id),
        actor=user,
        idle_seconds=request.app.state.settings.session_max_age_seconds,
    )


@router.delete("/users/{user_id}/sessions", response_model=SessionsRevoked)
def log_out_everywhere(user_id: DbId, session: DbSession, user: CurrentUser):
    """Log the user out everywhere: every open web session ends (API tokens are not touched)."""
    n = service.log_out_everywhere(session, service.get_user(session, user_id), actor=user)
    return SessionsRevoked(revoked=n)


# Roles and permissions: their own module, served under this router's prefix.
from retento.auth.role_routes import router as _roles_router  # noqa: E402

router.include_router(_roles_router)
