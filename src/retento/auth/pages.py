"""Web pages: log in and out, and the administrators' user management."""

from __future__ import annotations

from typing import Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from retento.auth import service
from retento.auth.models import User
from retento.auth.permissions import ROLES, require
from retento.auth.schemas import UserCreate, UserUpdate
from retento.core.deps import DbSession
from retento.core.errors import RetentoError, Unauthorized
from retento.web.csrf import SESSION_KEY as CSRF_KEY
from retento.web.i18n import N_
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    safe_next,
    tr,
)

router = page_router()

register_nav(NavItem("admin.users", N_("Users"), "/admin/users", "user:manage", 10, "admin"))

PAGE_SIZE = 50


def log_in(request: Request, user: User) -> None:
    """Start a fresh web session for ``user`` (a new session id against fixation)."""
    locale = request.session.get("locale")
    request.session.clear()
    request.session["user_id"] = user.id
    # A password change alters the hash, so older sessions stop matching and are logged out.
    request.session["pw"] = user.password_hash[-12:]
    request.session["locale"] = user.locale or locale or "en"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The login page."""
    return render(request, "auth/login.html", next=safe_next(next), form={})


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    """Check the password and start the session; the same message whatever was wrong."""
    try:
        user = service.authenticate(session, username, password)
    except Unauthorized:
        return render(
            request,
            "auth/login.html",
            status_code=401,
            next=safe_next(next),
            form={"username": username},
            errors={"": tr(request, "Wrong username or password.")},
        )
    log_in(request, user)
    return redirect(request, safe_next(next))


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session (the cookie is cleared) and go back to the login page."""
    locale = request.session.get("locale")
    request.session.clear()
    if locale:
        request.session["locale"] = locale
    request.session.pop(CSRF_KEY, None)
    return redirect(request, "/login")


def _role_options(request: Request) -> list[tuple[str, str]]:
    from retento.web.labels import label_msgid

    return [(r, tr(request, label_msgid("role", r))) for r in ROLES]


@router.get("/admin/users")
def users_list(
    request: Request,
    session: DbSession,
    user: PageUser,
    q: str = "",
    role: str = "",
    active: str = "",
    offset: int = 0,
) -> Response:
    """All users, filtered by name, role and status."""
    active_flag = {"1": True, "0": False}.get(active)
    rows, _ = service.list_users(
        session,
        user,
        q=q or None,
        role=role or None,
        active=active_flag,
        sort="username",
        limit=PAGE_SIZE + 1,
        offset=max(offset, 0),
    )
    template = "auth/_users_table.html" if request.headers.get("hx-target") else "auth/users.html"
    return render(
        request,
        template,
        rows=rows[:PAGE_SIZE],
        has_next=len(rows) > PAGE_SIZE,
        offset=max(offset, 0),
        limit=PAGE_SIZE,
        q=q,
        role=role,
        active=active,
        role_options=_role_options(request),
    )


@router.get("/admin/users/new")
def user_new(request: Request, user: PageUser) -> Response:
    """The form for a new user."""
    require(user, "user:manage")
    return render(
        request,
        "auth/user_new.html",
        form={"role": "agent", "locale": "en"},
        role_options=_role_options(request),
    )


@router.post("/admin/users/new")
async def user_create(request: Request, session: DbSession, user: PageUser) -> Response:
    """Create a user; errors are shown next to their fields and nothing is saved."""
    form = dict(await request.form())
    data: dict[str, Any] = {
        k: (form.get(k) or "").strip()
        for k in ("username", "display_name", "email", "role", "locale")
    }
    data["password"] = form.get("password") or ""
    data["email"] = data["email"] or None
    try:
        created = service.create_user(session, UserCreate(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        return render(
            request,
            "auth/user_new.html",
            status_code=422,
            form=data,
            errors=form_errors(request, exc),
            role_options=_role_options(request),
        )
    flash(request, tr(request, "User %(name)s was created.", name=created.username))
    return redirect(request, f"/admin/users/{created.id}")


def _user_page(
    request: Request, session: DbSession, actor: User, target: User, **extra: Any
) -> Response:
    tokens = service.list_tokens(session, target, actor=actor)
    return render(
        request,
        "auth/user_detail.html",
        target=target,
        tokens=tokens,
        role_options=_role_options(request),
        **extra,
    )


@router.get("/admin/users/{user_id}")
def user_detail(request: Request, session: DbSession, user: PageUser, user_id: int) -> Response:
    """One user: profile, role, status, password reset and API tokens."""
    require(user, "user:manage")
    return _user_page(request, session, user, service.get_user(session, user_id))


@router.post("/admin/users/{user_id}")
async def user_update(
    request: Request, session: DbSession, user: PageUser, user_id: int
) -> Response:
    """Change profile, role or active flag (the last active admin is protected)."""
    require(user, "user:manage")
    form = await request.form()
    target = service.get_user(session, user_id)
    changes: dict[str, Any] = {}
    for key in ("display_name", "email", "role"):
        if key in form:
            value = str(form.get(key) or "").strip()
            changes[key] = value or (None if key == "email" else value)
    if "is_active" in form:
        changes["is_active"] = form.get("is_active") == "1"
    try:
        data = UserUpdate(**changes)
        demoting = (data.role not in (None, "admin")) or data.is_active is False
        if target.role == "admin" and demoting:
            service.ensure_not_last_admin(session, target)
        service.update_user(session, user_id, data, actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status == 401:
            raise
        target = service.get_user(session, user_id)
        return _user_page(
            request, session, user, target, status_code=422, errors=form_errors(request, exc)
        )
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/password")
def user_password(
    request: Request,
    session: DbSession,
    user: PageUser,
    user_id: int,
    password: str = Form(""),
) -> Response:
    """Set a new password; the user's open sessions are logged out."""
    require(user, "user:manage")
    try:
        service.update_user(session, user_id, UserUpdate(password=password), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status == 401:
            raise
        target = service.get_user(session, user_id)
        return _user_page(
            request, session, user, target, status_code=422, errors=form_errors(request, exc)
        )
    flash(request, tr(request, "The password was reset; the user's sessions are logged out."))
    if user_id == user.id:
        log_in(request, service.get_user(session, user_id))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/tokens")
def token_issue(
    request: Request,
    session: DbSession,
    user: PageUser,
    user_id: int,
    name: str = Form(""),
) -> Response:
    """Issue an API token and show it once."""
    require(user, "user:manage")
    target = service.get_user(session, user_id)
    try:
        _, plain = service.issue_token(session, target, name=name.strip()[:100], actor=user)
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403):
            raise
        return _user_page(
            request, session, user, target, status_code=422, errors=form_errors(request, exc)
        )
    return _user_page(request, session, user, target, new_token=plain)


@router.post("/admin/tokens/{token_id}/revoke")
def token_revoke(request: Request, session: DbSession, user: PageUser, token_id: int) -> Response:
    """Revoke an API token."""
    require(user, "user:manage")
    token = service.revoke_token(session, token_id, actor=user)
    flash(request, tr(request, "The token was revoked."))
    return redirect(request, f"/admin/users/{token.user_id}")
