"""Web pages: the customer form (new and edit), archive and restore, and the privacy screens
(the data export of one customer and erasure). Their routes join ``customers.pages``' router."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.auth.permissions import acts_on_all, require
from retento.auth.service import assignable_user_choices
from retento.core.countries import country_options
from retento.core.deps import DbSession
from retento.core.errors import FieldError, RetentoError
from retento.core.validation import DbId
from retento.customers import (
    field_forms,
    field_values,
    privacy,
    service,
)
from retento.customers.duplicates import PossibleDuplicate
from retento.customers.models import CONSENTS, KINDS, Customer
from retento.customers.schemas import CustomerCreate, CustomerRead, CustomerUpdate
from retento.web.conflict import (
    STALE,
    base_inputs,
    changed_rows,
    changes_since,
    conflict_page,
    delete_conflict_page,
    form_base,
    form_version,
    history_rows,
    read_base,
)
from retento.web.forms import FORM_KEY, PageForm, reissue_key_on_reuse, submitted_key
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)

router = page_router()

CONTACT_ROWS = 2

# Field names of CustomerUpdate → labels, for the stale-edit page (web.conflict).
FIELD_LABELS = {
    "name": N_("Name"),
    "party_type": N_("Person or organisation"),
    "kind": N_("Kind"),
    "external_id": N_("External id"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "address": N_("Address"),
    "city": N_("City"),
    "country": N_("Country"),
    "acquired_on": N_("Customer since"),
    "birth_date": N_("Date of birth"),
    "tags": N_("Tags"),
    "owner_id": N_("Owner"),
    "note": N_("Note"),
    "custom_fields": N_("Custom fields"),
    "contacts": N_("Contacts"),
    "role": N_("Role"),
    "is_primary": N_("Primary"),
    **{c: label_msgid("consent", c) for c in CONSENTS},
}


def _form_values(customer: Customer | None) -> dict[str, Any]:
    """The form's initial values (strings, as the inputs show them)."""
    if customer is None:
        return {"party_type": "person", "kind": "consumer", "contacts": [{}] * CONTACT_ROWS}
    values: dict[str, Any] = {
        k: getattr(customer, k) or ""
        for k in (
            "name", "party_type", "kind", "external_id", "email", "phone", "address", "city",
            "country", "note",
        )
    }  # fmt: skip
    values["acquired_on"] = customer.acquired_on.isoformat() if customer.acquired_on else ""
    values["birth_date"] = customer.birth_date.isoformat() if customer.birth_date else ""
    values["version"] = str(customer.version)
    values["tags"] = ", ".join(customer.tags)
    values["owner_id"] = str(customer.owner_id or "")
    values.update(
        field_forms.form_values(
            field_values.definitions(object_session(customer)), customer.custom_fields or {}
        )
    )
    for c in CONSENTS:
        values[c] = getattr(customer, c)
    values["contacts"] = [
        {"name": k.name, "role": k.role or "", "email": k.email or "", "phone": k.phone or "",
         "is_primary": k.is_primary}
        for k in customer.contacts
    ] + [{}]  # fmt: skip
    return values


def _posted(customer: Customer) -> dict[str, str]:
    """The customer as its edit form posts it unchanged (input name → value): the form's hidden
    base of a three-way stale-edit page (``web.conflict``), read back by ``_parse_form``."""
    out: dict[str, str] = {}
    for k, v in _form_values(customer).items():
        if k == "version":
            continue
        if k == "contacts":
            for i, row in enumerate(v[:-1]):  # without the blank row for a new contact
                for c, x in row.items():
                    out[f"contacts.{i}.{c}"] = ("1" if x else "") if c == "is_primary" else x
        else:
            out[k] = ("1" if v else "") if isinstance(v, bool) else str(v)
    return out


def _compared(values: dict[str, Any], session: Session) -> dict[str, Any]:
    """A customer's values as the stale-edit page compares them: each defined custom field on
    its own (``custom_fields.<key>``, its input's name), so two people who changed different
    custom fields both keep their change; the other keys together (``custom_fields``)."""
    out = dict(values)
    custom = out.pop("custom_fields", None)
    if custom is None:
        return out
    defs = field_values.definitions(session)
    for d in defs:
        out[field_forms.PREFIX + d.key] = custom.get(d.key)
    known = {d.key for d in defs}
    out["custom_fields"] = {k: v for k, v in custom.items() if k not in known}
    return out


