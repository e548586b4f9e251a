"""Web pages: log in and out, and the administrators' user management."""

from __future__ import annotations

from typing import Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from retento.auth import roles, service
from retento.auth.models import User
from retento.auth.permissions import ROLES, require
from retento.auth.schemas import UserCreate, UserRead, UserUpdate
from retento.auth.throttle import LoginThrottled, client_ip
from retento.auth.web_session import (
    change_password,
    log_in,
    log_out,
    throttled_message,
    translated,
)
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, Msg, RetentoError, Unauthorized
from retento.core.validation import DbId
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm
from retento.web.i18n import LANGUAGE_NAMES, N_
from retento.web.labels import register_field_labels, register_labels, register_value_labels
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
register_labels("entity", {"user_sessions": N_("User sessions")})
# A user's language by its own name (as the language switch shows it); the audit log names
# these values through gettext, so a Chinese reader sees "English" as 英语.
register_labels("user_locale", LANGUAGE_NAMES)
register_value_labels("user", {"role": "role", "locale": "user_locale"})

PAGE_SIZE = 50


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
    """Check the password and start the session; the same message whatever was wrong.

    Throttled per account and per client address: 429 with ``Retry-After`` while backing off."""
    try:
        user = service.login(
            request.app.state.session_factory,
            session,
            request.app.state.settings,
            username,
            password,
            client_ip=client_ip(request),
        )
    except LoginThrottled as exc:
        return render(
            request,
            "auth/login.html",
            status_code=429,
            headers=exc.headers,
            next=safe_next(next),
            form={"username": username},
            errors={"": throttled_message(request, exc.retry_after)},
        )
    except Unauthorized:
        return render(
            request,
            "auth/login.html",
            status_code=401,
            next=safe_next(next),
            form={"username": username},
            errors={"": tr(request, "Wrong username or password.")},
        )
    log_in(request, session, user)
    return redirect(request, safe_next(next))


@router.post("/logout")
def logout(request: Request, session: DbSession) -> Response:
    """End the session server-side (a copied cookie stops working too) and show the login page."""
    log_out(request, session)
    return redirect(request, "/login")


def _role_options(request: Request, session: DbSession) -> list[tuple[str, str]]:
    """The built-in roles by their translated names, then the custom roles (auth.roles) by
    name, with the Chinese name for a Chinese reader."""
    from retento.web.labels import label_msgid
    from retento.web.render import request_locale

    zh = request_locale(request) == "zh_CN"
    return [(r, tr(request, label_msgid("role", r))) for r in ROLES] + [
        (name, f"{name_zh} ({name})" if zh and name_zh else name)
        for name, name_zh, _ in roles.role_choices(session)
    ]


@router.get("/admin/users")
def users_list(
    request: Request,
    session: DbSession,
    user: PageUser,
    q: str = "",
    role: str = "",
    active: str = "",
    manager: str = "",
    offset: int = 0,
) -> Response:
    """All users, filtered by name, role, status and team (a manager's direct reports)."""
    active_flag = {"1": True, "0": False}.get(active)
    manager = manager.strip()
    if manager and not (manager.isdigit() and len(manager) <= 18):
        raise InvalidInput(Msg("Unknown manager '%(value)s'.", value=manager[:40]), field="manager")
    rows, _ = service.list_users(
        session,
        user,
        q=q or None,
        role=role or None,
        active=active_flag,
        manager_id=int(manager) if manager else None,
        sort="username",
        limit=PAGE_SIZE + 1,
        offset=max(offset, 0),
    )
    has_next, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    # The "team of" filter offers every user who has reports; the column names each manager.
    leads = service.team_leads(session, also=int(manager) if manager else None)
    template = "auth/_users_table.html" if request.headers.get("hx-target") else "auth/users.html"
    return render(
        request,
        template,
        rows=rows,
        has_next=has_next,
        offset=max(offset, 0),
        limit=PAGE_SIZE,
        q=q,
        role=role,
        active=active,
        manager=manager,
        role_options=_role_options(request, session),
        managers=service.user_names(session, {u.manager_id for u in rows}),
        team_options=sorted(
            ((str(i), name) for i, name in leads.items()), key=lambda p: p[1].casefold()
        ),
    )


