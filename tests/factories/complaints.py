"""Builders for complaint tests: ``make_complaint(session, **over)`` and an SLA setup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from retento.complaints import service
from retento.complaints.models import BusinessCalendarRow, Complaint, SlaPolicy
from retento.complaints.schemas import ComplaintCreate
from tests.factories.builders import make_customer


def always_calendar(session: Session, name: str = "24/7 test") -> BusinessCalendarRow:
    row = BusinessCalendarRow(
        name=name, timezone="UTC", hours={str(d): [["00:00", "24:00"]] for d in range(7)}
    )
    session.add(row)
    session.flush()
    return row


def only_policies(session: Session, *specs: dict) -> list[SlaPolicy]:
    """Deactivate the seeded policies and create ``specs`` on a 24/7 UTC calendar."""
    session.execute(update(SlaPolicy).values(is_active=False))
    cal = always_calendar(session)
    out = []
    for i, spec in enumerate(specs):
        values = {
            "name": f"test policy {i}",
            "first_response_minutes": 60,
            "resolution_minutes": 600,
            "calendar_id": cal.id,
            "warn_fraction": 0.8,
        }
        values.update(spec)
        p = SlaPolicy(**values)
        session.add(p)
        out.append(p)
    session.flush()
    return out


def make_complaint(session: Session, actor=None, **over) -> Complaint:
    if "customer_id" not in over:
        over["customer_id"] = make_customer(session).id
    values = {
        "subject": "Parcel arrived broken",
        "description": "The box was crushed and the vase inside was broken.",
        "category": "delivery",
        "channel": "phone",
        "severity": 2,
        "received_at": datetime.now(UTC) - timedelta(minutes=5),
    }
    values.update(over)
    return service.create_complaint(session, ComplaintCreate(**values), actor=actor)
