"""Retention for the home dashboards: open churn alerts and an owner's win-back tasks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from retento.customers.models import Customer
from retento.retention import queries_web as q
from retento.retention.models import RetentionAlert, RetentionTask
from retento.scoring.models import VALUE_CLASSES, CustomerScore
from retento.web.i18n import normalise_locale

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
    locale: str | None = None,
) -> dict[str, Any]:
    """The owner's open win-back tasks (overdue first, then by due day), and how many they
    finished in ``[start, end)``; with ``locale`` the titles name the playbook in that language
    (``tasks.display_texts``), else as stored."""
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
    titles: dict[int, str] = {}
    if locale is not None and rows:
        from retento.retention.tasks import display_texts

        texts = display_texts(session, [t for t, _ in rows], normalise_locale(locale))
        titles = {k: v[0] for k, v in texts.items()}
    return {
        "count": int(total or 0),
        "overdue": int(overdue or 0),
        "done": int(session.scalar(done) or 0),
        "rows": [
            {
                "id": t.id,
                "title": titles.get(t.id, t.title),
                "customer_id": t.customer_id,
                "customer": name,
                "due_on": t.due_on,
                "overdue": t.due_on < today,
            }
            for t, name in rows
        ],
    }


# --- the retention dashboard's period and segment filters --------------------------------------


def var_by_class(session: Session, run_id: int, customers: Select) -> list[q.ClassRisk]:
    """``queries_web.value_at_risk_by_class`` for the customers ``customers`` selects."""
    stmt = (
        select(
            CustomerScore.value_class,
            func.count(CustomerScore.id),
            func.sum(q.HIGH_CASE),
            q.VAR_SUM,
            func.sum(func.coalesce(CustomerScore.clv, 0)),
            func.avg(CustomerScore.churn_risk),
        )
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(
            CustomerScore.run_id == run_id,
            CustomerScore.churn_risk.is_not(None),
            Customer.archived_at.is_(None),
            CustomerScore.customer_id.in_(customers),
        )
        .group_by(CustomerScore.value_class)
    )
    found = {
        vc: q.ClassRisk(
            vc,
            int(n or 0),
            int(h or 0),
            q.money(var),
            q.money(clv),
            float(mean) if mean is not None else None,
        )  # fmt: skip
        for vc, n, h, var, clv, mean in session.execute(stmt).all()
    }
    return [
        found.get(vc) or q.ClassRisk(vc, 0, 0, q.money(0), q.money(0), None) for vc in VALUE_CLASSES
    ]


def reason_counts(session: Session, run_id: int, customers: Select) -> list[tuple[str, int]]:
    """``queries_web.reason_counts`` for the customers ``customers`` selects."""
    stmt = (
        select(q.TOP_REASON, func.count())
        .where(
            CustomerScore.run_id == run_id,
            CustomerScore.churn_risk >= q.HIGH_RISK,
            q.TOP_REASON.is_not(None),
            CustomerScore.customer_id.in_(customers),
        )
        .group_by(q.TOP_REASON)
        .order_by(func.count().desc(), q.TOP_REASON)
    )
    return [(c, int(n)) for c, n in session.execute(stmt).all() if c]


def alerts_by_rule(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    customers: Select | None,
) -> list[tuple[str, int]]:
    """Open and acknowledged alerts per rule (raised in ``[start, end)``), most first."""
    stmt = (
        select(RetentionAlert.rule, func.count())
        .where(RetentionAlert.status.in_(OPEN_ALERTS))
        .group_by(RetentionAlert.rule)
        .order_by(func.count().desc(), RetentionAlert.rule)
    )
    if start is not None and end is not None:
        stmt = stmt.where(RetentionAlert.created_at >= start, RetentionAlert.created_at < end)
    if customers is not None:
        stmt = stmt.where(RetentionAlert.customer_id.in_(customers))
    return [(r, int(n)) for r, n in session.execute(stmt).all()]
