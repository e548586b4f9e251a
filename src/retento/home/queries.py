"""What each home dashboard shows, gathered from the domains' ``home_*`` query functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.auth.permissions import base_role, can
from retento.complaints import home as complaints_home
from retento.orders import home as orders_home
from retento.retention import queries_home as retention_home
from retento.scoring import queries as scoring
from retento.surveys import home as surveys_home
from retento.web.dashfilters import DashFilters

VIEWS = ("manager", "agent", "analyst")
# The views each role may open; the first is the one it lands on. A custom role gets those of
# the built-in role it works like (auth.permissions.base_role).
VIEWS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "admin": ("manager", "agent", "analyst"),
    "manager": ("manager", "agent", "analyst"),
    "agent": ("agent",),
    "analyst": ("analyst", "manager"),
}
# What a view shows, to be read by whoever opens it: every built-in role that has a view holds
# these; a custom role may not. The agent's view shows each of its parts only to a role that
# may open it (agent_view), so it needs nothing and is the fallback.
VIEW_NEEDS: dict[str, tuple[str, ...]] = {
    "manager": ("order:read", "score:read", "complaint:read", "survey:read", "retention:read"),
    "agent": (),
    "analyst": ("order:read", "score:read", "survey:read"),
}


def views_for(user: User) -> tuple[str, ...]:
    """The dashboards ``user`` may switch between (their own first): those of their role's
    base role (a custom role's "works like") whose data the role may read; "My work" when none
    is left."""
    views = tuple(
        v
        for v in VIEWS_BY_ROLE.get(base_role(user.role), ())
        if all(can(user, p) for p in VIEW_NEEDS[v])
    )
    return views or ("agent",)


def segment_customers(session: Session, f: DashFilters) -> Select | None:
    """``SELECT customer_id`` of the chosen segment in the latest scoring run (None: everyone;
    a segment before any run selects no one)."""
    if not f.segment:
        return None
    run_id = scoring.latest_run_id(session)
    return scoring.segment_customers(run_id or -1, f.segment_kind, f.segment_value)


def manager_view(session: Session, f: DashFilters, now: datetime) -> dict[str, Any]:
    """KPIs of the period, value at risk, complaints breaching now, NPS trend, open alerts."""
    customers = segment_customers(session, f)
    run_id = scoring.latest_run_id(session)
    return {
        "kpis": orders_home.home_kpis(session, start=f.start, end=f.end, customers=customers),
        "value": scoring.home_value(session, run_id, customers=customers)
        if run_id is not None
        else None,
        "run_id": run_id,
        "breaching": complaints_home.home_breaching(session, now=now, customers=customers),
        "received": complaints_home.home_received(
            session, start=f.start, end=f.end, customers=customers
        ),
        "nps": surveys_home.home_nps_trend(session, start=f.start, end=f.end, customers=customers),
        "alerts": retention_home.home_alerts(session, customers=customers),
    }


def agent_view(session: Session, user: User, f: DashFilters, now: datetime) -> dict[str, Any]:
    """My complaint queue (breaching first) and my win-back tasks; each part only for a role
    that may open it (a custom role may hold one and not the other): None otherwise."""
    customers = segment_customers(session, f)
    queue = can(user, "complaint:read")
    return {
        "queue": (
            complaints_home.home_queue(session, user.id, now=now, customers=customers)
            if queue
            else None
        ),
        "received": (
            complaints_home.home_received(
                session, start=f.start, end=f.end, customers=customers, assignee_id=user.id
            )
            if queue
            else None
        ),
        "tasks": (
            retention_home.home_tasks(
                session,
                user.id,
                today=now.date(),
                start=f.start,
                end=f.end,
                customers=customers,
                locale=user.locale or "",  # the page's language: the user's saved one
            )
            if can(user, "retention:work")
            else None
        ),
    }


def last_import(session: Session) -> datetime | None:
    """When a file was last imported (the audit log records every import)."""
    return session.scalar(select(func.max(AuditEntry.at)).where(AuditEntry.action == "import"))


def analyst_view(session: Session, f: DashFilters, now: datetime) -> dict[str, Any]:
    """Model health (the latest scoring runs) and data freshness, with counts."""
    customers = segment_customers(session, f)
    return {
        "health": scoring.home_model_health(session),
        "orders": orders_home.home_freshness(session),
        "surveys": surveys_home.home_freshness(session),
        "last_import": last_import(session),
        "kpis": orders_home.home_kpis(session, start=f.start, end=f.end, customers=customers),
        "now": now,
    }
