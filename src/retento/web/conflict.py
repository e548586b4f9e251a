"""The "someone else changed this" page shown when an edit form was stale (core.versioning).

Every edit form carries the record's ``version`` in a hidden input. When the service refuses the
save (``VersionConflict``, or ``StaleDataError`` from the versioned UPDATE), the page handler
calls ``conflict_page``: HTTP 409 with, field by field, the value the user submitted next to the
value stored now and who changed it when (from the audit log), plus two ways on: reload the
current record, or re-apply the submitted values on top of the new version.

A form that also carries the values it was loaded with (hidden ``base.<name>`` inputs,
``form_base``; the template ``_conflict_base.html`` writes them) gets a three-way comparison:
only the fields this user changed (base → theirs) and that differ from the stored value are
listed, and "Apply my values" re-applies only those, keeping what the others changed since.

A delete form carries the version too (and a part of a record, a survey's question, the values
it was loaded with): a delete from a page loaded before someone else saved the record deletes
nothing and gets ``delete_conflict_page`` (409: what changed since, who changed it, reload).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import FormData

from retento.audit.models import AuditEntry
from retento.core.errors import FieldError, Msg, RetentoError, number_error, param
from retento.core.versioning import VersionConflict
from retento.web.i18n import N_
from retento.web.labels import field_msgid, value_msgid
from retento.web.render import render, tr

# Both mean "the record moved on since the form was loaded".
STALE = (VersionConflict, StaleDataError)

# How far back the audit log is searched for who made the newer versions.
AUDIT_LOOKBACK = 50

# The hidden inputs holding the values an edit form was loaded with: ``base.<input name>``.
BASE_PREFIX = "base."


def form_version(form: Any, *, required: bool = False) -> int | None:
    """The hidden ``version`` input of an edit form (``None`` if absent or empty).

    A version that is there but is no whole number (a tampered or broken form) is refused
    (422 naming ``version``): read as "no version" it would skip the stale-write check. So is
    a missing one when ``required`` (a form whose edit must never overwrite unseen changes)."""
    raw = str(form.get("version") or "").strip()
    if not raw:
        if required:
            message = Msg("%(field)s is required.", field=param("version", N_("Version")))
            raise FieldError("version", message).refuse()
        return None
    if not (raw.isdigit() and len(raw) <= 12):
        raise number_error("version", N_("Version"), whole=True).refuse()
    return int(raw)


def form_base(form: Any) -> dict[str, Any] | None:
    """The values the edit form was loaded with (its hidden ``base.<name>`` inputs, input name
    → value; a name held by several inputs, like ticked boxes of one list, → their values in
    order), or ``None`` for a form without them (loaded before forms carried them)."""
    out: dict[str, Any] = {}
    for k, v in form.multi_items():
        if not (k.startswith(BASE_PREFIX) and isinstance(v, str)):
            continue
        name = k.removeprefix(BASE_PREFIX)
        if name not in out:
            out[name] = v
        elif isinstance(out[name], list):
            out[name].append(v)
        else:
            out[name] = [out[name], v]
    return out or None


def as_posted(values: dict[str, Any]) -> dict[str, Any]:
    """An edit form's initial values as the form posts them unchanged, for its hidden base: a
    ticked box ``"1"``, an unticked one or no value ``""``, a list (ticked boxes of one name)
    as its items' text; the version is left out (it has an input of its own)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if k == "version":
            continue
        if isinstance(v, bool):
            out[k] = "1" if v else ""
        elif isinstance(v, list | tuple):
            out[k] = [str(x) for x in v]
        else:
            out[k] = "" if v is None else str(v)
    return out


def as_form(values: dict[str, Any]) -> FormData:
    """Input name → value (or values) as a posted form, for a parser that reads ``getlist`` or
    ``multi_items`` (``form_base``, a record's ``current_form``)."""
    items: list[tuple[str, str]] = []
    for k, v in values.items():
        items += [(k, x) for x in v] if isinstance(v, list | tuple) else [(k, v)]
    return FormData(items)


