"""Web pages: the administrators' Customer fields page (the custom field definitions)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.core.validation import DbId
from retento.customers import field_defs
from retento.customers.field_defs import MANAGE, FieldDefinitionCreate, FieldDefinitionUpdate
from retento.customers.field_models import FIELD_TYPES, CustomFieldDefinition
from retento.web.conflict import (
    STALE,
    as_posted,
    conflict_page,
    form_base,
    form_version,
    read_base,
)
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import register_field_labels, register_labels
from retento.web.nav import NavItem, register_nav
from retento.web.render import PageUser, flash, form_errors, page_router, redirect, render, tr

router = page_router()

register_nav(
    NavItem("admin.customer_fields", N_("Customer fields"), "/admin/customer-fields", MANAGE, 14,
            "admin")
)  # fmt: skip
register_labels("entity", {"custom_field": N_("Customer field")})
TYPE_LABELS = {
    "text": N_("Free text"),
    "number": N_("Number"),
    "date": N_("Date"),
    "boolean": N_("Yes/no"),
    "choice": N_("Choice"),
}
register_labels("custom_field_type", TYPE_LABELS)
FIELD_LABELS = {
    "key": N_("Key"),
    "label": N_("Display name"),
    "label_zh": N_("Chinese display name"),
    "field_type": N_("Type"),
    "options": N_("Options"),
    "required": N_("Required"),
    "active": N_("Active"),
    "position": N_("Display order"),
}
register_field_labels("custom_field", FIELD_LABELS)


def options_text(options: list[dict[str, Any]]) -> str:
    """The options as the form's text area shows them: one per line, ``Gold | 金卡``."""
    return "\n".join(
        f"{o['value']} | {o['label_zh']}" if o.get("label_zh") else str(o["value"])
        for o in options or []
    )


def _parse_options(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, _, zh = line.partition("|")
        out.append({"value": value.strip(), "label_zh": zh.strip() or None})
    return out


def _form_data(form: Any) -> dict[str, Any]:
    get = lambda k: str(form.get(k) or "").strip()  # noqa: E731
    return {
        "key": get("key"),
        "label": get("label"),
        "label_zh": get("label_zh"),
        "field_type": get("field_type") or "text",
        "options": get("options"),
        "required": form.get("required") == "1",
        "active": form.get("active") == "1",
        "position": get("position"),
        "version": get("version"),
    }


def _payload(data: dict[str, Any], *, create: bool) -> dict[str, Any]:
    out = {k: data[k] for k in ("label", "required", "active")}
    out["label_zh"] = data["label_zh"] or None
    out["position"] = data["position"] or 0
    if create:
        out["key"] = data["key"]
        out["field_type"] = data["field_type"]
        out["options"] = _parse_options(data["options"])
    elif data["options"] or data.get("is_choice"):
        out["options"] = _parse_options(data["options"])
    return out


def _values(d: CustomFieldDefinition) -> dict[str, Any]:
    return {
        "key": d.key,
        "label": d.label,
        "label_zh": d.label_zh or "",
        "field_type": d.field_type,
        "options": options_text(d.options),
        "required": d.required,
        "active": d.active,
        "position": str(d.position),
        "version": str(d.version),
    }


def _form(
    request: Request,
    *,
    definition: CustomFieldDefinition | None,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The field form; a field's carries the values it was loaded with (``base``, for the
    stale-edit page), kept when it comes back with errors."""
    errors = dict(errors or {})
    for key in list(errors):
        if key.startswith("options."):  # options.2.value → the text area
            errors.setdefault("options", errors.pop(key))
    return render(
        request,
        "customers/field_form.html",
        status_code=status_code,
        definition=definition,
        form=form,
        errors=errors,
        base=base if base is not None or definition is None else as_posted(_values(definition)),
        types=[(t, tr(request, TYPE_LABELS[t])) for t in FIELD_TYPES],
    )


@router.get("/admin/customer-fields")
def fields_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Every defined field, in the forms' order, active and retired."""
    require(user, MANAGE)
    rows = field_defs.list_definitions(session, actor=user)
    return render(request, "customers/fields.html", rows=rows, type_labels=TYPE_LABELS)


@router.get("/admin/customer-fields/new")
def field_new(request: Request, user: PageUser) -> Response:
    """The form for a new field."""
    require(user, MANAGE)
    return _form(request, definition=None, form={"field_type": "text", "active": True})


@router.post("/admin/customer-fields/new")
def field_create(request: Request, raw: PageForm, session: DbSession, user: PageUser) -> Response:
    """Define a field; errors are shown next to their inputs and nothing is saved."""
    require(user, MANAGE)
    data = _form_data(raw)
    try:
        created = field_defs.create_definition(
            session, FieldDefinitionCreate(**_payload(data, create=True)), actor=user
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        status = 409 if isinstance(exc, RetentoError) and exc.status == 409 else 422
        return _form(
            request,
            definition=None,
            form=data,
            errors=form_errors(request, exc),
            status_code=status,
        )
    flash(request, tr(request, "The field %(label)s was created.", label=created.label))
    return redirect(request, "/admin/customer-fields")


@router.get("/admin/customer-fields/{definition_id:int}")
def field_edit(request: Request, session: DbSession, user: PageUser, definition_id: DbId):
    """The edit form of a field (its key and type are shown, not editable)."""
    require(user, MANAGE)
    d = field_defs.get_definition(session, definition_id, actor=user)
    return _form(request, definition=d, form=_values(d))


@router.post("/admin/customer-fields/{definition_id:int}")
def field_update(
    request: Request, raw: PageForm, session: DbSession, user: PageUser, definition_id: DbId
) -> Response:
    """Save a field; a form loaded before someone else saved gets the conflict page (409),
    three-way: what this form changed against what is stored now."""
    require(user, MANAGE)
    d = field_defs.get_definition(session, definition_id, actor=user)
    data = _form_data(raw)
    data["is_choice"] = d.field_type == "choice"
    try:
        field_defs.update_definition(
            session,
            definition_id,
            FieldDefinitionUpdate(**_payload(data, create=False)),
            actor=user,
            expected_version=form_version(raw),
        )
    except STALE:
        session.rollback()
        d = field_defs.get_definition(session, definition_id, actor=user)
        current_form = as_posted(_values(d))

        def read(values: Any) -> dict[str, Any]:
            """Form inputs → the compared values, every side read by the one parser."""
            return _payload(
                {**_form_data(values), "is_choice": d.field_type == "choice"}, create=False
            )

        return conflict_page(
            request,
            session,
            entity="custom_field",
            record=d,
            title=d.label,
            submitted=read(raw),
            current=read(current_form),
            labels=FIELD_LABELS,
            form=raw,
            action=f"/admin/customer-fields/{definition_id}",
            reload_url=f"/admin/customer-fields/{definition_id}",
            cancel_url="/admin/customer-fields",
            expected=form_version(raw),
            base=read_base(raw, read),
            current_form=current_form,
            shown={"options": lambda v: options_text(v).replace("\n", "; ") or "—"},
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        d = field_defs.get_definition(session, definition_id, actor=user)
        shown = {**_values(d), **data, "key": d.key, "field_type": d.field_type}
        errors = form_errors(request, exc)
        return _form(
            request, definition=d, form=shown, errors=errors, status_code=422, base=form_base(raw)
        )
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, "/admin/customer-fields")