@router.get("/admin/users/new")
def user_new(request: Request, session: DbSession, user: PageUser) -> Response:
    """The form for a new user."""
    require(user, "user:manage")
    return render(
        request,
        "auth/user_new.html",
        form={"role": "agent", "locale": "en"},
        role_options=_role_options(request, session),
        manager_options=service.manager_choices(session),
    )


@router.post("/admin/users/new")
def user_create(request: Request, raw: PageForm, session: DbSession, user: PageUser) -> Response:
    """Create a user; errors are shown next to their fields and nothing is saved."""
    # Before reading the form: one who may not manage users gets 403, not the form (with its
    # list of every user) back with the fields they left empty.
    require(user, "user:manage")
    form = dict(raw)
    data: dict[str, Any] = {
        k: (form.get(k) or "").strip()
        for k in ("username", "display_name", "email", "role", "locale")
    }
    data["password"] = form.get("password") or ""
    data["email"] = data["email"] or None
    data["manager_id"] = str(form.get("manager_id") or "").strip() or None
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
            errors=translated(request, form_errors(request, exc)),
            role_options=_role_options(request, session),
            manager_options=service.manager_choices(session),
        )
    flash(request, tr(request, "User %(name)s was created.", name=created.username))
    return redirect(request, f"/admin/users/{created.id}")


def _user_page(
    request: Request, session: DbSession, actor: User, target: User, **extra: Any
) -> Response:
    """One user's page; its profile form carries the values it was loaded with (``base``, for
    the stale-edit page; ``extra`` keeps the loaded ones when it comes back with errors)."""
    extra.setdefault("base", _user_posted(target))
    tokens = service.list_tokens(session, target, actor=actor)
    open_sessions = service.list_sessions(
        session,
        target,
        actor=actor,
        idle_seconds=request.app.state.settings.session_max_age_seconds,
    )
    return render(
        request,
        "auth/user_detail.html",
        target=target,
        tokens=tokens,
        sessions=open_sessions,
        current_session_id=getattr(request.state, "session_row_id", None),
        role_options=_role_options(request, session),
        manager_options=service.manager_choices(session, target),
        manager_name=service.user_names(session, {target.manager_id}).get(target.manager_id),
        report_count=len(service.report_ids(session, target.id)),
        **extra,
    )


# Field names of UserUpdate → labels, for the stale-edit page (web.conflict).
USER_FIELD_LABELS = {
    "display_name": N_("Name"),
    "email": N_("Email"),
    "role": N_("Role"),
    "is_active": N_("Active"),
    "manager_id": N_("Manager"),
}
register_field_labels("user", {"manager_id": N_("Manager")})


def _user_posted(target: User) -> dict[str, str]:
    """The user as the profile form posts it unchanged (input name → value): the form's hidden
    base of a three-way stale-edit page (``web.conflict``), read back by ``_user_changes``."""
    return {
        "display_name": target.display_name or "",
        "email": target.email or "",
        "role": target.role,
        "manager_id": "" if target.manager_id is None else str(target.manager_id),
    }


def _user_changes(form: Any) -> dict[str, Any]:
    """The fields a user form sends (the profile form, or the header's deactivate button)."""
    changes: dict[str, Any] = {}
    for key in ("display_name", "email", "role"):
        if key in form:
            value = str(form.get(key) or "").strip()
            changes[key] = value or (None if key == "email" else value)
    if "is_active" in form:
        # "1" or "0" from the buttons; anything else is refused (422), not read as "deactivate".
        raw = form.get("is_active")
        if raw not in ("0", "1"):
            raise InvalidInput(N_("Choose one of the listed values."), field="is_active")
        changes["is_active"] = raw == "1"
    if "manager_id" in form:
        changes["manager_id"] = str(form.get("manager_id") or "").strip() or None
    if "reports_to" in form:
        # Deactivating a manager: who their reports move to (service.move_reports).
        changes["reports_to"] = str(form.get("reports_to") or "").strip() or None
    return changes


@router.get("/admin/users/{user_id}")
def user_detail(request: Request, session: DbSession, user: PageUser, user_id: DbId) -> Response:
    """One user: profile, role, status, password reset and API tokens."""
    require(user, "user:manage")
    return _user_page(request, session, user, service.get_user(session, user_id))