def read_base(form: Any, read: Callable[[Any], dict[str, Any]]) -> dict[str, Any] | None:
    """The values the edit form was loaded with, read by ``read`` exactly as the submitted
    ones are (so a value nobody changed compares equal), or ``None``: a form without them, or
    with values ``read`` refuses (a tampered form), gets the two-way page."""
    base = form_base(form)
    if base is None:
        return None
    try:
        return read(as_form(base))
    except (RetentoError, ValidationError, ValueError, TypeError, KeyError):
        return None


@dataclass
class ConflictRow:
    """One field whose submitted value differs from the stored one."""

    field: str
    label: str
    yours: str
    current: str
    changed_by: str | None = None
    changed_at: datetime | None = None


def _text(
    request: Request,
    value: Any,
    labels: dict[str, str],
    coded: Callable[[Any], str | None] | None = None,
) -> str:
    """A stored or submitted value as one line of text for the comparison table; ``coded``
    gives the label (message id) of a code of an enumerated field, applied to the value and to
    the items of a list of codes."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return tr(request, N_("Yes") if value else N_("No"))
    msgid = coded(value) if coded is not None else None
    if msgid:
        return tr(request, msgid)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if k == "id" or v is None or v == "" or v is False:
                continue
            name = tr(request, labels[k]) if k in labels else k
            parts.append(name if v is True else f"{name}: {_text(request, v, labels)}")
        return ", ".join(parts) or "—"
    if isinstance(value, list | tuple):
        items = [_text(request, v, labels, coded) for v in value]
        sep = "; " if any(isinstance(v, dict) for v in value) else ", "
        return sep.join(items) or "—"
    return str(value)


def _comparable(value: Any) -> Any:
    """Values equal for a person compare equal (lists of rows ignore their row ids; an empty
    text, list or mapping is no value, as a blank form field is a stored ``None``; a text
    compares without its surrounding white space and with its line ends as typed: a browser
    posts a textarea's lines ended by CRLF, the database holds what the service stored)."""
    if isinstance(value, str):
        value = value.replace("\r\n", "\n").strip()
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k != "id"}
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def same_value(a: Any, b: Any) -> bool:
    """Two values (stored, submitted, or as a form was loaded) equal for a person: the one
    comparison of every conflict page (``_comparable``)."""
    return _comparable(a) == _comparable(b)


def changes_since(session: Session, entity: str, entity_id: Any, version: int | None) -> list:
    """Audit entries of ``entity`` that made versions newer than ``version``, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(
            AuditEntry.entity == entity,
            AuditEntry.entity_id == str(entity_id),
            AuditEntry.action == "update",
        )
        .order_by(AuditEntry.id.desc())
        .limit(AUDIT_LOOKBACK)
    )
    entries = list(reversed(session.scalars(stmt).all()))
    if version is None:
        return entries[-1:]
    return [e for e in entries if int((e.after or {}).get("version") or 0) > version]


def changed_fields(submitted: dict[str, Any], base: dict[str, Any]) -> set[str]:
    """The fields of ``submitted`` the user changed from ``base`` (the values the form was
    loaded with); a field ``base`` lacks counts as changed."""
    return {k for k, v in submitted.items() if k not in base or not same_value(v, base[k])}


def conflict_rows(
    request: Request,
    submitted: dict[str, Any],
    current: dict[str, Any],
    labels: dict[str, str],
    history: list,
    entity: str = "",
    *,
    base: dict[str, Any] | None = None,
    shown: dict[str, Callable[[Any], str]] | None = None,
) -> list[ConflictRow]:
    """The fields where what the user sent differs from what is stored, with who changed them;
    with ``base`` (the values the form was loaded with) only the fields the user changed.
    A value is shown as ``shown[field]`` writes it (money with its currency, a choice by its
    label), else a value of an enumerated field of ``entity`` records by its label
    (``web.labels.register_value_labels``)."""
    mine = changed_fields(submitted, base) if base is not None else set(submitted)
    rows = []
    for key, yours in submitted.items():
        if key not in current or key not in mine:
            continue
        if same_value(yours, current[key]):
            continue
        last = next((e for e in reversed(history) if key in (e.after or {})), None)
        coded = partial(value_msgid, entity, key)
        show = (shown or {}).get(key) or partial(_text, request, labels=labels, coded=coded)
        rows.append(
            ConflictRow(
                field=key,
                label=tr(request, labels[key]) if key in labels else key,
                yours=show(yours),
                current=show(current[key]),
                changed_by=last.actor_name if last else None,
                changed_at=last.at if last else None,
            )
        )
    return rows


def input_field(name: str, fields: Any) -> str | None:
    """The compared field an input stands for: the one of its name, else the one its name
    starts with before a dot (``contacts.0.email`` is part of ``contacts``: rows, or the parts
    of one value, are kept or re-applied together)."""
    if name in fields:
        return name
    head = name.split(".", 1)[0]
    return head if head != name and head in fields else None


def _pairs(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Input name → value (or values, for several inputs of one name) as (name, value) pairs."""
    out: list[tuple[str, str]] = []
    for k, v in values.items():
        out += [(k, str(x)) for x in v] if isinstance(v, list | tuple) else [(k, str(v))]
    return out