def _parse_form(
    request: Request, form: Any, session: Session, stored: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any], list[FieldError]]:
    """``(payload for the schema, values to re-show, problems found while parsing)``;
    ``stored``: the edited customer's custom fields."""
    get = lambda k: str(form.get(k) or "").strip()  # noqa: E731
    shown: dict[str, Any] = {
        k: get(k)
        for k in (
            "name", "party_type", "kind", "external_id", "email", "phone", "address", "city",
            "country", "acquired_on", "birth_date", "note", "tags", "owner_id",
        )
    }  # fmt: skip
    # Kept as sent, so a form shown again after a 422 still detects someone else's save.
    version = get("version")
    problems: list[FieldError] = []
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items()}
    data["name"] = shown["name"]
    data["party_type"] = shown["party_type"] or "person"
    data["kind"] = shown["kind"] or "consumer"
    if data["country"]:
        data["country"] = data["country"].upper()
    data["tags"] = [t for t in shown["tags"].replace("，", ",").split(",") if t.strip()]
    for c in CONSENTS:
        shown[c] = data[c] = form.get(c) == "1"
    data["custom_fields"], custom_shown, custom_problems = field_forms.parse(
        request, form, field_values.definitions(session), stored or {}
    )
    shown.update(custom_shown)
    problems += custom_problems
    owner = shown["owner_id"]
    data["owner_id"] = int(owner) if owner.isascii() and owner.isdigit() else None
    if owner and data["owner_id"] is None:
        # Not silently dropped: the customer would be saved without the owner chosen.
        problems.append(FieldError("owner_id", tr(request, "Choose one of the listed values.")))
    contacts, shown_contacts = [], []
    i = 0
    while f"contacts.{i}.name" in form or f"contacts.{i}.email" in form:
        row = {k: get(f"contacts.{i}.{k}") for k in ("name", "role", "email", "phone")}
        row["is_primary"] = form.get(f"contacts.{i}.is_primary") == "1"
        shown_contacts.append(row)
        if any(row[k] for k in ("name", "role", "email", "phone")):
            contact = {k: (v or None) for k, v in row.items() if k != "is_primary"}
            contacts.append({**contact, "name": row["name"], "is_primary": row["is_primary"]})
        i += 1
    shown["contacts"] = shown_contacts or [{}]
    shown["version"] = version
    data["contacts"] = contacts
    return data, shown, problems


def _contact_errors(errors: dict[str, str], data: dict[str, Any], shown: dict[str, Any]) -> None:
    """Contacts skipped when blank shift indexes: map schema indexes back to the form rows."""
    rows = [
        i
        for i, r in enumerate(shown["contacts"])
        if any(r.get(k) for k in ("name", "role", "email", "phone"))
    ]
    for key in list(errors):
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "contacts" and parts[1].isdigit():
            idx = int(parts[1])
            if idx < len(rows) and rows[idx] != idx:
                errors[f"contacts.{rows[idx]}.{parts[2]}"] = errors.pop(key)


def _check_form(
    request: Request,
    session: Session,
    schema: type[CustomerCreate] | type[CustomerUpdate],
    data: dict[str, Any],
    problems: list[FieldError],
    own_id: int | None = None,
    stored_custom: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, str]]:
    """``(the schema's object or None, every error of the form)``: the form's own parsing, the
    schema's checks and the service's checks against stored rows (owner, external id, one
    primary contact, no date of birth for an organisation) all at once, so a form with several
    mistakes does not come back once for each of them."""
    errors: dict[str, str] = {}
    payload = None
    try:
        payload = schema(**data)
    except ValidationError as exc:
        errors = form_errors(request, exc)
    for p in problems:
        errors.setdefault(p.field or "", error_text(request, p.message))

    def accepted(name: str) -> Any:
        """The value when the steps above found nothing wrong with it (else not checked)."""
        wrong = any(k == name or k.startswith(f"{name}.") for k in errors)
        return None if wrong else data.get(name)

    for exc in service.field_problems(
        session,
        owner_id=accepted("owner_id"),
        external_id=accepted("external_id"),
        contacts=data.get("contacts"),
        own_id=own_id,
        custom_fields=None if accepted("custom_fields") is None else data["custom_fields"],
        stored_custom=stored_custom,
        party_type=accepted("party_type"),
        birth_date=accepted("birth_date"),
    ):
        for name, message in form_errors(request, exc).items():
            errors.setdefault(name, message)
    field_forms.place_errors(errors, field_values.definitions(session))
    return payload, errors


