from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retento.core.countries import Country
from retento.core.errors import Msg
from retento.core.limits import custom_fields_validator
from retento.core.pagination import Page
from retento.core.validation import DbId, Name, PastDay, Phone
from retento.core.versioning import ExpectedVersion

PartyType = Literal["person", "organisation"]
Kind = Literal["consumer", "business", "distributor", "supplier", "department", "branch"]

TAG_PATTERN = r"^[\w\- .:/]{1,50}$"

BirthDate = PastDay
"""A date of birth: 1900-01-01 at the earliest (``Day``), not in the future (``PastDay``)."""


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(min_length=1, max_length=200)
    role: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    phone: Phone | None = None
    is_primary: bool = False


class ContactRead(BaseModel):
    """What is stored, shown as is: only new input is checked (``ContactIn``)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    is_primary: bool = False


def _clean_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    out: list[str] = []
    for t in tags:
        t = t.strip().lower()
        if not t:
            continue
        if len(t) > 50:
            raise ValueError(Msg("tag '%(tag)s…' is longer than 50 characters", tag=t[:20]))
        if t not in out:
            out.append(t)
    return out


class CustomerBase(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    party_type: PartyType = "person"
    kind: Kind = "consumer"
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=300)
    city: str | None = Field(None, max_length=100)
    country: Country | None = None
    acquired_on: date | None = None
    birth_date: date | None = None
    consent_email: bool = False
    consent_sms: bool = False
    consent_phone: bool = False
    consent_profiling: bool = False
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    note: str | None = Field(None, max_length=5000)


class CustomerCreate(CustomerBase):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(min_length=1, max_length=200)
    phone: Phone | None = None
    acquired_on: PastDay | None = None
    birth_date: BirthDate | None = None
    external_id: str | None = Field(None, min_length=1, max_length=64)
    owner_id: DbId | None = None
    tags: list[str] = Field(default_factory=list)
    contacts: list[ContactIn] = Field(default_factory=list)

    _tags = field_validator("tags")(lambda cls, v: _clean_tags(v))
    _custom = field_validator("custom_fields")(lambda cls, v: custom_fields_validator(v))


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    name: Name | None = Field(None, min_length=1, max_length=200)
    party_type: PartyType | None = None
    kind: Kind | None = None
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: Phone | None = None
    address: str | None = Field(None, max_length=300)
    city: str | None = Field(None, max_length=100)
    country: Country | None = None
    acquired_on: PastDay | None = None
    birth_date: BirthDate | None = None
    consent_email: bool | None = None
    consent_sms: bool | None = None
    consent_phone: bool | None = None
    consent_profiling: bool | None = None
    custom_fields: dict[str, Any] | None = None
    note: str | None = Field(None, max_length=5000)
    external_id: str | None = Field(None, min_length=1, max_length=64)
    owner_id: DbId | None = None
    assigned_user_ids: list[DbId] | None = None
    tags: list[str] | None = None
    contacts: list[ContactIn] | None = None

    _tags = field_validator("tags")(lambda cls, v: _clean_tags(v))
    _custom = field_validator("custom_fields")(lambda cls, v: custom_fields_validator(v))


class CustomerRead(CustomerBase):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    external_id: str | None
    scope: str
    owner_id: int | None
    assigned_user_ids: list[DbId]
    tags: list[str]
    contacts: list[ContactRead]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = Field(
        None, description="Set while the customer is archived (hidden from lists and surveys)."
    )
    archived_by_id: int | None = None
    erased_at: datetime | None = Field(
        None, description="When the customer's personal data was erased (cannot be undone)."
    )


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(
        None,
        max_length=200,
        description="Why (e.g. the privacy request's reference); kept in the audit log, so do "
        "not put personal data here.",
    )
    version: ExpectedVersion = Field(None, description="The customer's version (or If-Match).")


class ErasureRead(BaseModel):
    customer_id: int
    erased_at: datetime
    counts: dict[str, int] = Field(description="Records changed, per kind.")


class DuplicateRead(BaseModel):
    id: int
    name: str
    email: str | None
    phone: str | None
    external_id: str | None
    matched_on: list[Literal["email", "phone", "name"]]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merge_id: DbId = Field(description="The duplicate: merged into this customer, then archived.")
    version: ExpectedVersion = Field(None, description="This customer's version (or If-Match).")
    merge_version: ExpectedVersion = Field(None, description="The duplicate's version.")


class MergeRead(BaseModel):
    customer: CustomerRead
    merged_id: int
    moved: dict[str, int] = Field(description="Rows moved to this customer, per table.")


class CustomerPage(Page[CustomerRead]):
    """A page of the customer list. A search (``q``) counts its matches up to 1,000 only."""

    total_is_lower_bound: bool = Field(
        False,
        description="True when a search matched more customers than it counts (1,000): "
        '``total`` is then 1,001, read as "more than 1,000". Lists without ``q`` count '
        "exactly.",
    )
