"""Complaint settings: the category tree, business calendars and SLA policies.

A changed calendar or policy gives the open complaints under it new due times. Updates are
versioned (core.versioning): the row is locked, and a client that edited an older version (the
body's ``version``, ``If-Match``, the form's hidden input) gets 409 with nothing written.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints import sla, workflow
from retento.complaints.models import BusinessCalendarRow, Complaint, ComplaintCategory, SlaPolicy
from retento.complaints.schemas import (
    CalendarIn,
    CategoryCreate,
    CategoryUpdate,
    SlaPolicyIn,
    SlaPolicyUpdate,
)
from retento.complaints.service import category_by_code, check_assignee
from retento.complaints.sla_clocks import refresh_sla
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.versioning import lock_for_edit


def list_categories(session: Session, *, actor: User) -> list[ComplaintCategory]:
    require(actor, "complaint:read")
    return list(session.scalars(select(ComplaintCategory).order_by(ComplaintCategory.id)))


def create_category(session: Session, data: CategoryCreate, *, actor: User) -> ComplaintCategory:
    """Add a node to the category tree."""
    require(actor, "sla:manage")
    if category_by_code(session, data.code) is not None:
        raise Conflict(Msg("Category '%(code)s' exists already.", code=data.code), field="code")
    if data.parent_id is not None and session.get(ComplaintCategory, data.parent_id) is None:
        raise InvalidInput(
            Msg("Category %(id)s does not exist.", id=data.parent_id), field="parent_id"
        )
    cat = ComplaintCategory(**data.model_dump())
    session.add(cat)
    session.flush()
    record(session, actor, "create", "complaint_category", cat.id, None, snapshot(cat))
    return cat


def get_category(session: Session, category_id: int) -> ComplaintCategory:
    cat = session.get(ComplaintCategory, category_id)
    if cat is None:
        raise NotFound("Category", category_id)
    return cat


def update_category(
    session: Session,
    category_id: int,
    data: CategoryUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> ComplaintCategory:
    """Rename, move or (de)activate a category; complaints filed under it keep it.

    A move under the category itself or one of its descendants would make a cycle and is
    refused (``parent_id``).
    """
    require(actor, "sla:manage")
    cat = get_category(session, category_id)
    lock_for_edit(session, cat, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("name", "is_active"):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise InvalidInput("name cannot be empty.", field="name")
    if "name_zh" in changes:
        changes["name_zh"] = (changes["name_zh"] or "").strip() or None
    if changes.get("parent_id") is not None and changes["parent_id"] != cat.parent_id:
        parent = session.get(ComplaintCategory, changes["parent_id"])
        if parent is None:
            raise InvalidInput(
                Msg("Category %(id)s does not exist.", id=changes["parent_id"]), field="parent_id"
            )
        seen: set[int] = set()
        node: ComplaintCategory | None = parent
        while node is not None and node.id not in seen:
            if node.id == cat.id:
                raise InvalidInput(
                    Msg(
                        "Category %(code)s cannot move under itself or one of its subcategories.",
                        code=cat.code,
                    ),
                    field="parent_id",
                )
            seen.add(node.id)
            node = session.get(ComplaintCategory, node.parent_id) if node.parent_id else None
    before = snapshot(cat)
    for key, value in changes.items():
        setattr(cat, key, value)
    session.flush()
    after = snapshot(cat)
    if after != before:
        record(session, actor, "update", "complaint_category", cat.id, before, after)
    return cat


def category_tree(
    session: Session, *, active_only: bool = False
) -> list[tuple[ComplaintCategory, int, list[ComplaintCategory]]]:
    """Categories depth first as ``(category, depth, path from the root)``, siblings by name.

    With ``active_only`` a deactivated category is left out together with its subtree (what
    intake forms offer).
    """
    rows = list(session.scalars(select(ComplaintCategory)))
    ids = {c.id for c in rows}
    children: dict[int | None, list[ComplaintCategory]] = {}
    for c in rows:
        parent = c.parent_id if c.parent_id in ids else None
        children.setdefault(parent, []).append(c)
    for kids in children.values():
        kids.sort(key=lambda c: (c.name.lower(), c.id))
    out: list[tuple[ComplaintCategory, int, list[ComplaintCategory]]] = []

    def walk(parent: int | None, path: list[ComplaintCategory]) -> None:
        for c in children.get(parent, []):
            if active_only and not c.is_active:
                continue
            out.append((c, len(path), [*path, c]))
            if len(path) < 50:  # a cycle written behind our back cannot recurse forever
                walk(c.id, [*path, c])

    walk(None, [])
    return out


def _calendar_values(data: CalendarIn) -> dict:
    cal = sla.BusinessCalendar.from_spec(data.timezone, data.hours, data.holidays, data.name)
    if not any(cal.hours.values()):
        # No working minute ever: every SLA due time computed on it would search forever.
        raise InvalidInput("A calendar needs working hours on at least one weekday.", field="hours")
    spec = cal.to_spec()
    return {"name": data.name, **spec}


def list_calendars(session: Session, *, actor: User) -> list[BusinessCalendarRow]:
    require(actor, "complaint:read")
    return list(session.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.id)))


def create_calendar(session: Session, data: CalendarIn, *, actor: User) -> BusinessCalendarRow:
    """A business calendar: working hours per weekday, holidays and a time zone."""
    require(actor, "sla:manage")
    if session.scalar(select(BusinessCalendarRow.id).where(BusinessCalendarRow.name == data.name)):
        raise Conflict(Msg("Calendar '%(name)s' exists already.", name=data.name), field="name")
    row = BusinessCalendarRow(**_calendar_values(data))
    session.add(row)
    session.flush()
    record(session, actor, "create", "business_calendar", row.id, None, snapshot(row))
    return row


def update_calendar(
    session: Session,
    calendar_id: int,
    data: CalendarIn,
    *,
    actor: User,
    expected_version: int | None = None,
) -> BusinessCalendarRow:
    """Replace a calendar's hours and holidays; open complaints using it get new due times."""
    require(actor, "sla:manage")
    row = session.get(BusinessCalendarRow, calendar_id)
    if row is None:
        raise NotFound("Calendar", calendar_id)
    lock_for_edit(session, row, data.version, expected_version)
    other = session.scalar(
        select(BusinessCalendarRow.id).where(BusinessCalendarRow.name == data.name)
    )
    if other is not None and other != row.id:
        raise Conflict(Msg("Calendar '%(name)s' exists already.", name=data.name), field="name")
    before = snapshot(row)
    for key, value in _calendar_values(data).items():
        setattr(row, key, value)
    session.flush()
    _refresh_open(session, SlaPolicy.calendar_id == row.id)
    record(session, actor, "update", "business_calendar", row.id, before, snapshot(row))
    return row


