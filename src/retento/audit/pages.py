"""Web page: the audit log (administrators), with filters and a before/after view."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response

from retento.audit import service
from retento.audit.field_labels import load_kind_labels
from retento.audit.models import AuditEntry
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput
from retento.core.validation import MAX_DAY, MIN_DAY
from retento.web.i18n import N_, Formatter
from retento.web.labels import (
    LABELS,
    field_msgid,
    label_msgid,
    register_field_labels,
    value_msgid,
)
from retento.web.nav import NavItem, register_nav
from retento.web.render import PageUser, page_router, render, request_locale, tr

router = page_router()

register_nav(NavItem("admin.audit", N_("Audit log"), "/admin/audit", "audit:read", 20, "admin"))

PAGE_SIZE = 50

# Fields most record types share; each domain names its records' own fields with
# ``web.labels.register_field_labels`` (a field nobody named is shown as stored).
register_field_labels(
    "*",
    {
        "id": N_("Record id"),
        "external_id": N_("External id"),
        "idempotency_key": N_("Idempotency key"),
        "customer_id": N_("Customer"),
        "name": N_("Name"),
        "status": N_("Status"),
        "channel": N_("Channel"),
        "note": N_("Note"),
        "created_by_id": N_("Created by"),
        "created_at": N_("Created at"),
        "updated_at": N_("Updated at"),
        "version": N_("Version"),
    },
)


def _choices(request: Request, group: str, current: str) -> list[tuple[str, str]]:
    """``(code, label)`` of every record type or action the domains registered labels for
    (``web.labels.register_labels("entity"|"action", …)``), by translated label; a code typed
    into the URL that nobody registered is kept so the filter still shows it."""
    codes = set(LABELS.get(group, {}))
    if current:
        codes.add(current)
    pairs = [(c, tr(request, label_msgid(group, c))) for c in codes]
    return sorted(pairs, key=lambda p: p[1].casefold())


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)
    return str(value)


def diff_rows(entry: AuditEntry) -> list[tuple[str, str, str, bool]]:
    """``(field, before, after, changed)`` for every field in either snapshot."""
    before, after = entry.before or {}, entry.after or {}
    keys = sorted(set(before) | set(after))
    return [
        (k, _show(before.get(k)), _show(after.get(k)), before.get(k) != after.get(k)) for k in keys
    ]


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One field of an entry's before/after view; ``label`` is None for a field nobody named."""

    field: str
    label: str | None
    before: str
    after: str
    changed: bool

    @property
    def name(self) -> str:
        """The field's label, else its stored name."""
        return self.label or self.field


def _show_counts(request: Request, entity: str, field: str, value: dict[str, Any]) -> str:
    """A summary of counts (an erasure's ``counts``) one "name: number" line each, its keys
    named by the labels registered for ``"<entity>.<field>"`` (``register_field_labels``)."""
    fmt = Formatter(request_locale(request))
    lines = []
    for key in sorted(value):
        msgid = field_msgid(f"{entity}.{field}", key)
        n = value[key]
        shown = fmt.number(n) if isinstance(n, int) and not isinstance(n, bool) else _show(n)
        name = tr(request, msgid) if msgid else key
        lines.append(tr(request, "%(name)s: %(value)s", name=name, value=shown))
    return "\n".join(lines)


def _show_value(request: Request, entity: str, field: str, value: Any) -> str:
    """A value as :func:`_show` writes it, but a code of an enumerated field (or a list of
    them) by its label in the reader's language (``web.labels.register_value_labels``), and
    a summary whose keys are named (``_show_counts``) by their labels."""
    if isinstance(value, dict) and value and LABELS.get(f"field:{entity}.{field}"):
        return _show_counts(request, entity, field, value)
    msgid = value_msgid(entity, field, value)
    if msgid:
        return tr(request, msgid)
    if isinstance(value, list) and value:
        msgids = [value_msgid(entity, field, v) for v in value]
        if all(msgids):
            return ", ".join(tr(request, m) for m in msgids if m)
    return _show(value)


def labelled_diff(request: Request, entry: AuditEntry) -> list[DiffRow]:
    """:func:`diff_rows` with each field's name, and the values of enumerated fields, in the
    reader's language where one is known."""
    out = []
    for field, _before, _after, changed in diff_rows(entry):
        msgid = field_msgid(entry.entity, field)
        before = _show_value(request, entry.entity, field, (entry.before or {}).get(field))
        after = _show_value(request, entry.entity, field, (entry.after or {}).get(field))
        out.append(DiffRow(field, tr(request, msgid) if msgid else None, before, after, changed))
    return out


def _day(request: Request, value: str, field: str, problems: list[FieldError]) -> datetime | None:
    if not value:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        problems.append(FieldError(field, tr(request, "Enter a date (YYYY-MM-DD).")))
        return None
    if not MIN_DAY <= d <= MAX_DAY:
        # "until 9999-12-31" overflowed on the day after it (a 500).
        message = tr(request, "Enter a date between %(first)s and %(last)s.",
                     first=MIN_DAY.isoformat(), last=MAX_DAY.isoformat())  # fmt: skip
        problems.append(FieldError(field, message))
        return None
    tz = ZoneInfo(request.app.state.settings.timezone)
    return datetime(d.year, d.month, d.day, tzinfo=tz)


@router.get("/admin/audit")
def audit_list(
    request: Request,
    session: DbSession,
    user: PageUser,
    actor: str = "",
    entity: str = "",
    entity_id: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    offset: int = 0,
) -> Response:
    """Who changed what and when; ``until`` includes the whole day."""
    load_kind_labels()
    problems: list[FieldError] = []
    start = _day(request, since, "since", problems)
    end = _day(request, until, "until", problems)
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    rows, _ = service.list_entries(
        session,
        user,
        actor_name=actor.strip() or None,
        entity=entity or None,
        entity_id=entity_id.strip() or None,
        action=action or None,
        since=start,
        until=end + timedelta(days=1) if end else None,
        limit=PAGE_SIZE + 1,
        offset=max(offset, 0),
    )
    ctx = {
        "rows": [(e, labelled_diff(request, e)) for e in rows[:PAGE_SIZE]],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": max(offset, 0),
        "limit": PAGE_SIZE,
        "f": {
            "actor": actor,
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "since": since,
            "until": until,
        },
        "entities": _choices(request, "entity", entity),
        "actions": _choices(request, "action", action),
    }
    if request.headers.get("hx-target") == "results":
        return render(request, "audit/_results.html", **ctx)
    return render(request, "audit/list.html", **ctx)
