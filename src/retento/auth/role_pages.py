"""Web pages: the administrators' Roles page (built-in roles read-only, custom roles edited)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from retento.auth import roles
from retento.auth.permission_labels import LABELS, grouped
from retento.auth.permissions import ADMIN_ONLY, BASE_ROLES, MATRIX, ROLES, require
from retento.auth.schemas import RoleCreate, RoleUpdate
from retento.core.deps import DbSession
from retento.core.errors import NotFound, RetentoError
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import (
    label_msgid,
    register_field_labels,
    register_labels,
    register_value_labels,
)
from retento.web.nav import NavItem, register_nav
from retento.web.render import PageUser, flash, form_errors, page_router, redirect, render, tr

router = page_router()

register_nav(NavItem("admin.roles", N_("Roles"), "/admin/roles", "user:manage", 12, "admin"))
register_labels("entity", {"role": N_("Role")})
register_labels("role_scope", {"own": N_("Own customers"), "all": N_("All customers")})
register_field_labels(
    "role",
    {
        "name": N_("Name"),
        "name_zh": N_("Chinese name"),
        "description": N_("Description"),
        "permissions": N_("Permissions"),
        "scope": N_("Works on"),
        "base_role": N_("Works like"),
    },
)
register_value_labels("role", {"scope": "role_scope", "base_role": "role"})
# A custom role's fields on the stale-edit page (web.conflict): the form's labels.
ROLE_LABELS = {
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "description": N_("Description"),
    "scope": N_("Works on"),
    "base_role": N_("Works like"),
    "permissions": N_("Permissions"),
}


def _groups() -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """Permission groups as (group label, [(verb, label, grantable)])."""
    return [
        (group, [(v, LABELS.get(v, v), v not in ADMIN_ONLY) for v in verbs])
        for group, verbs in grouped(MATRIX)
    ]


def _scope_options(request: Request) -> list[tuple[str, str]]:
    return [
        ("own", tr(request, "Own customers (like an agent)")),
        ("all", tr(request, "All customers (like a manager)")),
    ]


def _base_options(request: Request) -> list[tuple[str, str]]:
    return [(r, tr(request, label_msgid("role", r))) for r in BASE_ROLES]


def _form_data(form: Any) -> dict[str, Any]:
    return {
        "name": str(form.get("name") or "").strip(),
        "name_zh": str(form.get("name_zh") or "").strip(),
        "description": str(form.get("description") or "").strip(),
        "scope": str(form.get("scope") or "own").strip(),
        "base_role": str(form.get("base_role") or "agent").strip(),
        "permissions": [p for p in form.getlist("permissions") if isinstance(p, str)],
    }


def _posted(role: dict[str, Any]) -> dict[str, Any]:
    """A custom role as its form posts it unchanged (input name → value, the ticked
    permissions a list): the form's hidden base of a three-way stale-edit page."""
    return {k: role[k] for k in ROLE_LABELS}


def _compared(form: Any) -> dict[str, Any]:
    """Role form inputs → the values the stale-edit page compares (read as a save reads them;
    the permissions in the matrix's order, as stored, whatever order the boxes came in)."""
    out = RoleUpdate(**_form_data(form)).model_dump(exclude_unset=True, exclude={"version"})
    order = {p: i for i, p in enumerate(MATRIX)}
    out["permissions"] = sorted(
        out.get("permissions") or [], key=lambda p: order.get(p, len(order))
    )
    return out


def _form(request: Request, *, role: dict[str, Any] | None, form: dict[str, Any], **extra: Any):
    """The role form; a custom role's carries the values it was loaded with (``base``, for the
    stale-edit page; ``extra`` keeps the loaded ones when it comes back with errors)."""
    if role is not None and not role["builtin"]:
        extra.setdefault("base", _posted(role))
    return render(
        request,
        "auth/role_form.html",
        role=role,
        form=form,
        groups=_groups(),
        scope_options=_scope_options(request),
        base_options=_base_options(request),
        **extra,
    )