def list_policies(session: Session, *, actor: User) -> list[SlaPolicy]:
    require(actor, "complaint:read")
    return list(
        session.scalars(select(SlaPolicy).order_by(SlaPolicy.priority, SlaPolicy.id)).unique()
    )


def _check_policy(session: Session, values: dict, own_id: int | None = None) -> None:
    if session.get(BusinessCalendarRow, values["calendar_id"]) is None:
        raise InvalidInput(
            Msg("Calendar %(id)s does not exist.", id=values["calendar_id"]), field="calendar_id"
        )
    # Reassigned to on a breach: someone who works complaints (the escalation job's reassignment
    # to an analyst failed, and with it the whole escalation pass).
    check_assignee(session, values.get("auto_reassign_to_id"), "auto_reassign_to_id")
    if values["resolution_minutes"] < values["first_response_minutes"]:
        raise InvalidInput(
            "The resolution target must not be shorter than the first response.",
            field="resolution_minutes",
        )
    other = session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == values["name"]))
    if other is not None and other != own_id:
        raise Conflict(Msg("Policy '%(name)s' exists already.", name=values["name"]), field="name")


def create_policy(session: Session, data: SlaPolicyIn, *, actor: User) -> SlaPolicy:
    """A new SLA policy; it takes effect for complaints received or re-rated from now on."""
    require(actor, "sla:manage")
    values = data.model_dump()
    _check_policy(session, values)
    p = SlaPolicy(**values)
    session.add(p)
    session.flush()
    record(session, actor, "create", "sla_policy", p.id, None, snapshot(p))
    return p


def update_policy(
    session: Session,
    policy_id: int,
    data: SlaPolicyUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> SlaPolicy:
    """Change a policy; open complaints under it get their due times recomputed."""
    require(actor, "sla:manage")
    p = session.get(SlaPolicy, policy_id)
    if p is None:
        raise NotFound("SLA policy", policy_id)
    lock_for_edit(session, p, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("name", "first_response_minutes", "resolution_minutes", "calendar_id"):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    before = snapshot(p)
    values = {**before, **changes}
    _check_policy(session, values, p.id)
    for key, value in changes.items():
        setattr(p, key, value)
    session.flush()
    session.expire(p, ["calendar"])
    _refresh_open(session, Complaint.sla_policy_id == p.id)
    record(session, actor, "update", "sla_policy", p.id, before, snapshot(p))
    return p


def _refresh_open(session: Session, condition) -> int:
    stmt = (
        select(Complaint)
        .outerjoin(SlaPolicy, SlaPolicy.id == Complaint.sla_policy_id)
        .where(Complaint.status.in_(workflow.OPEN_STATES), condition)
        .options(selectinload(Complaint.pauses))
    )
    n = 0
    for c in session.scalars(stmt):
        refresh_sla(session, c, reselect=False)
        n += 1
    session.flush()
    return n