def conflict_page(
    request: Request,
    session: Session,
    *,
    entity: str,
    record: Any,
    title: str,
    submitted: dict[str, Any],
    current: dict[str, Any],
    labels: dict[str, str],
    form: Any,
    action: str,
    reload_url: str,
    cancel_url: str,
    expected: int | None,
    base: dict[str, Any] | None = None,
    current_form: dict[str, str] | None = None,
    shown: dict[str, Callable[[Any], str]] | None = None,
) -> HTMLResponse:
    """The 409 page for a stale edit of ``record`` (reloaded after the rollback).

    ``submitted`` and ``current`` are the same schema's field values (what the form sent, what
    the database holds now); ``form`` is the raw form, re-posted by "Apply my values again"
    with the current version.

    Three-way, when the form carried the values it was loaded with: ``base`` is them read like
    ``submitted`` (from ``form_base``), ``current_form`` the stored record as its edit form's
    inputs hold it (input name → value; an input named like a field stands for that field).
    Only the fields the user changed are listed, and re-posted as the user wrote them; the
    inputs of the fields the user left as loaded are re-posted with their stored values, and
    ``current_form`` becomes the new base. An input stands for the field of its name or, named
    ``<field>.<part>``, for that field (``input_field``): a list of rows compared as one field
    is kept or re-applied whole. ``current_form`` may give a list of values for a name several
    inputs share (ticked boxes). ``shown``
    writes a field's values as the form shows them (``conflict_rows``).
    """
    history = changes_since(session, entity, record.id, expected)
    merge = base is not None and current_form is not None
    rows = conflict_rows(
        request,
        submitted,
        current,
        labels,
        history,
        entity,
        base=base if merge else None,
        shown=shown,
    )
    mine = changed_fields(submitted, base) if merge and base is not None else set()
    # The fields the user left as loaded: their inputs are re-posted with the stored values
    # (an input for no compared field is re-posted as the user sent it).
    kept = (
        {f for k in current_form or {} if (f := input_field(k, submitted)) and f not in mine}
        if merge
        else set()
    )
    hidden = [
        (k, v)
        for k, v in form.multi_items()
        if k not in ("csrf_token", "version")
        and not k.startswith(BASE_PREFIX)
        and input_field(k, submitted) not in kept
        and isinstance(v, str)
    ]
    hidden += [(k, v) for k, v in _pairs(current_form or {}) if input_field(k, submitted) in kept]
    hidden += [(BASE_PREFIX + k, v) for k, v in _pairs(current_form or {})] if merge else []
    return render(
        request,
        "conflict.html",
        status_code=409,
        title=title,
        rows=rows,
        history=history,
        expected=expected,
        version=record.version,
        hidden=hidden,
        merged=merge,
        action=action,
        reload_url=reload_url,
        cancel_url=cancel_url,
    )


# Fields every save writes: not "what changed" on the stale-delete page.
BOOKKEEPING = frozenset({"id", "version", "created_at", "updated_at", "created_by_id"})


