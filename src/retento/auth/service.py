"""Users, passwords, tokens and authentication."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from retento.audit.service import record, snapshot
from retento.auth import last_use, roles, sessions, throttle
from retento.auth.models import ApiToken, User, UserSession
from retento.auth.password_policy import check_password
from retento.auth.permissions import require, roles_holding
from retento.auth.schemas import UserCreate, UserUpdate
from retento.auth.security import (
    hash_password,
    hash_token,
    new_token,
    verify_dummy,
    verify_password,
)
from retento.core.config import Settings
from retento.core.db import utcnow
from retento.core.errors import Conflict, Forbidden, InvalidInput, Msg, NotFound, Unauthorized
from retento.core.pagination import apply_sort, paginate
from retento.core.versioning import lock_for_edit


def create_user(session: Session, data: UserCreate, *, actor: User | None) -> User:
    """Create a user; ``actor=None`` is the bootstrap path used by the CLI."""
    if actor is not None:
        require(actor, "user:manage")
    if session.scalar(select(User.id).where(func.lower(User.username) == data.username.lower())):
        raise Conflict(
            Msg("A user named '%(username)s' already exists.", username=data.username),
            field="username",
        )
    roles.check_role(session, data.role)
    if data.manager_id is not None:
        check_manager(session, None, data.manager_id)
    check_password(data.password, data.username)
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        email=data.email,
        role=data.role,
        password_hash=hash_password(data.password),
        locale=data.locale,
        manager_id=data.manager_id,
    )
    session.add(user)
    session.flush()
    record(session, actor, "create", "user", user.id, None, snapshot(user))
    return user


# A fixed 64-bit key of the advisory lock that serialises manager changes on PostgreSQL.
_TEAM_LOCK_ID = 0x7465616D5F6D6772  # "team_mgr"


def check_manager(session: Session, user_id: int | None, manager_id: int) -> User:
    """The one check of a newly chosen manager (API, web form and CLI): an existing, active
    user, not the user themself, and not someone who reports to the user, directly or through
    others (a cycle would make "my team" and escalation loop). ``user_id`` is None for a user
    being created (who has no reports yet). 422 naming ``manager_id`` otherwise.

    On PostgreSQL manager changes are serialised by a transaction advisory lock, and the chain
    is read from the table (not the session's cache): two admins making A report to B and B to
    A at the same moment cannot both pass the check."""
    if user_id is not None and manager_id == user_id:
        raise InvalidInput("A user cannot be their own manager.", field="manager_id")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_TEAM_LOCK_ID)))
    row = session.execute(
        select(User.username, User.is_active, User.manager_id).where(User.id == manager_id)
    ).one_or_none()
    if row is None:
        raise InvalidInput(Msg("User %(id)s does not exist.", id=manager_id), field="manager_id")
    if not row.is_active:
        raise InvalidInput(
            Msg("%(username)s is deactivated and cannot be a manager.", username=row.username),
            field="manager_id",
        )
    if user_id is not None:
        seen = {manager_id}
        up = row.manager_id
        while up is not None and up not in seen:
            if up == user_id:
                raise InvalidInput(
                    Msg(
                        "%(username)s reports to this user (directly or through others): "
                        "a user cannot be managed by their own report.",
                        username=row.username,
                    ),
                    field="manager_id",
                )
            seen.add(up)
            up = session.scalar(select(User.manager_id).where(User.id == up))
    return session.get(User, manager_id)  # type: ignore[return-value]


def manager_choices(session: Session, user: User | None = None) -> list[tuple[str, str]]:
    """Who may be chosen as ``user``'s manager, as (id, name) options: active users other than
    the user, by username (the check refuses a report of the user on saving); the current
    manager is kept even when deactivated, so saving the form unchanged keeps it."""
    stmt = select(User.id, User.username, User.display_name).where(
        User.is_active.is_(True) | (User.id == (user.manager_id if user else None))
    )
    if user is not None:
        stmt = stmt.where(User.id != user.id)
    return [
        (str(i), f"{name} ({username})" if name and name != username else username)
        for i, username, name in session.execute(stmt.order_by(User.username))
    ]


def user_names(session: Session, ids) -> dict[int, str]:
    """``{id: display name or username}`` of the users ``ids`` (one query)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.username, User.display_name).where(User.id.in_(ids))
    )
    return {i: name or username for i, username, name in rows}


