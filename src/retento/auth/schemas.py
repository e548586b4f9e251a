from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from retento.auth.password_policy import MAX_LENGTH, MIN_LENGTH
from retento.core.validation import DbId, NotNull
from retento.core.versioning import ExpectedVersion

Role = Literal["admin", "manager", "agent", "analyst"]
Locale = Literal["en", "zh_CN"]


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description="At least 12 characters, not only digits, not a common password.",
    )
    role: Role
    display_name: str = Field("", max_length=200)
    email: str | None = Field(None, max_length=254)
    locale: Locale = "en"
    manager_id: DbId | None = None


class UserUpdate(BaseModel):
    version: ExpectedVersion = None
    role: Annotated[Role | None, NotNull] = None
    display_name: Annotated[str | None, NotNull] = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    is_active: Annotated[bool | None, NotNull] = None
    locale: Annotated[Locale | None, NotNull] = None
    manager_id: DbId | None = None
    password: Annotated[str | None, NotNull] = Field(
        None,
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description="A new password (same policy as on creation); ends the user's web sessions.",
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