def _render_form(
    request: Request,
    session: DbSession,
    user: User,
    customer: Customer | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    duplicates: list[dict[str, Any]] | None = None,
    base: dict[str, Any] | None = None,
) -> Response:
    """The form; an existing customer's carries the values it was loaded with (``base``, for
    the stale-edit page), kept when it comes back with errors."""
    can_assign = acts_on_all(user)
    return render(
        request,
        "customers/form.html",
        status_code=status_code,
        customer=customer,
        form=values,
        errors=errors or {},
        can_assign=can_assign,
        owners=assignable_user_choices(session) if can_assign else [],
        kinds=[(k, tr(request, label_msgid("kind", k))) for k in KINDS],
        party_types=[
            (k, tr(request, label_msgid("party_type", k))) for k in ("person", "organisation")
        ],
        consents=CONSENTS,
        countries=country_options(request_locale(request)),
        duplicates=duplicates or [],
        field_defs=field_values.definitions(session, active_only=True),
        base=base if base is not None or customer is None else _posted(customer),
    )


@router.get("/customers/new")
def customer_new(request: Request, session: DbSession, user: PageUser) -> Response:
    """The form for a new customer."""
    require(user, "customer:create")
    return _render_form(request, session, user, None, _form_values(None))


@router.post("/customers/new")
def customer_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Create a customer; on any error the form comes back with messages and nothing is saved."""
    require(user, "customer:create")  # before the checks, which look up external ids
    data, shown, problems = _parse_form(request, form, session)
    shown[FORM_KEY] = submitted_key(form)
    if not acts_on_all(user):
        data.pop("owner_id", None)
    payload, errors = _check_form(request, session, CustomerCreate, data, problems)
    try:
        if not errors:
            customer = service.create_customer(
                session,
                payload,
                actor=user,
                force=form.get("force") == "1",
                idempotency_key=shown[FORM_KEY] or None,
            )
    except PossibleDuplicate as exc:
        # Not an error: the form comes back listing the matches, with "Create anyway".
        session.rollback()
        return _render_form(request, session, user, None, shown, duplicates=exc.matches)
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403):
            raise
        errors = form_errors(request, exc)
    if errors:
        _contact_errors(errors, data, shown)
        reissue_key_on_reuse(errors, shown)
        return _render_form(request, session, user, None, shown, errors, 422)
    flash(request, tr(request, "Customer %(name)s was created.", name=customer.name))
    return redirect(request, f"/customers/{customer.id}")


@router.get("/customers/{customer_id:int}/edit")
def customer_edit(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """The form for changing a customer."""
    customer = service.get_customer(session, customer_id, actor=user)
    service.require_customer_change(user, customer, "customer:update")
    return _render_form(request, session, user, customer, _form_values(customer))


@router.post("/customers/{customer_id:int}/edit")
def customer_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Save a customer's changes; on any error nothing is saved.

    A form loaded before someone else saved gets the conflict page (409) instead.
    """
    customer = service.get_customer(session, customer_id, actor=user)
    stored_custom = dict(customer.custom_fields or {})
    data, shown, problems = _parse_form(request, form, session, stored_custom)
    expected = form_version(form)
    if not acts_on_all(user):
        data.pop("owner_id", None)
    try:
        # Before the checks, which look up other customers' external ids.
        service.require_customer_change(user, customer, "customer:update")
        update, errors = _check_form(
            request, session, CustomerUpdate, data, problems, customer_id, stored_custom
        )
        if not errors:
            service.update_customer(
                session, customer_id, update, actor=user, expected_version=expected
            )
    except STALE:
        session.rollback()
        current = service.get_customer(session, customer_id, actor=user)
        now = dict(current.custom_fields or {})

        def read(values: Any) -> dict[str, Any]:
            """Form inputs → the compared values, as the submitted form is read."""
            data = _parse_form(request, values, session, now)[0]
            if not acts_on_all(user):
                data.pop("owner_id", None)
            return _compared(CustomerUpdate(**data).model_dump(exclude_unset=True), session)

        submitted = update.model_dump(exclude_unset=True, exclude={"version"})
        return conflict_page(
            request,
            session,
            entity="customer",
            record=current,
            title=current.name,
            submitted=_compared(submitted, session),
            current=_compared(CustomerRead.model_validate(current).model_dump(), session),
            labels=_labels(request, session),
            form=form,
            action=f"/customers/{customer_id}/edit",
            reload_url=f"/customers/{customer_id}/edit",
            cancel_url=f"/customers/{customer_id}",
            expected=expected,
            base=read_base(form, read),
            current_form=_posted(current),
            shown=_shown(request, session),
        )
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        errors = form_errors(request, exc)
    if errors:
        _contact_errors(errors, data, shown)
        customer = service.get_customer(session, customer_id, actor=user)
        base = form_base(form)
        return _render_form(request, session, user, customer, shown, errors, 422, base=base)
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, f"/customers/{customer_id}")


