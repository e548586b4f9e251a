"""Merge two customers: everything of the duplicate moves to the survivor, the duplicate is
archived with a pointer to the survivor (``custom_fields["merged_into"]``), all in one
transaction with both rows locked in id order, audited and versioned (stale version → 409).

What moves: every row of every table whose foreign key points at ``customers`` (orders,
complaints, survey responses and invitations, touchpoints, retention alerts and cases, ...),
contacts (the duplicate's primary contact becomes a normal one when the survivor has a primary),
tags and assignments (a union). The survivor's own fields stay as they are; one it lacks is
filled from the duplicate: the date of birth (``FILLED_WHEN_EMPTY``; between persons only, as
an organisation has none), recorded in the merge's audit entry as before and after. Other
domains take over their own tables through the ``customer.merge`` hook (``core.hooks``):
subscribers get ``survivor``, ``merged``, ``actor`` and ``handled`` (a set they add the table
names they moved themselves to); loyalty moves the points with a balanced journal there. Rows
that would break a unique constraint on the survivor (a survey invitation of the same
distribution, a score of the same run, ...) stay with the archived duplicate.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Table, and_, exists, update
from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.hooks import emit
from retento.core.locking import lock_row
from retento.core.versioning import check_version
from retento.customers.models import (
    Contact,
    Customer,
    CustomerAssignment,
    CustomerTag,
    SearchGram,
)

# Tables this module moves itself (or that are derived and rebuilt by triggers).
OWN_TABLES = {
    Contact.__tablename__,
    CustomerTag.__tablename__,
    CustomerAssignment.__tablename__,
    SearchGram.__tablename__,
}


# Fields the survivor takes from the duplicate when it has none of its own.
FILLED_WHEN_EMPTY = ("birth_date",)


def _fill_empty(survivor: Customer, merged: Customer) -> dict[str, Any]:
    """Copy the duplicate's value of each ``FILLED_WHEN_EMPTY`` field the survivor lacks,
    never over the survivor's own; returns what was filled, as the audit log stores it (a
    date in ISO form). The duplicate keeps its own value, so restoring it gives back the
    record as it was. A date of birth passes between persons only: an organisation has none
    (``service.birth_date_problem``)."""
    filled: dict[str, Any] = {}
    for name in FILLED_WHEN_EMPTY:
        value = getattr(merged, name)
        if getattr(survivor, name) is not None or value is None:
            continue
        if name == "birth_date" and "organisation" in (survivor.party_type, merged.party_type):
            continue
        setattr(survivor, name, value)
        filled[name] = value.isoformat() if isinstance(value, date) else value
    return filled


def _unique_sets(table: Table, col_name: str) -> list[list[str]]:
    """Column sets of the table's unique constraints / indexes that contain ``col_name``."""
    sets: list[list[str]] = []
    for cons in table.constraints:
        cols = [c.name for c in getattr(cons, "columns", [])]
        if cons.__class__.__name__ in ("UniqueConstraint", "PrimaryKeyConstraint") and (
            col_name in cols
        ):
            sets.append(cols)
    for idx in table.indexes:
        cols = [c.name for c in idx.columns]
        if idx.unique and col_name in cols:
            sets.append(cols)
    return sets


def _move_table(session: Session, table: Table, col, survivor_id: int, merged_id: int) -> int:
    """Re-point ``col`` from the duplicate to the survivor, leaving rows that would collide
    with one of the survivor's on a unique constraint; returns the rows moved."""
    sets = _unique_sets(table, col.name)
    if any(cols == [col.name] for cols in sets):
        return 0  # one row per customer (e.g. a measurement): the survivor keeps its own
    where = [col == merged_id]
    for cols in sets:
        other = table.alias()
        match = [other.c[col.name] == survivor_id]
        match += [other.c[c] == table.c[c] for c in cols if c != col.name]
        where.append(~exists().where(and_(*match)))
    result = session.execute(update(table).where(*where).values({col.name: survivor_id}))
    return result.rowcount or 0


