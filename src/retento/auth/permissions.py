"""The permission matrix, enforced in services; docs/permissions.md is generated from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retento.auth.permission_labels import LABELS as PERMISSION_LABELS
from retento.core.errors import Forbidden, Msg, Named
from retento.web.labels import label_msgid

if TYPE_CHECKING:
    from retento.auth.models import User

ROLES = ("admin", "manager", "agent", "analyst")
# What a custom role may "work like" (``base_role``): the built-in role whose defaults it gets
# (home dashboard, notification defaults, complaint queue tab). Not admin: the admin role is
# given, never imitated.
BASE_ROLES = ("manager", "agent", "analyst")

ENTITIES = ("customer", "product", "order", "touchpoint")

# verb -> roles allowed. "own" in AGENT_SCOPED means: only for customers the agent owns or is
# assigned to. Analysts read everything and change nothing.
MATRIX: dict[str, set[str]] = {
    "customer:read": {"admin", "manager", "agent", "analyst"},
    "customer:create": {"admin", "manager", "agent"},
    "customer:update": {"admin", "manager", "agent"},
    "customer:delete": {"admin", "manager"},
    "customer:archive": {"admin", "manager"},
    "customer:export": {"admin", "manager"},
    "customer:erase": {"admin", "manager"},
    "customer:assign": {"admin", "manager"},
    "product:read": {"admin", "manager", "agent", "analyst"},
    "product:create": {"admin", "manager"},
    "product:update": {"admin", "manager"},
    "product:delete": {"admin", "manager"},
    "order:read": {"admin", "manager", "agent", "analyst"},
    "order:create": {"admin", "manager", "agent"},
    "order:update": {"admin", "manager", "agent"},
    "order:delete": {"admin", "manager"},
    "touchpoint:read": {"admin", "manager", "agent", "analyst"},
    "touchpoint:create": {"admin", "manager", "agent"},
    "touchpoint:update": {"admin", "manager", "agent"},
    "touchpoint:delete": {"admin", "manager", "agent"},
    "score:read": {"admin", "manager", "agent", "analyst"},
    "score:run": {"admin", "manager", "analyst"},
    "score:configure": {"admin", "manager"},
    "insight:manage": {"admin", "manager", "analyst"},
    "survey:read": {"admin", "manager", "agent", "analyst"},
    "survey:manage": {"admin", "manager"},
    "survey:respond": {"admin", "manager", "agent"},
    "survey:import": {"admin", "manager"},
    "complaint:read": {"admin", "manager", "agent", "analyst"},
    "complaint:create": {"admin", "manager", "agent"},
    "complaint:update": {"admin", "manager", "agent"},
    "complaint:assign": {"admin", "manager"},
    "complaint:improve": {"admin", "manager"},
    "sla:manage": {"admin", "manager"},
    "loyalty:read": {"admin", "manager", "agent", "analyst"},
    "loyalty:redeem": {"admin", "manager", "agent"},
    "loyalty:adjust": {"admin", "manager"},
    "loyalty:manage": {"admin", "manager"},
    "retention:read": {"admin", "manager", "agent", "analyst"},
    "retention:work": {"admin", "manager", "agent"},
    "retention:manage": {"admin", "manager"},
    "data:import": {"admin", "manager"},
    "data:export": {"admin", "manager", "analyst"},
    "demo:generate": {"admin"},
    "user:manage": {"admin"},
    "audit:read": {"admin"},
    "work:read": {"admin"},
    "work:retry": {"admin"},
    "mail:manage": {"admin"},
    "token:own": {"admin", "manager", "agent", "analyst"},
}

# Verbs an agent may use only on customers they own or are assigned to (and on those customers'
# orders and touchpoints).
AGENT_SCOPED = {
    "customer:update",
    "order:create",
    "order:update",
    "touchpoint:create",
    "touchpoint:update",
    "touchpoint:delete",
    "complaint:update",
}

DESCRIPTIONS = {
    "customer:read": "see customers, their contacts, tags and 360 page",
    "customer:create": "create customers (an agent becomes the owner)",
    "customer:update": "edit customers, contacts, tags, consent",
    "customer:delete": "permanently delete a customer entered by mistake (refused while orders, "
    "refunds or complaints exist)",
    "customer:archive": "archive and restore customers (hidden from lists, search, scoring and "
    "surveys; history kept)",
    "customer:export": "download everything held about one customer (privacy access request)",
    "customer:erase": "erase a customer's personal data (privacy erasure request; financial "
    "records kept)",
    "customer:assign": "change a customer's owner or assigned agents",
    "score:read": "see value scores, CLV, P(alive), the value dashboard",
    "score:run": "start a scoring run or a loyalty-type measurement (CLV models, pyramid, "
    "stages); analysts too (SPEC 9: models)",
    "score:configure": "change the value settings the next scoring run applies (pyramid "
    "shares, thresholds: a business decision, not a model run)",
    "insight:manage": "run Insights analyses (segments, baskets, sequences); save, rename and "
    "delete segments",
    "survey:read": "see surveys, responses, satisfaction results and the CSI",
    "survey:manage": "build, distribute, close and delete surveys",
    "survey:respond": "enter answers given on the phone, on paper or on site",
    "survey:import": "import survey responses from CSV/XLSX",
    "complaint:read": "see complaints, their timelines, queues and the complaints dashboard",
    "complaint:create": "record complaints and grumbles from any channel",
    "complaint:update": "work complaints (agents: assigned to them or of customers they own)",
    "complaint:assign": "assign and reassign complaints to agents and teams",
    "complaint:improve": "keep the PDCA improvement log",
    "sla:manage": "edit SLA policies and business calendars",
    "loyalty:read": "see members' points, lots, tiers and the loyalty dashboard",
    "loyalty:redeem": "redeem rewards at the counter, hold and confirm points",
    "loyalty:adjust": "adjust points by hand and reverse journals",
    "loyalty:manage": "configure the loyalty programme: tiers, rules, rewards, clubs",
    "retention:read": "see churn alerts, win-back cases, tasks and the uplift report",
    "retention:work": "acknowledge and close alerts, apply playbooks, work win-back tasks "
    "(agents: their own)",
    "retention:manage": "configure warning rules, playbooks and the retention settings",
    "data:import": "import CSV/XLSX files",
    "data:export": "export lists as CSV",
    "demo:generate": "generate demo data",
    "user:manage": "create users, change roles, deactivate, reset passwords",
    "audit:read": "read the audit log",
    "work:read": "see every queued and running background work item and the scheduled jobs",
    "work:retry": "run a failed background work item again (kinds that are safe to repeat)",
    "mail:manage": "see the email outbox, retry failed emails, send a test email",
    "token:own": "create and revoke one's own API tokens",
}


# --- custom roles ----------------------------------------------------------------------------
# Custom roles (auth.roles) live in the database; each process keeps their permissions here,
# replaced as a whole (one reference swap: safe across threads) when the role stamp read with
# the user of a request differs from the one loaded (auth.roles.seen). ``can`` itself never
# queries: a permission check costs a dict look-up whatever the role.


class CustomRoles:
    """The custom roles a process knows: name -> permissions, name -> scope, name -> base
    role and name -> Chinese name."""

    __slots__ = ("stamp", "permissions", "scopes", "bases", "names_zh")

    def __init__(
        self,
        stamp: str | None,
        permissions: dict[str, frozenset[str]],
        scopes: dict[str, str],
        bases: dict[str, str] | None = None,
        names_zh: dict[str, str] | None = None,
    ):
        self.stamp = stamp
        self.permissions = permissions
        self.scopes = scopes
        self.bases = bases or {}
        self.names_zh = names_zh or {}


_custom = CustomRoles(None, {}, {})

# Permissions no custom role may hold: whoever can manage users can make themself an
# administrator, so the permission is as good as the admin role itself (give that instead).
ADMIN_ONLY = frozenset({"user:manage"})

BUILTIN_PERMISSIONS: dict[str, frozenset[str]] = {
    role: frozenset(v for v, roles in MATRIX.items() if role in roles) for role in ROLES
}


def install_custom_roles(
    stamp: str | None,
    permissions: dict[str, frozenset[str]],
    scopes: dict[str, str],
    bases: dict[str, str] | None = None,
    names_zh: dict[str, str] | None = None,
) -> None:
    """Replace this process's custom roles (auth.roles loads them)."""
    global _custom
    _custom = CustomRoles(stamp, permissions, scopes, bases, names_zh)