def team_leads(session: Session, *, also: int | None = None) -> dict[int, str]:
    """``{id: name}`` of every user someone reports to (and ``also``, e.g. a filter's value)."""
    ids = set(session.scalars(select(User.manager_id).where(User.manager_id.is_not(None))))
    return user_names(session, ids | ({also} if also is not None else set()))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User", user_id)
    return user


def get_user_by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise NotFound("User", username, field="username")
    return user


def update_user(
    session: Session,
    user_id: int,
    data: UserUpdate,
    *,
    actor: User | None,
    expected_version: int | None = None,
    guard: LoginGuard | None = None,
) -> User:
    """Change role, profile, active flag or password (admins; users may change their own
    locale, name and password). ``actor=None`` is the CLI (``retento user update`` and
    ``retento user password``), which administers the installation.

    A user setting their own password must send the current one (``current_password``; 422
    naming it when missing or wrong), counted by the login throttle through ``guard`` (429
    while the account or address is backing off); ``user:manage`` sets another user's without
    it. A new password ends the user's web sessions; API tokens stay valid (docs/security.md).

    A stale ``version``/If-Match gets 409 (core.versioning)."""
    user = get_user(session, user_id)
    changes = data.model_dump(
        exclude_unset=True, exclude={"version", "reports_to", "current_password"}
    )
    if actor is not None:
        self_service = user.id == actor.id and set(changes) <= {
            "locale",
            "display_name",
            "password",
        }
        if not self_service:
            require(actor, "user:manage")
        if "password" in changes and user.id == actor.id:
            # One's own password, administrators included: a stolen token or an unattended
            # session must not be enough to take the account over.
            check_current_password(user, data.current_password, guard)
    lock_for_edit(session, user, data.version, expected_version)
    if (
        actor is not None
        and user.id == actor.id
        and (changes.get("is_active") is False or changes.get("role", "admin") != "admin")
        and actor.role == "admin"
    ):
        field = "is_active" if changes.get("is_active") is False else "role"
        raise InvalidInput("You cannot deactivate or demote yourself.", field=field)
    before = snapshot(user)
    if "role" in changes and changes["role"] != user.role:
        roles.check_role(session, changes["role"])
    if changes.get("manager_id") is not None and changes["manager_id"] != user.manager_id:
        check_manager(session, user.id, changes["manager_id"])
    if "password" in changes:
        check_password(changes["password"], user.username)
    was_active = user.is_active
    for key, value in changes.items():
        if key == "password":
            user.password_hash = hash_password(value)
        else:
            setattr(user, key, value)
    session.flush()
    after = snapshot(user)
    if "password" in changes:
        after["password"] = "changed"
        before["password"] = "***"
    record(session, actor, "update", "user", user.id, before, after)
    if was_active and not user.is_active:
        move_reports(session, user, data.reports_to, actor=actor)
    if "password" in changes or (was_active and not user.is_active):
        # A new password or a deactivation ends every open web session of the user.
        sessions.revoke_all(session, user.id)
    if was_active and not user.is_active:
        # And a deactivation revokes the user's API tokens: refused while the user is inactive
        # anyway, they would otherwise work again the day the user is reactivated.
        revoke_all_tokens(session, user.id, actor=actor)
    return user


def revoke_all_tokens(session: Session, user_id: int, *, actor: User | None) -> int:
    """Revoke every API token of ``user_id`` still valid (each audited); returns how many."""
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    for token in tokens:
        record(session, actor, "revoke", "api_token", token.id, None, {"prefix": token.prefix})
    return len(tokens)


def report_ids(session: Session, user_id: int) -> list[int]:
    """The ids of ``user_id``'s direct reports (active or not)."""
    return list(session.scalars(select(User.id).where(User.manager_id == user_id)))


def move_reports(
    session: Session, leaving: User, reports_to: int | None, *, actor: User | None
) -> int:
    """Give the direct reports of ``leaving`` (being deactivated) a new manager in the same
    transaction: ``reports_to``, else ``leaving``'s own manager, else nobody. Each move is the
    same check as any manager change (``check_manager``: active, no cycle) and audited; returns
    how many moved. Deactivating a manager thus never leaves a team reporting to someone who
    can no longer log in."""
    ids = report_ids(session, leaving.id)
    target = reports_to if reports_to is not None else leaving.manager_id
    if target == leaving.id:
        raise InvalidInput(
            "The reports cannot move to the user being deactivated.", field="reports_to"
        )
    if not ids:
        return 0
    for rid in ids:
        report = session.get(User, rid)
        assert report is not None
        if target is not None:
            try:
                check_manager(session, rid, target)
            except InvalidInput as exc:
                exc.field = "reports_to"
                raise
        before = snapshot(report)
        report.manager_id = target
        session.flush()
        record(session, actor, "update", "user", report.id, before, snapshot(report))
    return len(ids)


