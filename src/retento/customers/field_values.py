"""Custom field values: checked and converted against the definitions (``field_models``).

Every write path (the API, the form, the import) goes through ``check_values``:

* a key that names an active definition is converted to its type's JSON shape: text as is,
  numbers as the string of a Decimal (``"12.50"``), dates as ISO text, yes/no as ``true`` /
  ``false``, a choice as the option's value; an empty value removes the key;
* a key already stored on the customer with the same value is kept unchecked: values written
  before the definitions existed (undefined "other fields"), for a field since retired, or for a
  choice option since removed never block an edit that leaves them alone;
* a new or changed value for a key no definition names is refused (``custom_fields.<key>``), as
  is a changed value of a retired field, and a key no field could have (:func:`key_problem`:
  ``wallet_spend.Coffee Beans`` under the field ``wallet_spend``); required active fields must
  have a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from retento.core.errors import FieldError, Msg
from retento.core.money import number_text
from retento.customers.field_models import CustomFieldDefinition
from retento.customers.models import CUSTOM_FIELDS_JSONB, Customer

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
MAX_KEY = 50  # field_models: String(50)
MAX_TEXT = 1000
YES = {"true", "yes", "y", "1", "t", "on", "x", "是", "真"}
NO = {"false", "no", "n", "0", "f", "off", "否", "假"}


def is_key(key: str) -> bool:
    """Whether ``key`` is one a custom field could have (a definition's key, or a breakdown key
    ``<key>.<part>``): lower-case letters, digits and ``_``, starting with a letter, dot-separated
    parts, at most :data:`MAX_KEY` characters. The definitions, the API, the form and the file
    import check keys with this one rule."""
    return len(key) <= MAX_KEY and KEY_RE.fullmatch(key) is not None


KEY_RULE = (
    "'%(key)s' is not a custom field key (lower-case letters, digits and _, starting with a "
    "letter, parts separated by a dot, at most %(max)s characters)."
)


def key_problem(key: Any) -> Msg | None:
    """Why ``key`` cannot be a custom field's key (``None``: it can, :func:`is_key`), the key
    named; the file import words its columns' and its JSON cells' keys with it too."""
    if isinstance(key, str) and is_key(key):
        return None
    return Msg(KEY_RULE, key=str(key)[:60], max=MAX_KEY)


def shown_text(value: Any) -> str:
    """A stored value as text (the form's "other fields" area, imports): JSON unless text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def definitions(session: Session, *, active_only: bool = False) -> list[CustomFieldDefinition]:
    """The definitions in their display order (position, then creation)."""
    stmt = select(CustomFieldDefinition).order_by(
        CustomFieldDefinition.position, CustomFieldDefinition.id
    )
    if active_only:
        stmt = stmt.where(CustomFieldDefinition.active.is_(True))
    return list(session.scalars(stmt))


def convert(d: CustomFieldDefinition, value: Any, *, lenient: bool = False) -> Any:
    """``value`` in the stored JSON shape of ``d``'s type; ``None`` for an empty value.

    ``lenient`` (file imports) also accepts a choice by its label in either language, in any
    letter case. Raises ``ValueError`` with the reason."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        value = value.strip()
    kind = d.field_type
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(Msg("Must be text."))
        if len(value) > MAX_TEXT:
            raise ValueError(Msg("At most %(max)s characters.", max=MAX_TEXT))
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValueError(Msg("Must be a number, like 12.50."))
        try:
            # "1,200.50" groups thousands; "12,5" is refused, saying why (core.money).
            number = Decimal(number_text(value) if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise ValueError(Msg("Must be a number, like 12.50.")) from None
        if not number.is_finite() or abs(number.adjusted()) > 20:
            raise ValueError(Msg("Must be a number, like 12.50."))
        return format(number, "f")
    if kind == "date":
        if isinstance(value, date):
            return value.isoformat()
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(Msg("Must be a date like 2026-12-31.")) from None
        if day.year < 1900:
            raise ValueError(Msg("Must be a date like 2026-12-31."))
        return day.isoformat()
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        if text in YES:
            return True
        if text in NO:
            return False
        raise ValueError(Msg("Must be yes or no."))
    # choice
    options = [str(o.get("value")) for o in d.options or []]
    if isinstance(value, str):
        if value in options:
            return value
        if lenient:
            low = value.casefold()
            for o in d.options or []:
                names = (o.get("value"), o.get("label_zh"))
                if any(n and str(n).casefold() == low for n in names):
                    return str(o["value"])
    raise ValueError(
        Msg(
            "'%(value)s' is not one of: %(options)s.",
            value=str(value)[:40],
            options=", ".join(options),
        )
    )


def defined_for(by_key: dict[str, CustomFieldDefinition], key: str) -> CustomFieldDefinition | None:
    """The definition that governs ``key``: its own, or for a breakdown key ``<key>.<part>``
    (``wallet_spend.coffee``, share of wallet per category) the definition of ``<key>``, whose
    type it takes."""
    d = by_key.get(key)
    if d is None and "." in str(key):
        d = by_key.get(str(key).split(".", 1)[0])
    return d


def check_values(
    defs: Iterable[CustomFieldDefinition],
    values: dict[str, Any],
    stored: dict[str, Any] | None = None,
    *,
    require: bool = True,
    lenient: bool = False,
    field: str = "custom_fields",
) -> tuple[dict[str, Any], list[FieldError]]:
    """``(the values to store, every problem)``; problems name ``custom_fields.<key>``."""
    by_key = {d.key: d for d in defs}
    stored = stored or {}
    clean: dict[str, Any] = {}
    problems: list[FieldError] = []
    for key, value in values.items():
        name = f"{field}.{key}"
        if key in stored and stored[key] == value:
            clean[key] = value
            continue
        if (why := key_problem(key)) is not None:
            problems.append(FieldError(name, why))
            continue
        d = defined_for(by_key, key)
        if d is None:
            problems.append(
                FieldError(
                    name,
                    Msg(
                        "No custom field '%(key)s' is defined; an administrator adds it under "
                        "Customer fields.",
                        key=str(key)[:50],
                    ),
                )
            )
            continue
        if not d.active:
            problems.append(
                FieldError(
                    name, Msg("This field is retired: its value can be kept or removed only.")
                )
            )
            continue
        try:
            converted = convert(d, value, lenient=lenient)
        except ValueError as exc:
            problems.append(FieldError(name, exc.args[0]))
            continue
        if converted is not None:
            clean[key] = converted
    if require:
        for d in by_key.values():
            if d.active and d.required and d.key not in clean:
                if not any(p.field == f"{field}.{d.key}" for p in problems):
                    problems.append(FieldError(f"{field}.{d.key}", Msg("This field is required.")))
    return clean, problems


def split(
    defs: Iterable[CustomFieldDefinition], values: dict[str, Any] | None
) -> tuple[list[tuple[CustomFieldDefinition, Any]], dict[str, Any]]:
    """``([(definition, value)] for defined keys with a value, in order; {other key: value})``."""
    values = values or {}
    by_key = {d.key: d for d in defs}
    defined = [(d, values[d.key]) for d in by_key.values() if d.key in values]
    other = {k: v for k, v in values.items() if k not in by_key}
    return defined, other


def filter_clause(key: str, field_type: str, value: Any, dialect: str) -> ColumnElement[bool]:
    """Customers whose field ``key`` is ``value``: a choice's value, or ``True``/``False`` for a
    yes/no field ("no" also matches customers with no value).

    Only the typed value matches (the text ``"true"`` or the number 1 stored before the field
    was defined is neither "yes" nor a choice ``"1"``), the same on both databases. On
    PostgreSQL a choice's value and "yes" are containment tests, ``CAST(custom_fields AS JSONB)
    @> '{"tier": "Gold"}'`` (``{"vip": true}``), answered from the GIN index
    ``ix_customers_custom_fields`` (migration 0052). "No" (not yes, or no value) is a negation,
    which no index serves: it reads every customer, on both databases."""
    no_value = Customer.custom_fields[key].as_string().is_(None)
    if dialect == "postgresql":
        if field_type != "boolean":
            return CUSTOM_FIELDS_JSONB.contains({key: str(value)})
        if value:
            return CUSTOM_FIELDS_JSONB.contains({key: True})
        # The JSON text of the value is `true` for true only (`"true"` for the text): as fast
        # as `->>`, where NOT @> converts every row to jsonb (1.5-2x slower; docs/benchmarks.md).
        return or_(cast(Customer.custom_fields[key], Text) != "true", no_value)
    if field_type != "boolean":
        return and_(Customer.custom_fields[key].as_string() == str(value))
    # JSON_EXTRACT gives 1 for true, and 1 for the number 1: json_type tells them apart
    is_true = func.json_type(Customer.custom_fields, f'$."{key}"') == "true"
    return is_true if value else or_(~is_true, no_value)


FILTER_TYPES = ("choice", "boolean")


def parse_filter(session: Session, raw: str, field: str = "field") -> tuple[str, str, Any] | None:
    """The list filter ``<key>:<value>`` (a choice's value, or yes/no) as ``customer_filter``'s
    ``custom_field``; a key or value that is not offered is a 422 naming ``field``."""
    from retento.core.errors import InvalidInput

    raw = (raw or "").strip()
    if not raw:
        return None
    key, sep, value = raw.partition(":")
    if not sep or not key:
        raise InvalidInput(
            Msg(
                "'%(value)s' is not a custom field filter: write <key>:<value>, e.g. vip:yes.",
                value=raw[:40],
            ),
            field=field,
        )
    d = session.scalar(select(CustomFieldDefinition).where(CustomFieldDefinition.key == key))
    if d is None or d.field_type not in FILTER_TYPES:
        raise InvalidInput(
            Msg("No choice or yes/no customer field has the key '%(key)s'.", key=key[:40]),
            field=field,
        )
    values = (
        ["yes", "no"]
        if d.field_type == "boolean"
        else [str(o.get("value")) for o in d.options or []]
    )
    if value not in values:
        raise InvalidInput(
            Msg(
                "'%(value)s' is not a value of the customer field '%(key)s'; its values: "
                "%(choices)s.",
                value=value[:40],
                key=key,
                choices=", ".join(values),
            ),
            field=field,
        )
    if d.field_type == "boolean":
        return key, d.field_type, value == "yes"
    return key, d.field_type, value


def filter_options(
    defs: Iterable[CustomFieldDefinition], locale: str, yes: str, no: str
) -> list[tuple[str, str]]:
    """The list filter's choices: ``("<key>:<value>", "<label>: <option>")`` for each active
    choice and yes/no field."""
    out: list[tuple[str, str]] = []
    colon = "：" if locale.startswith("zh") else ": "  # Chinese writes the full-width colon
    for d in defs:
        if not d.active or d.field_type not in FILTER_TYPES:
            continue
        label = d.label_for(locale)
        if d.field_type == "boolean":
            out += [
                (f"{d.key}:yes", f"{label}{colon}{yes}"),
                (f"{d.key}:no", f"{label}{colon}{no}"),
            ]
        else:
            out += [
                (f"{d.key}:{o['value']}", f"{label}{colon}{d.option_label(o['value'], locale)}")
                for o in d.options or []
            ]
    return out