def custom_roles() -> CustomRoles:
    return _custom


def is_builtin(role: str) -> bool:
    return role in ROLES


def base_role(role: str) -> str:
    """The built-in role whose defaults ``role`` gets (home dashboard, notification defaults,
    the complaint queue's tabs): a built-in role itself, a custom role the one it works like
    (``Role.base_role``), an unknown role none (""). Never a permission: checks use
    :func:`can`."""
    if role in ROLES:
        return role
    return _custom.bases.get(role, "")


def role_permissions(role: str) -> frozenset[str]:
    """What ``role`` may do (built-in or custom; an unknown role may do nothing)."""
    if role == "admin":
        return frozenset(MATRIX)
    builtin = BUILTIN_PERMISSIONS.get(role)
    if builtin is not None:
        return builtin
    return _custom.permissions.get(role, frozenset())


def roles_holding(verb: str) -> tuple[str, ...]:
    """Every role (built-in first, then custom) that may use ``verb``."""
    return tuple(ROLES_BY_VERB[verb]) + tuple(
        sorted(r for r, perms in _custom.permissions.items() if verb in perms)
    )


ROLES_BY_VERB = {verb: [r for r in ROLES if r in roles] for verb, roles in MATRIX.items()}


def acts_on_all(user: User) -> bool:
    """True if ``user``'s scoped verbs act on every customer (admins, managers, custom roles of
    scope "all"); agents and custom roles of scope "own" act on their own customers only."""
    role = user.role
    if role in ("admin", "manager"):
        return True
    if role in ROLES:
        return False
    return _custom.scopes.get(role) == "all"


