"""Custom roles: create, edit and delete them; keep each process's cache of their permissions.

The four built-in roles (``permissions.ROLES``) are fixed in code and shown read-only. A custom
role is a row of ``roles``; ``users.role`` holds its name. Invariants:

- a role is deleted only when no user holds it (409 naming how many do), and a user is never
  left holding a deleted or renamed-away role: deleting or renaming a role locks its row
  ``FOR UPDATE``; giving a user a custom role first takes ``FOR KEY SHARE`` on it
  (:func:`check_role`), so the two wait for each other and the second re-reads (on SQLite the
  writers are serialised anyway);
- no custom role holds ``user:manage`` (``permissions.ADMIN_ONLY``): whoever manages users can
  make themself an administrator, so that permission is the admin role itself;
- every change replaces the random stamp of ``role_stamp`` in the same transaction; each
  request reads the stamp with its user (``auth.sessions``, ``auth.service.user_for_bearer``)
  and reloads this process's cache only when it differs (:func:`seen`).

A custom role also "works like" a built-in role (``base_role``: manager, agent or analyst):
wherever defaults are picked by role — home dashboard, notification defaults and recipients,
the complaint queue's tabs, the retention alerts' scope, public intake's owner — its users get
that role's (``permissions.base_role``). Permissions never follow it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth import permissions
from retento.auth.models import Role, RoleStamp, User
from retento.auth.permissions import ADMIN_ONLY, MATRIX, ROLES, base_role, can, require
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.versioning import check_version
from retento.web.i18n import translate
from retento.web.labels import label_msgid

if TYPE_CHECKING:
    from retento.auth.schemas import RoleCreate, RoleUpdate

SCOPES = ("own", "all")


# --- the cache ---------------------------------------------------------------------------------


def stamp_column() -> Any:
    """The current stamp as a scalar subquery: read in the same statement as the user."""
    return select(RoleStamp.stamp).where(RoleStamp.id == 1).scalar_subquery().label("role_stamp")


def seen(session: Session, stamp: str | None) -> None:
    """Reload this process's custom roles if ``stamp`` (read with the user) is not the one
    loaded; free otherwise."""
    if stamp is None or stamp != permissions.custom_roles().stamp:
        load(session, stamp)


def sync(session: Session) -> None:
    """Read the stamp and reload if needed (the CLI, jobs and tests, which load no user)."""
    seen(session, session.scalar(select(RoleStamp.stamp).where(RoleStamp.id == 1)))


def load(session: Session, stamp: str | None) -> None:
    rows = session.execute(
        select(Role.name, Role.permissions, Role.scope, Role.base_role, Role.name_zh)
    ).all()
    permissions.install_custom_roles(
        stamp,
        {name: frozenset(p for p in perms or () if p in MATRIX) for name, perms, *_ in rows},
        {name: scope for name, _, scope, *_ in rows},
        {name: base for name, _, _, base, _ in rows},
        {name: zh or "" for name, *_, zh in rows},
    )


def _bump(session: Session) -> None:
    """Replace the stamp (same transaction as the change) and reload this process's cache."""
    new = uuid.uuid4().hex
    done = session.execute(update(RoleStamp).where(RoleStamp.id == 1).values(stamp=new))
    if not done.rowcount:  # type: ignore[attr-defined]
        session.add(RoleStamp(id=1, stamp=new))
    session.flush()
    load(session, new)


# --- reading -----------------------------------------------------------------------------------


def holders(session: Session, name: str) -> int:
    """How many users (active or not) hold role ``name``."""
    return session.scalar(select(func.count()).select_from(User).where(User.role == name)) or 0


def holder_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(User.role, func.count()).group_by(User.role)).all())  # type: ignore[arg-type]


def list_roles(session: Session, actor: User) -> list[dict[str, Any]]:
    """Every role: the four built-in ones (read-only), then the custom ones by name."""
    require(actor, "user:manage")
    counts = holder_counts(session)
    out = [
        {
            "id": None,
            "name": r,
            "name_zh": translate("zh_CN", label_msgid("role", r)),
            "description": label_msgid("role", r),
            "builtin": True,
            "scope": "all" if r in ("admin", "manager", "analyst") else "own",
            "base_role": r,
            "permissions": sorted(permissions.role_permissions(r), key=list(MATRIX).index),
            "users": counts.get(r, 0),
            "version": None,
        }
        for r in ROLES
    ]
    for role in session.scalars(select(Role).order_by(Role.name)):
        out.append(as_dict(role, counts.get(role.name, 0)))
    return out


def as_dict(role: Role, users: int) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "name_zh": role.name_zh,
        "description": role.description,
        "builtin": False,
        "scope": role.scope,
        "base_role": role.base_role,
        "permissions": [p for p in MATRIX if p in set(role.permissions or ())],
        "users": users,
        "version": role.version,
    }


def get_role(session: Session, name: str) -> Role:
    role = session.scalar(select(Role).where(func.lower(Role.name) == name.lower()))
    if role is None:
        raise NotFound("Role", name)
    return role


def role_choices(session: Session) -> list[tuple[str, str, str]]:
    """(name, name_zh, description) of every custom role, by name: for role pickers."""
    return [
        (n, zh, d)
        for n, zh, d in session.execute(
            select(Role.name, Role.name_zh, Role.description).order_by(Role.name)
        )
    ]


def check_role_filter(session: Session, name: str) -> None:
    """A list filter's role: a built-in or custom one, else 422 naming ``role`` (a misspelt
    role would list nobody)."""
    if name not in ROLES and session.scalar(select(Role.id).where(Role.name == name)) is None:
        raise InvalidInput(Msg("There is no role '%(role)s'.", role=name[:40]), field="role")