def list_users(
    session: Session,
    actor: User,
    *,
    q: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    manager_id: int | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """Users filtered by name, role (an unknown one is a 422), status and manager
    (``manager_id``: that manager's direct reports)."""
    require(actor, "user:manage")
    stmt = select(User)
    if q:
        stmt = stmt.where(
            func.lower(User.username).contains(q.lower())
            | func.lower(User.display_name).contains(q.lower())
        )
    if role:
        roles.check_role_filter(session, role)
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.is_active == active)
    if manager_id is not None:
        stmt = stmt.where(User.manager_id == manager_id)
    stmt = apply_sort(
        stmt,
        sort,
        {"username": User.username, "role": User.role, "created_at": User.created_at},
        User.id,
    )
    return paginate(session, stmt, limit=limit, offset=offset)


@cache
def _assignable_stmt() -> Any:
    return (
        select(User.id, func.coalesce(func.nullif(User.display_name, ""), User.username))
        .where(User.is_active.is_(True), User.role.in_(bindparam("roles", expanding=True)))
        .order_by(User.username)
    )


def assignable_user_choices(session: Session) -> list[tuple[str, str]]:
    """Active users who can own customers, as (id, name) options for owner pickers: the
    display name, else the username; sorted by username. (Two columns instead of whole users:
    the customer list shows this picker on every page view.)"""
    # Whoever may edit customers (admins, managers, agents and custom roles holding
    # customer:update) may own them.
    owners = list(roles_holding("customer:update"))
    return [(str(i), name) for i, name in session.execute(_assignable_stmt(), {"roles": owners})]


def authenticate(session: Session, username: str, password: str) -> User:
    """Check a username and password; the same error, and the same work, whatever was wrong
    (unknown and deactivated users cost one argon2 check too, so timing tells nothing)."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    if user is None or not user.is_active:
        verify_dummy(password)
        raise Unauthorized("Wrong username or password.")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("Wrong username or password.")
    return user


@dataclass(frozen=True)
class LoginGuard:
    """What the login throttle needs for one request: a factory for its own committed
    transactions, the settings (thresholds) and the client's address."""

    factory: sessionmaker[Session]
    settings: Settings
    client_ip: str

    @classmethod
    def of(cls, request: Any) -> LoginGuard:
        """The guard of a web or API request (the app's session factory and settings)."""
        state = request.app.state
        return cls(state.session_factory, state.settings, throttle.client_ip(request))


T = TypeVar("T")


def _throttled(
    guard: LoginGuard, username: str, check: Callable[[], T], *, clear: bool = True
) -> T:
    """``check`` (a password check that raises when wrong) behind the login throttle:
    ``LoginThrottled`` (429) while the account or the client address is backing off; a failure
    is counted in its own committed transaction (``guard.factory``), so it sticks whatever
    happens to the request's; a success clears the counts when ``clear``."""
    keys = throttle.keys_for(
        username,
        guard.client_ip,
        account_free=guard.settings.login_free_attempts,
        ip_free=guard.settings.login_ip_free_attempts,
    )
    now = utcnow()
    with guard.factory() as s:
        wait, has_failures = throttle.state(s, keys, now)
    if wait:
        raise throttle.LoginThrottled(wait)
    try:
        result = check()
    except (Unauthorized, InvalidInput):
        throttle.record_failure(guard.factory, keys, now, guard.settings.login_lockout_max_seconds)
        raise
    if clear and has_failures:
        throttle.clear(guard.factory, keys)
    return result


def login(
    factory: sessionmaker[Session],
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    *,
    client_ip: str,
) -> User:
    """``authenticate`` behind the login throttle (``_throttled``)."""
    return _throttled(
        LoginGuard(factory, settings, client_ip),
        username,
        lambda: authenticate(session, username, password),
    )


