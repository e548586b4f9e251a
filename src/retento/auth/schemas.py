from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["admin", "manager", "agent", "analyst"]
Locale = Literal["en", "zh_CN"]


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: Role
    display_name: str = Field("", max_length=200)
    email: str | None = Field(None, max_length=254)
    locale: Locale = "en"
    manager_id: int | None = None


class UserUpdate(BaseModel):
    role: Role | None = None
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    is_active: bool | None = None
    locale: Locale | None = None
    manager_id: int | None = None
    password: str | None = Field(None, min_length=8, max_length=200)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
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