def _move_contacts(session: Session, survivor: Customer, merged: Customer) -> int:
    has_primary = any(k.is_primary for k in survivor.contacts)
    moved = list(merged.contacts)
    for k in moved:
        if has_primary and k.is_primary:
            k.is_primary = False
    session.flush()
    n = (
        session.execute(
            update(Contact).where(Contact.customer_id == merged.id).values(customer_id=survivor.id)
        ).rowcount
        or 0
    )
    session.expire(survivor, ["contacts"])
    session.expire(merged, ["contacts"])
    return n


def _union_children(session: Session, survivor: Customer, merged: Customer) -> dict[str, int]:
    tags = [t for t in merged.tags if t not in survivor.tags]
    users = [u for u in merged.assigned_user_ids if u not in survivor.assigned_user_ids]
    for t in tags:
        survivor.tag_rows.append(CustomerTag(tag=t))
    for u in users:
        if u != survivor.owner_id:
            survivor.assignments.append(CustomerAssignment(user_id=u))
    merged.tag_rows = []
    merged.assignments = []
    session.flush()
    return {"customer_tags": len(tags), "customer_assignments": len(users)}


def merge_customers(
    session: Session,
    survivor_id: int,
    merged_id: int,
    *,
    actor: User,
    survivor_version: int | None = None,
    merged_version: int | None = None,
) -> tuple[Customer, dict[str, int]]:
    """Merge customer ``merged_id`` into ``survivor_id`` (managers and admins: the
    ``customer:archive`` permission, as the duplicate ends archived).

    Returns the survivor and the rows moved per table. 409 when either was changed since the
    versions sent, when the duplicate is already archived or erased, or when the survivor is
    archived."""
    require(actor, "customer:archive")
    if survivor_id == merged_id:
        raise InvalidInput("A customer cannot be merged into itself.", field="merge_id")
    # Lock both rows in id order: two merges (or a merge and an edit) never deadlock.
    locked: dict[int, Customer] = {}
    for cid in sorted((survivor_id, merged_id)):
        c = lock_row(session, Customer, cid)
        if c is None:
            raise NotFound("Customer", cid, "merge_id" if cid == merged_id else "id")
        locked[cid] = c
    survivor, merged = locked[survivor_id], locked[merged_id]
    check_version(survivor, survivor_version)
    check_version(merged, merged_version)
    for c, field in ((survivor, "id"), (merged, "merge_id")):
        if c.erased_at is not None:
            raise Conflict(
                Msg("Customer %(id)s was erased and cannot be merged.", id=c.id), field=field
            )
        if c.archived_at is not None:
            raise Conflict(
                Msg("Customer %(id)s is archived; restore it before merging.", id=c.id), field=field
            )

    moved: dict[str, int] = {}
    handled: set[str] = set()
    # Other domains first (loyalty moves the points while the orders still point at the
    # duplicate), then every remaining foreign key.
    emit(
        "customer.merge",
        session,
        survivor=survivor,
        merged=merged,
        actor=actor,
        handled=handled,
        moved=moved,
    )
    moved["customer_contacts"] = _move_contacts(session, survivor, merged)
    moved.update(_union_children(session, survivor, merged))
    for table in Customer.metadata.sorted_tables:
        if table.name in OWN_TABLES or table.name in handled or table.name == "customers":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "customers" and fk.parent.table is table:
                n = _move_table(session, table, fk.parent, survivor.id, merged.id)
                if n:
                    moved[table.name] = moved.get(table.name, 0) + n
    session.expire_all()

    survivor = session.get(Customer, survivor_id)
    merged = session.get(Customer, merged_id)
    assert survivor is not None and merged is not None
    now = utcnow()
    merged.archived_at = now
    merged.archived_by_id = actor.id
    merged.custom_fields = {**(merged.custom_fields or {}), "merged_into": survivor.id}
    survivor.updated_at = now  # a merge changes the survivor: its version goes up
    filled = _fill_empty(survivor, merged)
    session.flush()
    details: dict[str, Any] = {"merged_id": merged.id, "moved": moved}
    # Filled fields as an edit records them: the survivor's empty value before, the new after.
    record(
        session,
        actor,
        "merge",
        "customer",
        survivor.id,
        dict.fromkeys(filled) or None,
        {**details, **filled},
    )
    record(
        session,
        actor,
        "archive",
        "customer",
        merged.id,
        {"archived_at": None},
        {"archived_at": now.isoformat(), "merged_into": survivor.id},
    )
    return survivor, moved