def _labels(request: Request, session: Session) -> dict[str, str]:
    """The stale-edit page's field labels: a custom field by its label in the reader's language,
    the keys no definition names as the form's "Other fields"."""
    locale = request_locale(request)
    defs = field_values.definitions(session)
    custom = {field_forms.PREFIX + d.key: d.label_for(locale) for d in defs}
    return {**FIELD_LABELS, "custom_fields": N_("Other fields"), **custom}


def _shown(request: Request, session: Session) -> dict[str, Any]:
    """A choice custom field's values by their labels in the reader's language, as the form's
    select shows them."""
    locale = request_locale(request)
    out = {}
    for d in field_values.definitions(session):
        if d.field_type == "choice":
            out[field_forms.PREFIX + d.key] = lambda v, d=d: (
                "—" if v in (None, "") else d.option_label(v, locale)
            )
    return out


# The state an archive or erase form was loaded with (its hidden ``base.<name>``
# inputs) → labels, for the stale-action page: "Archived: No → Yes".
STATE_LABELS = {"archived": N_("Archived"), "erased": N_("Personal data erased")}

# The audit actions that change that state (a merge archives the duplicate: ``archive``).
STATE_ACTIONS = {"archived": ("archive", "restore", "erase"), "erased": ("erase",)}


def _state(customer: Customer) -> dict[str, bool]:
    return {"archived": customer.archived_at is not None, "erased": customer.erased_at is not None}


def _loaded_state(form: Any, implied: dict[str, bool]) -> dict[str, bool]:
    """The state the posting page showed: its hidden base inputs, else what the form implies
    (the Archive button is only shown for an active customer, the erase page for one not
    erased)."""
    base = form_base(form) or {}
    sent = {k: base[k] == "1" for k in STATE_LABELS if isinstance(base.get(k), str)}
    return sent or implied


def _stale_action(
    request: Request,
    session: Session,
    user: User,
    customer_id: int,
    form: Any,
    *,
    action: str,
    implied: dict[str, bool],
    hidden: list[tuple[str, str]] | None = None,
) -> Response:
    """The 409 page of an archive or erasure posted from a page loaded before the customer
    changed (after the rollback: nothing was done): what changed since, its archive
    and erasure state included, who changed it, and a button that posts ``action`` again for
    the customer as it is now."""
    expected = form_version(form)
    current = service.get_customer(session, customer_id, actor=user)
    history = changes_since(session, "customer", current.id, expected)
    rows = changed_rows(request, _loaded_state(form, implied), _state(current), STATE_LABELS)
    for row in rows:
        last = session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.entity == "customer",
                AuditEntry.entity_id == str(current.id),
                AuditEntry.action.in_(STATE_ACTIONS[row.field]),
            )
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).first()
        if last is not None:
            row.changed_by, row.changed_at = last.actor_name, last.at
    rows += history_rows(request, "customer", history, FIELD_LABELS)
    return delete_conflict_page(
        request,
        session,
        entity="customer",
        record_id=current.id,
        title=current.name,
        expected=expected,
        version=current.version,
        action=f"/customers/{customer_id}/{action}",
        reload_url=f"/customers/{customer_id}",
        cancel_url=f"/customers/{customer_id}",
        rows=rows,
        hidden=[*base_inputs(_state(current)), *(hidden or [])],
        verb=action,
    )