def check_current_password(user: User, password: str | None, guard: LoginGuard | None) -> None:
    """Proof that the one setting ``user``'s password knows the current one: 422 naming
    ``current_password`` when it is missing or wrong. A wrong one counts like a failed log-in
    of the account (``guard``: the same throttle, 429 while it backs off), so the password form
    cannot be used to guess passwords; without a guard (no request) it is checked unthrottled.

    A right one does not clear the counts (a successful log-in does): clearing would commit a
    write from another connection between the request's reads and its own write, which SQLite
    refuses (``SQLITE_BUSY_SNAPSHOT``), and it would let a token holder reset the address's
    count."""
    if not password:
        raise InvalidInput(
            "Enter your current password to set a new one.", field="current_password"
        )

    def verify() -> None:
        if not verify_password(user.password_hash, password):
            raise InvalidInput("The current password is wrong.", field="current_password")

    if guard is None:
        verify()
    else:
        _throttled(guard, user.username, verify, clear=False)


def issue_token(
    session: Session, user: User, *, name: str = "", actor: User | None
) -> tuple[ApiToken, str]:
    """Create a bearer token for ``user``; returns the row and the plain token (shown once)."""
    if actor is not None and actor.id != user.id:
        require(actor, "user:manage")
    if not user.is_active:
        raise InvalidInput(
            Msg("User '%(username)s' is deactivated.", username=user.username), field="username"
        )
    plain = new_token()
    token = ApiToken(user_id=user.id, name=name, prefix=plain[:10], token_hash=hash_token(plain))
    session.add(token)
    session.flush()
    record(
        session,
        actor,
        "create",
        "api_token",
        token.id,
        None,
        {"user": user.username, "name": name, "prefix": token.prefix},
    )
    return token, plain


def list_tokens(session: Session, user: User, *, actor: User) -> list[ApiToken]:
    if actor.id != user.id:
        require(actor, "user:manage")
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_token(session: Session, token_id: int, *, actor: User) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("Token", token_id)
    if token.user_id != actor.id:
        require(actor, "user:manage")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        record(session, actor, "revoke", "api_token", token.id, None, {"prefix": token.prefix})
    return token


@cache
def _token_user_statement() -> Any:
    """Built once: building a statement costs more CPU than running this one."""
    return (
        select(ApiToken.id, ApiToken.revoked_at, ApiToken.last_used_at, User, roles.stamp_column())
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash", type_=ApiToken.token_hash.type))
    )


def user_for_bearer(session: Session, plain: str) -> User:
    """Resolve a bearer token to its active user, or raise ``Unauthorized``; one statement in
    the request's own ``session`` (a plain read: it never waits on the token's row).

    The last use is recorded at most once a minute in a short transaction of its own, never
    waiting for a lock (a long request holding the token's row, e.g. an import made with the
    same token, must not stall every other call with it): :func:`last_use.touch_apart`."""
    now = utcnow()
    row = session.execute(_token_user_statement(), {"token_hash": hash_token(plain)}).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("The API token is unknown or revoked.")
    user = row.User
    if not user.is_active:
        raise Unauthorized("The token's user is deactivated.")
    roles.seen(session, row.role_stamp)
    if last_use.is_stale(row.last_used_at, now):
        last_use.touch_apart(session, ApiToken, "last_used_at", row.id, now)
    return user


def user_for_token(session: Session, plain: str) -> User:
    """Resolve a bearer token to its active user inside ``session`` (no last-use update)."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("The API token is unknown or revoked.")
    if not token.user.is_active:
        raise Unauthorized("The token's user is deactivated.")
    return token.user


def list_sessions(
    session: Session, user: User, *, actor: User, idle_seconds: int
) -> list[UserSession]:
    """The user's open web sessions (the user themself or an administrator)."""
    if actor.id != user.id:
        require(actor, "user:manage")
    return sessions.open_sessions(session, user.id, idle_seconds=idle_seconds)


def log_out_everywhere(session: Session, user: User, *, actor: User | None) -> int:
    """End every web session of ``user`` (the user themself or an administrator); audited."""
    if actor is not None and actor.id != user.id:
        require(actor, "user:manage")
    n = sessions.revoke_all(session, user.id)
    record(session, actor, "revoke", "user_sessions", user.id, None, {"sessions": n})
    return n


def ensure_not_last_admin(session: Session, user: User) -> None:
    if user.role == "admin":
        admins = session.scalar(
            select(func.count()).where(User.role == "admin", User.is_active.is_(True))
        )
        if (admins or 0) <= 1:
            raise Forbidden("The last active admin cannot be removed.")
