"""Retention for the home dashboards: open churn alerts and an owner's win-back tasks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from retento.customers.models import Customer
from retento.retention.models import RetentionAlert, RetentionTask

OPEN_ALERTS = ("open", "acknowledged")


def home_alerts(session: Session, *, customers: Select | None = None) -> dict[str, Any]:
    """Open and acknowledged churn alerts: in all and by severity."""
    stmt = (
        select(RetentionAlert.severity, func.count())
        .where(RetentionAlert.status.in_(OPEN_ALERTS))
        .group_by(RetentionAlert.severity)
    )
    if customers is not None:
        stmt = stmt.where(RetentionAlert.customer_id.in_(customers))
    by = {str(s): int(n) for s, n in session.execute(stmt).all()}
    return {"count": sum(by.values()), "by_severity": by}


def home_tasks(
    session: Session,
    user_id: int,
    *,
    today: date,
    start: datetime | None = None,
    end: datetime | None = None,
    customers: Select | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """The owner's open win-back tasks (overdue first, then by due day), and how many they
    finished in ``[start, end)``."""
    where = [RetentionTask.owner_id == user_id, RetentionTask.status == "open"]
    if customers is not None:
        where.append(RetentionTask.customer_id.in_(customers))
    total, overdue = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((RetentionTask.due_on < today, 1), else_=0)), 0),
        ).where(*where)
    ).one()
    rows = session.execute(
        select(RetentionTask, Customer.name)
        .join(Customer, Customer.id == RetentionTask.customer_id)
        .where(*where)
        .order_by(RetentionTask.due_on, RetentionTask.id)
        .limit(limit)
    ).all()
    done = select(func.count()).where(
        RetentionTask.done_by_id == user_id, RetentionTask.status == "done"
    )
    if start is not None and end is not None:
        done = done.where(RetentionTask.done_at >= start, RetentionTask.done_at < end)
    if customers is not None:
        done = done.where(RetentionTask.customer_id.in_(customers))
    return {
        "count": int(total or 0),
        "overdue": int(overdue or 0),
        "done": int(session.scalar(done) or 0),
        "rows": [
            {
                "id": t.id,
                "title": t.title,
                "customer_id": t.customer_id,
                "customer": name,
                "due_on": t.due_on,
                "overdue": t.due_on < today,
            }
            for t, name in rows
        ],
    }