def acts_on_own(user: User) -> bool:
    """True if ``user`` works on the customers they own or are assigned to only (agents and
    custom roles of scope "own")."""
    role = user.role
    if role == "agent":
        return True
    if role in ROLES:
        return False
    return _custom.scopes.get(role, "own") == "own"


def can(user: User, verb: str) -> bool:
    """True if the role may use ``verb`` at all (scope checks come on top)."""
    if verb not in MATRIX:
        raise KeyError(f"unknown permission {verb}")
    if not user.is_active:
        return False
    role = user.role
    if role == "admin":
        return True
    builtin = BUILTIN_PERMISSIONS.get(role)
    if builtin is not None:
        return verb in builtin
    return verb in _custom.permissions.get(role, ())


def role_name(role: str) -> str:
    """``role`` as people know it, inside a ``Msg``: a built-in role by its label ("Service
    agent" / "客服专员"), a custom role by its name (its Chinese name in Chinese, when it has
    one), anything else as it is."""
    if role in ROLES:
        return Msg(label_msgid("role", role))
    if role in _custom.permissions:
        return Named(role, zh_CN=_custom.names_zh.get(role, ""))
    return role


def permission_name(verb: str) -> str:
    """``verb`` by its label on the Roles page ("Manage users and roles"), inside a ``Msg``."""
    return Msg(PERMISSION_LABELS.get(verb, verb))


def require(user: User, verb: str) -> None:
    """Raise ``Forbidden`` unless the role may use ``verb``: the message names the role and the
    permission as the Roles page does, the API's problem adds both codes."""
    if not can(user, verb):
        raise Forbidden(
            Msg(
                "The role %(role)s may not: %(permission)s.",
                role=role_name(user.role),
                permission=permission_name(verb),
            ),
            permission=verb,
            role=user.role,
        )


def markdown_matrix() -> str:
    """The matrix as a Markdown table (docs/permissions.md)."""
    lines = ["| permission | " + " | ".join(ROLES) + " |", "|---|" + "---|" * len(ROLES)]
    for verb in MATRIX:
        cells = []
        for role in ROLES:
            if role not in MATRIX[verb]:
                cells.append("—")
            elif role == "agent" and verb in AGENT_SCOPED:
                cells.append("own")
            else:
                cells.append("yes")
        lines.append(f"| `{verb}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
