"""Users and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="en")
    manager_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class UserSession(Base):
    """A logged-in web session; the cookie carries only the random id, stored here hashed."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginThrottle(Base):
    """Consecutive failed log-ins per account or client address (keys are hashed)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Role(Base):
    """A custom role: a name, a Chinese name, a description and a chosen set of permissions
    (``auth.permissions.MATRIX`` verbs). The four built-in roles are not rows: their
    permissions are fixed in code. ``users.role`` holds the name (``auth.roles``)."""

    __tablename__ = "roles"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)
    name_zh: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "all": scoped verbs act on every customer (like a manager); "own": only on customers the
    # user owns or is assigned to (like an agent). See docs/permissions.md.
    scope: Mapped[str] = mapped_column(String(10), default="own")
    # The built-in role it "works like" (manager, agent or analyst): whose defaults its users
    # get — home dashboard, notification defaults, the complaint queue's tabs. Permissions come
    # from ``permissions`` only (auth.permissions.base_role).
    base_role: Mapped[str] = mapped_column(String(10), default="agent")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class RoleStamp(Base):
    """One row: a random stamp replaced by every change of a custom role, so each process
    knows when its cache of role permissions is stale (``auth.roles``). Random, not a counter:
    a stamp written by a transaction that rolled back never comes back."""

    __tablename__ = "role_stamp"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    stamp: Mapped[str] = mapped_column(String(32))
