"""Complaints for the home dashboards: breaching their SLA now, and an agent's own queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from retento.complaints.models import OPEN_STATUSES, Complaint
from retento.complaints.sla_clocks import sla_badge


def breaching(now: datetime) -> ColumnElement[bool]:
    """Open and past a due time (first response not given in time, or not resolved in time),
    or already flagged breached by the SLA job."""
    running = Complaint.paused_since.is_(None)
    return and_(
        Complaint.status.in_(OPEN_STATUSES),
        or_(
            Complaint.sla_flag == "breached",
            and_(
                running,
                Complaint.first_responded_at.is_(None),
                Complaint.first_response_due_at <= now,
            ),
            and_(running, Complaint.resolution_due_at <= now),
        ),
    )


def _rows(session: Session, stmt: Select, now: datetime, limit: int) -> list[dict[str, Any]]:
    overdue = case((breaching(now), 0), else_=1)
    stmt = stmt.order_by(
        overdue, Complaint.resolution_due_at.is_(None), Complaint.resolution_due_at, Complaint.id
    ).limit(limit)
    return [
        {
            "id": c.id,
            "tracking_code": c.tracking_code,
            "subject": c.subject,
            "status": c.status,
            "severity": c.severity,
            "customer_id": c.customer_id,
            "due": c.resolution_due_at,
            "breaching": bool(b),
            # which target it missed, as the queue and the complaint's page say it
            "sla": sla_badge(c, now),
        }
        for c, b in session.execute(
            stmt.add_columns(case((breaching(now), True), else_=False))
        ).all()
    ]


def home_breaching(
    session: Session, *, now: datetime, customers: Select | None = None, limit: int = 5
) -> dict[str, Any]:
    """How many complaints breach their SLA now, and the first few (longest overdue first)."""
    where = [breaching(now)]
    if customers is not None:
        where.append(Complaint.customer_id.in_(customers))
    total = int(session.scalar(select(func.count()).select_from(Complaint).where(*where)) or 0)
    rows = _rows(session, select(Complaint).where(*where), now, limit)
    return {"count": total, "rows": rows}


def home_queue(
    session: Session,
    user_id: int,
    *,
    now: datetime,
    customers: Select | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """The open complaints assigned to ``user_id``: breaching ones first, then by due time."""
    where = [Complaint.assignee_id == user_id, Complaint.status.in_(OPEN_STATUSES)]
    if customers is not None:
        where.append(Complaint.customer_id.in_(customers))
    total, late = session.execute(
        select(func.count(), func.coalesce(func.sum(case((breaching(now), 1), else_=0)), 0)).where(
            *where
        )
    ).one()
    rows = _rows(session, select(Complaint).where(*where), now, limit)
    return {"count": int(total or 0), "breaching": int(late or 0), "rows": rows}


def home_received(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    customers: Select | None = None,
    assignee_id: int | None = None,
) -> int:
    """Complaints received in ``[start, end)`` (all time when ``start`` is None)."""
    stmt = select(func.count()).select_from(Complaint)
    if start is not None and end is not None:
        stmt = stmt.where(Complaint.received_at >= start, Complaint.received_at < end)
    if customers is not None:
        stmt = stmt.where(Complaint.customer_id.in_(customers))
    if assignee_id is not None:
        stmt = stmt.where(Complaint.assignee_id == assignee_id)
    return int(session.scalar(stmt) or 0)
