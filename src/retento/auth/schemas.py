from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from retento.auth.password_policy import MAX_LENGTH, MIN_LENGTH
from retento.core.validation import EMAIL_PATTERN, DbId, NotNull, OptionalName
from retento.core.versioning import ExpectedVersion

# A built-in role (admin, manager, agent, analyst) or a custom one: the service checks that it
# exists (auth.roles.check_role).
Role = Annotated[str, Field(min_length=2, max_length=20, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")]
RoleScope = Literal["own", "all"]
BaseRole = Literal["manager", "agent", "analyst"]
Locale = Literal["en", "zh_CN"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description="At least 12 characters, not only digits, not a common password.",
    )
    role: Role
    display_name: OptionalName = Field("", max_length=200)
    email: str | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)
    locale: Locale = "en"
    manager_id: DbId | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    role: Annotated[Role | None, NotNull] = None
    display_name: Annotated[OptionalName | None, NotNull] = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)
    is_active: Annotated[bool | None, NotNull] = None
    locale: Annotated[Locale | None, NotNull] = None
    manager_id: DbId | None = None
    reports_to: DbId | None = Field(
        None,
        description="When deactivating a user who manages others: who their reports move to "
        "(default: the deactivated user's own manager, else nobody). Not stored on the user.",
    )
    password: Annotated[str | None, NotNull] = Field(
        None,
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description="A new password (same policy as on creation); ends the user's web "
        "sessions. API tokens stay valid: revoke them with DELETE /api/v1/tokens/{id}. "
        "Setting one's own password (administrators too) needs current_password.",
    )
    # Not bounded by the policy's 12..200: a password set before the policy may be shorter.
    current_password: str | None = Field(
        None,
        max_length=1000,
        description="Your current password: required to set your own password (422 naming "
        "current_password when missing or wrong; wrong ones count like failed log-ins and are "
        "throttled, 429). Not needed by user:manage to set another user's; not stored.",
    )


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    username: str
    display_name: str
    email: str | None
    role: str
    is_active: bool
    locale: str
    manager_id: int | None
    created_at: datetime


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=100)


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenRead):
    token: str = Field(description="Shown once; only its hash is stored.")


class SessionRead(BaseModel):
    """An open web session (the id itself is never shown: only its hash is stored)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str


class SessionsRevoked(BaseModel):
    revoked: int = Field(description="How many open sessions were ended.")


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Role
    name_zh: OptionalName = Field("", max_length=40)
    description: str = Field("", max_length=500)
    permissions: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Permissions from GET /api/v1/permissions (user:manage is refused).",
    )
    scope: RoleScope = Field(
        "own",
        description="own: scoped verbs act on the customers the user owns or is assigned to "
        "(like an agent); all: on every customer (like a manager).",
    )
    base_role: BaseRole = Field(
        "agent",
        description="The built-in role it works like: its users get that role's home "
        "dashboard, notification defaults and complaint queue tabs (not its permissions).",
    )


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    name: Annotated[Role | None, NotNull] = None
    name_zh: Annotated[OptionalName | None, NotNull] = Field(None, max_length=40)
    description: Annotated[str | None, NotNull] = Field(None, max_length=500)
    permissions: Annotated[list[str] | None, NotNull] = Field(None, max_length=200)
    scope: Annotated[RoleScope | None, NotNull] = None
    base_role: Annotated[BaseRole | None, NotNull] = None


class RoleRead(BaseModel):
    id: int | None = Field(description="None for a built-in role.")
    name: str
    name_zh: str
    description: str
    builtin: bool
    scope: str
    base_role: str = Field(
        description="The built-in role whose defaults it gets (a built-in role: itself)."
    )
    permissions: list[str]
    users: int = Field(description="How many users hold the role.")
    version: int | None


class PermissionRead(BaseModel):
    name: str
    description: str
    label: str
    label_zh: str
    group: str
    grantable: bool = Field(description="False for user:manage: no custom role may hold it.")