@router.post("/admin/users/{user_id}")
def user_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, user_id: DbId
) -> Response:
    """Change profile, role, manager or active flag (the last active admin is protected)."""
    require(user, "user:manage")
    target = service.get_user(session, user_id)
    try:
        data = UserUpdate(**_user_changes(form))
        demoting = (data.role not in (None, "admin")) or data.is_active is False
        if target.role == "admin" and demoting:
            service.ensure_not_last_admin(session, target)
        expected = form_version(form)
        service.update_user(session, user_id, data, actor=user, expected_version=expected)
    except STALE:
        session.rollback()
        current = service.get_user(session, user_id)
        submitted = data.model_dump(exclude_unset=True, exclude={"version"})
        stored = UserRead.model_validate(current).model_dump()
        base = read_base(
            form,
            lambda v: UserUpdate(**_user_changes(v)).model_dump(
                exclude_unset=True, exclude={"version"}
            ),
        )
        # The manager by name on every side, not by id.
        sides = [submitted, stored, *([base] if base is not None else [])]
        names = service.user_names(session, {v.get("manager_id") for v in sides})
        for values in sides:
            if values.get("manager_id") is not None:
                values["manager_id"] = names.get(values["manager_id"], values["manager_id"])
        return conflict_page(
            request,
            session,
            entity="user",
            record=current,
            title=current.username,
            submitted=submitted,
            current=stored,
            labels=USER_FIELD_LABELS,
            form=form,
            action=f"/admin/users/{user_id}",
            reload_url=f"/admin/users/{user_id}",
            cancel_url=f"/admin/users/{user_id}",
            expected=expected,
            base=base,
            current_form=_user_posted(current),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status == 401:
            raise
        target = service.get_user(session, user_id)
        errors = translated(request, form_errors(request, exc))
        if "is_active" in errors:
            # The header's button has no field to mark: its reason goes on top of the page.
            errors.setdefault("", errors.pop("is_active"))
        return _user_page(
            request,
            session,
            user,
            target,
            status_code=422,
            errors=errors,
            version=str(form.get("version") or ""),  # kept: the re-shown form still detects
            base=form_base(form),
        )
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/password")
def user_password(
    request: Request,
    session: DbSession,
    user: PageUser,
    user_id: DbId,
    password: str = Form(""),
    current_password: str = Form(""),
) -> Response:
    """Set a new password (``change_password``)."""
    require(user, "user:manage")

    def page(status_code: int, errors: dict[str, str], headers: Any) -> Response:
        target = service.get_user(session, user_id)
        extra = {"headers": headers} if headers else {}
        return _user_page(
            request, session, user, target, status_code=status_code, errors=errors, **extra
        )

    return change_password(
        request, session, user, user_id, password, current_password,
        page=page, done_url=f"/admin/users/{user_id}",
    )  # fmt: skip


@router.post("/admin/users/{user_id}/sessions/revoke")
def user_sessions_revoke(
    request: Request, session: DbSession, user: PageUser, user_id: DbId
) -> Response:
    """Log the user out everywhere: every open web session ends at once (API tokens stay)."""
    require(user, "user:manage")
    target = service.get_user(session, user_id)
    n = service.log_out_everywhere(session, target, actor=user)
    if target.id == user.id:
        log_out(request, session)
        return redirect(request, "/login")
    flash(request, tr(request, "%(n)s open sessions were ended.", n=n))
    return redirect(request, f"/admin/users/{user_id}")


@router.post("/admin/users/{user_id}/tokens")
def token_issue(
    request: Request,
    session: DbSession,
    user: PageUser,
    user_id: DbId,
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
def token_revoke(request: Request, session: DbSession, user: PageUser, token_id: DbId) -> Response:
    """Revoke an API token."""
    require(user, "user:manage")
    token = service.revoke_token(session, token_id, actor=user)
    flash(request, tr(request, "The token was revoked."))
    return redirect(request, f"/admin/users/{token.user_id}")


# The Roles page and the Settings hub: their own modules, served with these pages.
from retento.auth import account_pages, role_pages, settings_hub  # noqa: E402

router.include_router(role_pages.router)
router.include_router(settings_hub.router)
router.include_router(account_pages.router)