def check_role(session: Session, name: str) -> None:
    """The one check of a role being given to a user (API, web form, CLI): a built-in role or an
    existing custom one, whose row is then held ``FOR KEY SHARE`` until the transaction ends,
    so it cannot be deleted or renamed before the user is saved. 422 naming ``role``."""
    if name in ROLES:
        return
    found = session.scalar(
        select(Role.id).where(Role.name == name).with_for_update(read=True, key_share=True)
    )
    if found is None:
        raise InvalidInput(Msg("There is no role '%(role)s'.", role=name[:40]), field="role")


def works_like(session: Session, role: str) -> str:
    """``permissions.base_role`` with this process's cache made current first (for a custom
    role only): for code that runs without a signed-in user's request having refreshed it —
    jobs, the worker, public forms."""
    if role not in ROLES:
        sync(session)
    return base_role(role)


def users_working_like(session: Session, *bases: str, verb: str | None = None) -> list[User]:
    """Active users whose role is one of the built-in roles ``bases`` or a custom role working
    like one of them, holding ``verb`` when given (a custom role need not hold every
    permission of its base role), by id: who gets "every manager's" notifications. The cache
    is made current first: notifications are raised by jobs and public forms too."""
    sync(session)
    names = [r for r in ROLES if r in bases]
    names += sorted(n for n, b in permissions.custom_roles().bases.items() if b in bases)
    found = session.scalars(
        select(User).where(User.is_active.is_(True), User.role.in_(names)).order_by(User.id)
    )
    return [u for u in found if verb is None or can(u, verb)]


# --- changing ----------------------------------------------------------------------------------


def _check_permissions(perms: list[str]) -> list[str]:
    unknown = [p for p in perms if p not in MATRIX]
    if unknown:
        raise InvalidInput(
            Msg("Unknown permission '%(permission)s'.", permission=unknown[0][:60]),
            field="permissions",
        )
    refused = [p for p in perms if p in ADMIN_ONLY]
    if refused:
        raise InvalidInput(
            Msg(
                "A custom role cannot hold %(permission)s: whoever manages users can make "
                "themself an administrator. Give the user the admin role instead.",
                permission=refused[0],
            ),
            field="permissions",
        )
    chosen = set(perms)
    return [p for p in MATRIX if p in chosen]


def _check_name(session: Session, name: str, *, other_than: int | None = None) -> None:
    if name.lower() in ROLES:
        raise Conflict(Msg("'%(name)s' is a built-in role.", name=name), field="name")
    stmt = select(Role.id).where(func.lower(Role.name) == name.lower())
    if other_than is not None:
        stmt = stmt.where(Role.id != other_than)
    if session.scalar(stmt) is not None:
        raise Conflict(Msg("A role named '%(name)s' already exists.", name=name), field="name")


def create_role(session: Session, data: RoleCreate, *, actor: User | None) -> Role:
    """Create a custom role (``user:manage``; ``actor=None`` is the CLI); audited."""
    if actor is not None:
        require(actor, "user:manage")
    _check_name(session, data.name)
    role = Role(
        name=data.name,
        name_zh=data.name_zh,
        description=data.description,
        permissions=_check_permissions(data.permissions),
        scope=data.scope,
        base_role=data.base_role,
    )
    session.add(role)
    session.flush()
    record(session, actor, "create", "role", role.id, None, snapshot(role))
    _bump(session)
    return role


def _lock(session: Session, name: str) -> Role:
    """The custom role ``name`` locked ``FOR UPDATE`` (waits for anyone giving it to a user)."""
    if name.lower() in ROLES:
        raise Conflict(
            Msg("'%(name)s' is a built-in role: it cannot be changed or deleted.", name=name),
            field="name",
        )
    role = session.scalar(
        select(Role)
        .where(func.lower(Role.name) == name.lower())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if role is None:
        raise NotFound("Role", name)
    return role


def update_role(
    session: Session,
    name: str,
    data: RoleUpdate,
    *,
    actor: User | None,
    expected_version: int | None = None,
) -> Role:
    """Change a custom role's name, Chinese name, description, scope, base role or
    permissions; a stale ``version``/If-Match gets 409. A new name is carried to every user
    holding the role."""
    if actor is not None:
        require(actor, "user:manage")
    role = _lock(session, name)
    check_version(role, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    before = snapshot(role)
    if "permissions" in changes:
        changes["permissions"] = _check_permissions(changes["permissions"])
    old_name = role.name
    if "name" in changes and changes["name"] != old_name:
        _check_name(session, changes["name"], other_than=role.id)
    for key, value in changes.items():
        setattr(role, key, value)
    session.flush()
    if role.name != old_name:
        moved = session.execute(
            update(User)
            .where(User.role == old_name)
            .values(role=role.name, version=User.version + 1)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        session.expire_all()
        after = snapshot(role, {"users_renamed": moved})
    else:
        after = snapshot(role)
    record(session, actor, "update", "role", role.id, before, after)
    _bump(session)
    return role


def delete_role(
    session: Session, name: str, *, actor: User | None, expected_version: int | None = None
) -> None:
    """Delete a custom role no user holds (409 naming how many do); audited."""
    if actor is not None:
        require(actor, "user:manage")
    role = _lock(session, name)
    check_version(role, expected_version)
    n = holders(session, role.name)
    if n:
        raise Conflict(
            Msg(
                "%(n)s user(s) hold the role '%(name)s': give them another role first.",
                n=n,
                name=role.name,
            ),
            field="name",
        )
    before = snapshot(role)
    session.delete(role)
    session.flush()
    record(session, actor, "delete", "role", before["id"], before, None)
    _bump(session)
