"""The customer form's custom fields: one input per active definition (``custom_fields.<key>``)
and, for values stored under keys no definition names, a free "other fields" area
(``custom_fields``, one ``key: value`` per line)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request

from retento.core.errors import FieldError
from retento.customers.field_models import CustomFieldDefinition
from retento.customers.field_values import shown_text
from retento.web.render import tr

PREFIX = "custom_fields."


def form_values(defs: Iterable[CustomFieldDefinition], stored: Mapping[str, Any]) -> dict:
    """The inputs' initial values: ``custom_fields.<key>`` per active definition (a checkbox's
    is a bool), ``custom_fields`` the other (undefined) keys' lines."""
    defs = list(defs)
    values: dict[str, Any] = {}
    for d in defs:
        if not d.active:
            continue
        v = stored.get(d.key)
        values[PREFIX + d.key] = (v is True) if d.field_type == "boolean" else shown_text(v or "")
    known = {d.key for d in defs}
    values["custom_fields"] = "\n".join(
        f"{k}: {shown_text(v)}" for k, v in stored.items() if k not in known
    )
    return values


def parse(
    request: Request,
    form: Any,
    defs: Iterable[CustomFieldDefinition],
    stored: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    """``(custom_fields for the schema, values to re-show, problems)``.

    Retired fields are not on the form: their stored values are carried over. A line of the
    "other fields" area that still shows its stored value keeps the stored value (a number stays
    a number); the service refuses keys that are new there."""
    defs = list(defs)
    custom: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for d in defs:
        name = PREFIX + d.key
        if not d.active:
            if d.key in stored:
                custom[d.key] = stored[d.key]
            continue
        if d.field_type == "boolean":
            # An unticked box is "no" for a customer who had a value; for one who never had
            # one it stays unset (the form cannot tell "no" from "not known").
            shown[name] = form.get(name) == "1"
            if shown[name] or d.key in stored:
                custom[d.key] = shown[name]
        else:
            shown[name] = str(form.get(name) or "").strip()
            if shown[name]:
                custom[d.key] = shown[name]
    problems: list[FieldError] = []
    shown["custom_fields"] = str(form.get("custom_fields") or "").strip()
    for n, line in enumerate(shown["custom_fields"].splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            problems.append(
                FieldError("custom_fields", tr(request, "Line %(n)s: write 'name: value'.", n=n))
            )
            continue
        if key in stored and shown_text(stored[key]) == value:
            custom[key] = stored[key]
        else:
            custom[key] = value
    return custom, shown, problems


def place_errors(errors: dict[str, str], defs: Iterable[CustomFieldDefinition]) -> None:
    """Errors about keys without an input of their own go to the "other fields" area."""
    inputs = {PREFIX + d.key for d in defs if d.active}
    for key in list(errors):
        if key.startswith(PREFIX) and key not in inputs:
            errors.setdefault("custom_fields", errors.pop(key))


def display_rows(
    defs: Iterable[CustomFieldDefinition], stored: Mapping[str, Any] | None, locale: str
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """What the 360 page shows: ``([{label, type, value, retired}] for defined keys with a value,
    in the definitions' order (retired ones too); [(key, text)] for the other keys)``. Dates
    come as ``date`` for ``fmt.date``, choices as their label in the reader's language."""
    from datetime import date

    from retento.customers.field_values import split

    defined, other = split(defs, dict(stored or {}))
    rows = []
    for d, value in defined:
        shown: Any = value
        if d.field_type == "date" and isinstance(value, str):
            try:
                shown = date.fromisoformat(value)
            except ValueError:
                shown = value
        elif d.field_type == "choice":
            shown = d.option_label(value, locale)
        elif d.field_type != "boolean":
            shown = shown_text(value)
        rows.append(
            {
                "key": d.key,
                "label": d.label_for(locale),
                "type": d.field_type,
                "value": shown,
                "retired": not d.active,
            }
        )
    return rows, [(k, shown_text(v)) for k, v in other.items()]
