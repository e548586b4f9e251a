"""Custom field definitions: schemas and the service (list, create, edit; versioned, audited).

Only administrators define fields (``MANAGE``); everyone who reads customers reads the
definitions (the form, the 360 page, the list filter and the import use them). The key and the
type are fixed at creation: stored values keep their key and their JSON shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, FieldValueError, InvalidInput, Msg, NotFound
from retento.core.versioning import ExpectedVersion, lock_for_edit
from retento.customers.field_models import FIELD_TYPES, CustomFieldDefinition
from retento.customers.field_values import MAX_KEY, is_key

#: Defining fields is an administrator's task, like users and roles (admin only).
MANAGE = "user:manage"
MAX_OPTIONS = 100

FieldType = Literal["text", "number", "date", "boolean", "choice"]
assert set(FIELD_TYPES) == set(FieldType.__args__)  # type: ignore[attr-defined]


class OptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=100, description="What is stored and shown.")
    label_zh: str | None = Field(None, max_length=100, description="Shown to Chinese readers.")

    @field_validator("value", "label_zh")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        v = v.strip() if v is not None else None
        return v or None


def _check_options(options: list[OptionIn] | None) -> list[OptionIn] | None:
    if options is None:
        return None
    seen: set[str] = set()
    for o in options:
        if not o.value:
            raise ValueError(Msg("Every option needs a name."))
        if o.value.casefold() in seen:
            raise ValueError(Msg("The option '%(value)s' is listed twice.", value=o.value))
        seen.add(o.value.casefold())
    return options


class FieldDefinitionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(
        min_length=1,
        max_length=MAX_KEY,
        description="The key in custom_fields: lower-case letters, digits and _ (a dot "
        "separates parts, as in wallet_spend.coffee). Cannot be changed later.",
    )
    label: str = Field(min_length=1, max_length=100)
    label_zh: str | None = Field(None, max_length=100)
    field_type: FieldType = Field(description="Cannot be changed later.")
    options: list[OptionIn] = Field(default_factory=list, max_length=MAX_OPTIONS)
    required: bool = False
    active: bool = True
    position: int = Field(0, ge=0, le=10_000)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        v = v.strip()
        if not is_key(v):
            raise ValueError(
                Msg("Use lower-case letters, digits and _ only, starting with a letter.")
            )
        return v

    @field_validator("label", "label_zh")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        return v.strip() if v is not None else None

    _options = field_validator("options")(lambda cls, v: _check_options(v))

    @model_validator(mode="after")
    def _choice_has_options(self) -> FieldDefinitionCreate:
        if not self.label:
            raise FieldValueError("label", Msg("label: cannot be empty."))
        if self.field_type == "choice" and not self.options:
            raise FieldValueError(
                "options", Msg("options: a choice field needs at least one option.")
            )
        if self.field_type != "choice" and self.options:
            raise FieldValueError("options", Msg("options: only choice fields have options."))
        return self


class FieldDefinitionUpdate(BaseModel):
    """The fields sent are changed; ``key`` and ``field_type`` cannot be."""

    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    label: str | None = Field(None, min_length=1, max_length=100)
    label_zh: str | None = Field(None, max_length=100)
    options: list[OptionIn] | None = Field(None, max_length=MAX_OPTIONS)
    required: bool | None = None
    active: bool | None = None
    position: int | None = Field(None, ge=0, le=10_000)

    _options = field_validator("options")(lambda cls, v: _check_options(v))


class FieldDefinitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    label: str
    label_zh: str | None
    field_type: str
    options: list[OptionIn]
    required: bool
    active: bool
    position: int
    version: int
    created_at: datetime
    updated_at: datetime


def list_definitions(
    session: Session, *, actor: User, active_only: bool = False
) -> list[CustomFieldDefinition]:
    require(actor, "customer:read")
    from retento.customers.field_values import definitions

    return definitions(session, active_only=active_only)


def get_definition(session: Session, definition_id: int, *, actor: User) -> CustomFieldDefinition:
    require(actor, "customer:read")
    d = session.get(CustomFieldDefinition, definition_id)
    if d is None:
        raise NotFound("Custom field", definition_id)
    return d


def _by_key(session: Session, key: str) -> CustomFieldDefinition | None:
    return session.scalar(select(CustomFieldDefinition).where(CustomFieldDefinition.key == key))


def _content(d: CustomFieldDefinition | FieldDefinitionCreate) -> tuple:
    options = [
        (o["value"], o.get("label_zh")) if isinstance(o, dict) else (o.value, o.label_zh)
        for o in d.options or []
    ]
    return (d.key, d.label, d.label_zh or None, d.field_type, options, d.required, d.active)


def _taken(key: str) -> Conflict:
    return Conflict(Msg("The key '%(key)s' is already used by another field.", key=key), "key")


def create_definition(
    session: Session, data: FieldDefinitionCreate, *, actor: User
) -> CustomFieldDefinition:
    """Add a field. The key is the natural idempotency key: a retried request with the same
    content returns the field the first one created; another field with the key is a 409."""
    require(actor, MANAGE)
    old = _by_key(session, data.key)
    if old is not None:
        if _content(old) == _content(data):
            return old
        raise _taken(data.key)
    position = data.position
    if not position:
        last = session.scalar(select(func.max(CustomFieldDefinition.position)))
        position = (last or 0) + 10
    d = CustomFieldDefinition(
        key=data.key,
        label=data.label,
        label_zh=data.label_zh or None,
        field_type=data.field_type,
        options=[o.model_dump() for o in data.options],
        required=data.required,
        active=data.active,
        position=position,
    )
    try:
        with session.begin_nested():
            session.add(d)
            session.flush()
    except IntegrityError:
        # Created by a parallel request since the look-up above.
        old = _by_key(session, data.key)
        if old is not None and _content(old) == _content(data):
            return old
        raise _taken(data.key) from None
    record(session, actor, "create", "custom_field", d.id, None, snapshot(d))
    return d


def update_definition(
    session: Session,
    definition_id: int,
    data: FieldDefinitionUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> CustomFieldDefinition:
    """Change labels, options, required, active and order; a stale version is a 409."""
    require(actor, MANAGE)
    d = get_definition(session, definition_id, actor=actor)
    lock_for_edit(session, d, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if "label" in changes:
        if not (changes["label"] or "").strip():
            raise InvalidInput(Msg("%(field)s cannot be empty.", field="label"), field="label")
        changes["label"] = changes["label"].strip()
    if "label_zh" in changes:
        changes["label_zh"] = (changes["label_zh"] or "").strip() or None
    if "options" in changes:
        if d.field_type != "choice":
            if changes["options"]:
                raise InvalidInput(Msg("Only choice fields have options."), field="options")
            changes["options"] = []
        elif not changes["options"]:
            raise InvalidInput(Msg("A choice field needs at least one option."), field="options")
    if changes.get("position") is None:
        changes.pop("position", None)
    for k in ("required", "active"):
        if k in changes and changes[k] is None:
            changes.pop(k)
    before = snapshot(d)
    for k, v in changes.items():
        setattr(d, k, v)
    if snapshot(d) != before:
        d.updated_at = utcnow()
        session.flush()
        record(session, actor, "update", "custom_field", d.id, before, snapshot(d))
    return d