@router.get("/admin/roles")
def roles_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Every role with how many users hold it, and the permission matrix."""
    rows = roles.list_roles(session, user)
    held = {r["name"]: set(r["permissions"]) for r in rows}
    return render(request, "auth/roles.html", rows=rows, held=held, groups=_groups(), builtin=ROLES)


@router.get("/admin/roles/new")
def role_new(request: Request, user: PageUser) -> Response:
    """The form for a new custom role."""
    require(user, "user:manage")
    # Every built-in role may keep API tokens of its own: checked to start with.
    return _form(
        request,
        role=None,
        form={"scope": "own", "base_role": "agent", "permissions": ["token:own"]},
        errors={},
    )


@router.post("/admin/roles/new")
def role_create(request: Request, raw: PageForm, session: DbSession, user: PageUser) -> Response:
    """Create a custom role; errors are shown next to their fields and nothing is saved."""
    require(user, "user:manage")
    data = _form_data(raw)
    try:
        created = roles.create_role(session, RoleCreate(**data), actor=user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        status = 409 if isinstance(exc, RetentoError) and exc.status == 409 else 422
        return _form(
            request, role=None, form=data, errors=form_errors(request, exc), status_code=status
        )
    flash(request, tr(request, "Role %(name)s was created.", name=created.name))
    return redirect(request, f"/admin/roles/{created.name}")


def _one(session, user, name: str) -> dict[str, Any]:
    for r in roles.list_roles(session, user):
        if r["name"].lower() == name.lower():
            return r
    raise NotFound("Role", name)


@router.get("/admin/roles/{name}")
def role_detail(request: Request, session: DbSession, user: PageUser, name: str) -> Response:
    """A built-in role (read-only) or the edit form of a custom one."""
    role = _one(session, user, name[:40])
    return _form(request, role=role, form=role, errors={})


@router.post("/admin/roles/{name}")
def role_update(
    request: Request, raw: PageForm, session: DbSession, user: PageUser, name: str
) -> Response:
    """Save a custom role; a form loaded before someone else saved gets the conflict page
    (409), three-way: what this form changed against what is stored now."""
    require(user, "user:manage")
    data = _form_data(raw)
    try:
        expected = form_version(raw)
        changed = roles.update_role(
            session, name[:40], RoleUpdate(**data), actor=user, expected_version=expected
        )
    except STALE:
        session.rollback()
        current = roles.get_role(session, name[:40])
        stored = _one(session, user, current.name)
        return conflict_page(
            request,
            session,
            entity="role",
            record=current,
            title=current.name,
            submitted=_compared(raw),
            current={k: stored[k] for k in ROLE_LABELS},
            labels=ROLE_LABELS,
            form=raw,
            action=f"/admin/roles/{current.name}",
            reload_url=f"/admin/roles/{current.name}",
            cancel_url="/admin/roles",
            expected=expected,
            base=read_base(raw, _compared),
            current_form=_posted(stored),
            shown={"permissions": lambda v: _permission_names(request, v)},
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        role = _one(session, user, name[:40])
        status = 409 if isinstance(exc, RetentoError) and exc.status == 409 else 422
        shown = {**role, **data, "version": raw.get("version")}
        errors = form_errors(request, exc)
        return _form(
            request, role=role, form=shown, errors=errors, status_code=status, base=form_base(raw)
        )
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, f"/admin/roles/{changed.name}")


def _permission_names(request: Request, verbs: Any) -> str:
    """Permissions as the form names them, on the stale-edit page."""
    return ", ".join(tr(request, LABELS.get(v, v)) for v in verbs or []) or "—"


@router.post("/admin/roles/{name}/delete")
def role_delete(
    request: Request, raw: PageForm, session: DbSession, user: PageUser, name: str
) -> Response:
    """Delete a custom role no user holds (409 with how many do, otherwise)."""
    require(user, "user:manage")
    try:
        roles.delete_role(session, name[:40], actor=user, expected_version=form_version(raw))
    except STALE:
        session.rollback()
        role = _one(session, user, name[:40])
        msg = tr(request, "Someone else changed this role meanwhile. Look at it again first.")
        return _form(request, role=role, form=role, errors={"": msg}, status_code=409)
    except RetentoError as exc:
        session.rollback()
        if exc.status != 409:
            raise
        role = _one(session, user, name[:40])
        return _form(
            request, role=role, form=role, errors=form_errors(request, exc), status_code=409
        )
    flash(request, tr(request, "Role %(name)s was deleted.", name=name))
    return redirect(request, "/admin/roles")
