"""Roles and permissions (JSON API): the built-in roles read-only, custom roles editable."""

from __future__ import annotations

from fastapi import APIRouter, Response

from retento.auth import roles
from retento.auth.permission_labels import LABELS
from retento.auth.permissions import ADMIN_ONLY, DESCRIPTIONS, MATRIX, require
from retento.auth.schemas import PermissionRead, RoleCreate, RoleRead, RoleUpdate
from retento.core.deps import CurrentUser, DbSession
from retento.core.errors import NotFound
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.web.i18n import translate

router = APIRouter(tags=["roles"])  # included by auth.routes under /api/v1


@router.get("/permissions", response_model=list[PermissionRead])
def list_permissions(user: CurrentUser):
    """Every permission a role can hold, with its label in English and Chinese."""
    require(user, "user:manage")
    return [
        PermissionRead(
            name=v,
            description=DESCRIPTIONS.get(v, ""),
            label=LABELS.get(v, v),
            label_zh=translate("zh_CN", LABELS.get(v, v)),
            group=v.split(":", 1)[0],
            grantable=v not in ADMIN_ONLY,
        )
        for v in MATRIX
    ]


@router.get("/roles", response_model=list[RoleRead])
def list_roles(session: DbSession, user: CurrentUser):
    """The four built-in roles (read-only), then the custom roles by name."""
    return roles.list_roles(session, user)


@router.post("/roles", response_model=RoleRead, status_code=201)
def create_role(data: RoleCreate, session: DbSession, user: CurrentUser, response: Response):
    """Create a custom role (``user:manage``); user:manage itself cannot be granted (422).
    ``base_role`` (manager, agent or analyst) is the built-in role whose defaults its users get;
    any other value is 422 naming it."""
    role = roles.create_role(session, data, actor=user)
    set_etag(response, role)
    return roles.as_dict(role, 0)


def _one(session, user, name: str) -> dict:
    for r in roles.list_roles(session, user):
        if r["name"].lower() == name.lower():
            return r
    raise NotFound("Role", name)


@router.get("/roles/{name}", response_model=RoleRead)
def get_role(name: str, session: DbSession, user: CurrentUser, response: Response):
    found = _one(session, user, name)
    if found["version"] is not None:
        response.headers["ETag"] = f'"{found["version"]}"'
    return found


@router.patch("/roles/{name}", response_model=RoleRead)
def update_role(
    name: str,
    data: RoleUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change a custom role; a stale ``If-Match`` or ``version`` gets 409, a built-in role 409.
    A new name moves every user holding the role with it."""
    role = roles.update_role(
        session, name, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, role)
    return roles.as_dict(role, roles.holders(session, role.name))


@router.delete("/roles/{name}", status_code=204)
def delete_role(name: str, session: DbSession, user: CurrentUser, if_match: IfMatch = None):
    """Delete a custom role no user holds; 409 naming how many users hold it."""
    roles.delete_role(session, name, actor=user, expected_version=parse_if_match(if_match))
    return Response(status_code=204)