def base_inputs(values: dict[str, Any]) -> list[tuple[str, str]]:
    """A record's (or a part's) form values as the hidden ``base.<name>`` inputs of a form
    re-posted from a conflict page: they become the values that form was loaded with."""
    return [(BASE_PREFIX + k, v) for k, v in _pairs(as_posted(values))]


def changed_rows(
    request: Request,
    loaded: dict[str, Any],
    current: dict[str, Any],
    labels: dict[str, str],
) -> list[ConflictRow]:
    """The fields of ``labels`` (in its order) whose value now (``current``) differs from the
    one the page was loaded with (``loaded``; a field it lacks is not compared, values are
    compared by ``same_value``): the rows of the stale-delete page for a part of a record that
    has no version of its own."""
    return [
        ConflictRow(
            field=k,
            label=tr(request, label),
            yours=_text(request, loaded[k], labels),
            current=_text(request, current.get(k), labels),
        )
        for k, label in labels.items()
        if k in loaded and not same_value(loaded[k], current.get(k))
    ]


def history_rows(
    request: Request, entity: str, history: list, labels: dict[str, str] | None = None
) -> list[ConflictRow]:
    """What the saves in ``history`` (``changes_since``) changed, field by field: the value
    before the first of them (``yours``: what the stale page showed) and after the last
    (``current``), with who changed it last. A field named neither in ``labels`` nor by
    ``web.labels.register_field_labels`` for ``entity`` is shown by its name."""
    first: dict[str, Any] = {}
    last: dict[str, tuple[Any, Any]] = {}
    for e in history:
        before, after = e.before or {}, e.after or {}
        for k in [*before, *(k for k in after if k not in before)]:
            if k in BOOKKEEPING or same_value(before.get(k), after.get(k)):
                continue
            first.setdefault(k, before.get(k))
            last[k] = (after.get(k), e)
    rows = []
    for k, was in first.items():
        now, entry = last[k]
        if same_value(was, now):
            continue
        label = (labels or {}).get(k) or field_msgid(entity, k)
        show = partial(_text, request, labels={}, coded=partial(value_msgid, entity, k))
        rows.append(
            ConflictRow(
                field=k,
                label=tr(request, label) if label else k,
                yours=show(was),
                current=show(now),
                changed_by=entry.actor_name,
                changed_at=entry.at,
            )
        )
    return rows


def delete_conflict_page(
    request: Request,
    session: Session,
    *,
    entity: str,
    record_id: Any,
    title: str,
    expected: int | None,
    version: int | None,
    action: str,
    reload_url: str,
    cancel_url: str,
    rows: list[ConflictRow] | None = None,
    labels: dict[str, str] | None = None,
    hidden: list[tuple[str, str]] | None = None,
    part: bool = False,
    verb: str = "delete",
) -> HTMLResponse:
    """The 409 page for a delete posted from a page loaded before someone else saved the record
    (``VersionConflict``: the form's ``version`` was ``expected``, the record is at ``version``
    now). Nothing was deleted. It lists what changed since (``rows``, by default read from the
    audit log's updates of ``entity`` ``record_id`` since ``expected``, ``history_rows``) and
    who saved it, with a link to reload the record and a button that deletes it as it is now
    (posting ``action`` again with the current ``version`` and the ``hidden`` inputs).

    ``part``: the delete was of a part of the record (a survey's question or section), compared
    by its values, not by the record's version; ``rows`` then says how that part changed.

    ``verb``: what the form asked for, ``delete`` (default), ``archive``, ``restore`` or ``erase``
    (the page says "Nothing was archived", "Restore it as it is now", ...)."""
    history = changes_since(session, entity, record_id, expected)
    if rows is None:
        rows = history_rows(request, entity, history, labels)
    return render(
        request,
        "conflict_delete.html",
        status_code=409,
        title=title,
        rows=rows,
        history=history,
        expected=None if part else expected,
        version=version,
        hidden=hidden or [],
        action=action,
        reload_url=reload_url,
        cancel_url=cancel_url,
        verb=verb,
    )