@router.post("/customers/{customer_id:int}/archive")
def customer_archive(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Archive a customer (managers and admins); the 360 page then offers to restore it.
    Posted from a page loaded before the customer was edited, archived or restored: nothing
    is archived, 409 saying what changed (a form without a version archives as before)."""
    expected = form_version(form)  # a version that is no number: 422, nothing archived
    try:
        customer = service.archive_customer(session, customer_id, actor=user, version=expected)
    except STALE:
        session.rollback()
        implied = {"archived": False}
        return _stale_action(
            request, session, user, customer_id, form, action="archive", implied=implied
        )
    flash(request, tr(request, "Customer %(name)s was archived.", name=customer.name))
    return redirect(request, f"/customers/{customer_id}")


@router.post("/customers/{customer_id:int}/restore")
def customer_restore(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Bring an archived customer back into lists, search, scoring and surveys. Posted from a
    page loaded before the customer was edited, restored or archived again: nothing is
    restored, 409 saying what changed (a form without a version restores as before)."""
    expected = form_version(form)  # a version that is no number: 422, nothing restored
    try:
        customer = service.restore_customer(session, customer_id, actor=user, version=expected)
    except STALE:
        session.rollback()
        implied = {"archived": True}
        return _stale_action(
            request, session, user, customer_id, form, action="restore", implied=implied
        )
    flash(request, tr(request, "Customer %(name)s was restored.", name=customer.name))
    return redirect(request, f"/customers/{customer_id}")


@router.get("/customers/{customer_id:int}/export.zip")
def customer_data_export(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Everything held about the customer as a zip (privacy access request)."""
    import tempfile

    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    try:
        privacy.write_export(session, customer_id, out, actor=user)
    except BaseException:
        out.close()
        raise
    out.seek(0)

    def chunks():
        with out:
            while block := out.read(256 * 1024):
                yield block

    name = privacy.export_filename(customer_id)
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _render_erase(
    request: Request,
    customer: Customer,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    reason: str = "",
    form: Any = None,
) -> Response:
    """The erase page; re-shown after a mistake (``form``) it keeps the version and state the
    page was first loaded with, so a change made since is still caught."""
    if form is not None:
        version = form_version(form)
        state = {k: v == "1" for k, v in (form_base(form) or {}).items() if k in STATE_LABELS}
    else:
        version, state = customer.version, _state(customer)
    return render(
        request,
        "customers/erase.html",
        status_code=status_code,
        customer=customer,
        errors=errors or {},
        reason=reason,
        version=version,
        base=base_inputs(state),
    )


@router.get("/customers/{customer_id:int}/erase")
def customer_erase_form(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """What an erasure removes and keeps, and the typed confirmation it needs."""
    require(user, "customer:erase")
    customer = service.get_customer(session, customer_id, actor=user)
    return _render_erase(request, customer)


@router.post("/customers/{customer_id:int}/erase")
def customer_erase(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Erase the customer's personal data once its number was typed in as confirmation. From a
    page loaded before the customer changed, nothing is erased (409 saying what changed)."""
    require(user, "customer:erase")
    customer = service.get_customer(session, customer_id, actor=user)
    typed = str(form.get("confirm") or "").strip().lstrip("#")
    reason = str(form.get("reason") or "").strip()
    errors: dict[str, str] = {}
    if typed != str(customer.id):
        errors["confirm"] = tr(
            request, "Type the customer number %(id)s to confirm.", id=customer.id
        )
    if len(reason) > 200:
        errors["reason"] = tr(request, "At most 200 characters.")
    expected = form_version(form)  # a version that is no number: 422, nothing erased
    if errors:
        return _render_erase(request, customer, errors, 422, reason, form)
    try:
        privacy.erase_customer(
            session, customer_id, actor=user, reason=reason or None, version=expected
        )
    except STALE:
        # The page was loaded before the customer was edited, archived or restored.
        session.rollback()
        return _stale_action(
            request,
            session,
            user,
            customer_id,
            form,
            action="erase",
            implied={"erased": False},
            hidden=[("confirm", str(customer_id)), ("reason", reason)],
        )
    flash(request, tr(request, "The personal data of customer %(id)s was erased.", id=customer_id))
    return redirect(request, f"/customers/{customer_id}")
