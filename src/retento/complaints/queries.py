"""Complaint lists: the filtered, sorted queue shared by the API, the queue page, the customer
panel and export, and a customer's complaint timeline."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, or_, select
from sqlalchemy.orm import Session, joinedload

from retento.auth.models import User
from retento.auth.permissions import base_role, require
from retento.complaints import workflow
from retento.complaints.models import CHANNELS, Complaint, ComplaintEvent
from retento.core.errors import InvalidInput, Msg
from retento.core.pagination import apply_sort, paginate
from retento.core.validation import id_from_text
from retento.customers.models import Customer
from retento.web.i18n import N_
from retento.web.labels import check_code

SORTABLE = {
    "id": Complaint.id,
    "received_at": Complaint.received_at,
    "severity": Complaint.severity,
    "status": Complaint.status,
    "first_response_due_at": Complaint.first_response_due_at,
}
DUE_SORTS = {"due", "-due", "resolution_due_at", "-resolution_due_at"}


def team_lead_for(user: User) -> int:
    """Whose team a user looks at: a manager (or a custom role working like one) their own,
    anyone else their manager's."""
    if base_role(user.role) in ("manager", "admin") or user.manager_id is None:
        return user.id
    return user.manager_id


def complaint_filter(
    *,
    status: str | None = None,
    open_only: bool = False,
    customer_id: int | None = None,
    assignee_id: int | None = None,
    mine_for: User | None = None,
    team_for: User | None = None,
    breaching_soon: datetime | None = None,
    severity: int | None = None,
    category_id: int | None = None,
    channel: str | None = None,
    kind: str | None = None,
    flagged: bool | None = None,
    q: str | None = None,
) -> Select:
    """The complaint list query before sorting; shared by the API, the queue page and export."""
    stmt = select(Complaint)
    if status:
        if status not in workflow.STATES:
            raise InvalidInput(Msg("Unknown status '%(status)s'.", status=status), field="status")
        stmt = stmt.where(Complaint.status == status)
    if open_only or breaching_soon is not None:
        stmt = stmt.where(open_condition())
    if customer_id is not None:
        stmt = stmt.where(Complaint.customer_id == customer_id)
    if assignee_id is not None:
        stmt = stmt.where(Complaint.assignee_id == assignee_id)
    if mine_for is not None:
        stmt = stmt.where(Complaint.assignee_id == mine_for.id)
    if team_for is not None:
        # Assignment copies the assignee's manager into team_manager_id, so one indexed column
        # answers "my team's complaints".
        stmt = stmt.where(Complaint.team_manager_id == team_lead_for(team_for))
    if breaching_soon is not None:
        # next_warn_at is the earliest warning of a running clock (models.next_warning): one
        # indexed range instead of an OR over the first-response and resolution clocks.
        stmt = stmt.where(Complaint.next_warn_at <= breaching_soon)
    if severity is not None:
        stmt = stmt.where(Complaint.severity == severity)
    if category_id is not None:
        stmt = stmt.where(Complaint.category_id == category_id)
    if channel:
        check_code("channel", N_("Channel"), channel, CHANNELS, "complaint_channel")
        stmt = stmt.where(Complaint.channel == channel)
    if kind:
        stmt = stmt.where(Complaint.kind == kind)
    if flagged is not None:
        stmt = stmt.where(Complaint.flagged.is_(flagged))
    if q:
        text = q.strip()
        conds = [Complaint.tracking_code == text.upper(), Complaint.external_id == text]
        if (number := id_from_text(text)) is not None:  # a longer number is no id (and
            conds.append(Complaint.id == number)  # PostgreSQL refuses it as a bigint)
        stmt = stmt.where(or_(*conds))
    return stmt


def sort_complaints(stmt: Select, sort: str | None) -> Select:
    """Whitelisted sorting; ``due`` puts paused complaints (no due time) last on every backend."""
    if sort in DUE_SORTS:
        col = Complaint.resolution_due_at
        order = col.desc() if sort.startswith("-") else col.asc()
        return stmt.order_by(order.nulls_last(), Complaint.id)
    return apply_sort(stmt, sort, SORTABLE, Complaint.id.desc())


def open_condition() -> ColumnElement[bool]:
    """``status IN (open states)`` with the states inlined as SQL literals.

    Inlined, not bound: PostgreSQL only uses the partial queue indexes (``WHERE status IN
    (...)``) when it can prove the predicate, which a generic plan for a prepared statement with
    bound parameters cannot.
    """
    return Complaint.status.in_(
        bindparam("open_states", list(workflow.OPEN_STATES), expanding=True, literal_execute=True)
    )


def list_complaints(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = True,
    with_people: bool = False,
    **filters,
):
    """A filtered, sorted page of complaints.

    ``with_people`` loads each row's customer name and assignee in the same query (outer joins
    of two many-to-one links, for pages that show them) instead of one lazy load per row.
    """
    require(actor, "complaint:read")
    stmt = sort_complaints(complaint_filter(**filters), sort)
    if with_people:
        stmt = stmt.options(
            joinedload(Complaint.customer)
            .load_only(Customer.id, Customer.name)
            .lazyload(Customer.owner),
            joinedload(Complaint.assignee),
        )
    return paginate(session, stmt, limit=limit, offset=offset, count=count)


def customer_timeline(session: Session, customer_id: int, *, actor: User, limit: int = 200):
    """Complaint events of one customer, newest first (the customer 360 timeline)."""
    require(actor, "complaint:read")
    return session.scalars(_timeline_stmt(), {"customer_id": customer_id, "limit": limit}).all()


@cache
def _timeline_stmt() -> Any:
    """customer_timeline's statement, built once (the 360 page reads it on every view)."""
    return (
        select(ComplaintEvent)
        .where(
            ComplaintEvent.customer_id
            == bindparam("customer_id", type_=ComplaintEvent.customer_id.type)
        )
        .order_by(ComplaintEvent.at.desc(), ComplaintEvent.id.desc())
        .limit(bindparam("limit", type_=Integer()))
    )
