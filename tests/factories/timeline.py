"""A customer with one record of every kind the customer timeline shows, an hour apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from retento.complaints.models import ComplaintEvent
from retento.loyalty import service as loyalty_service
from retento.loyalty.models import LoyaltyTierChange
from retento.mail.models import OutboxMessage
from retento.retention.models import RetentionCase, RetentionPlaybook, RetentionTask
from retento.surveys import responses
from retento.surveys import service as survey_service
from retento.surveys.schemas import ResponseCreate, SurveyUpdate
from tests.factories.builders import make_customer, make_order, make_product, make_touchpoint
from tests.factories.complaints import make_complaint
from tests.factories.loyalty import make_programme, make_tiers
from tests.retention.helpers import make_alert
from tests.surveys.conftest import small_survey_data

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def make_email(db, customer_id, *, kind, subject, created_at, status="sent") -> OutboxMessage:
    msg = OutboxMessage(
        recipient="ann@example.com",
        subject=subject,
        body_text="Hello",
        kind=kind,
        customer_id=customer_id,
        status=status,
        created_at=created_at,
    )
    db.add(msg)
    db.flush()
    return msg


def make_story(db, users):
    """One customer with one record of every kind, an hour apart (order first, e-mail last):
    ``(customer, complaint, survey)``."""
    c = make_customer(db, name="Ann Timeline", owner_id=users["agent"].id)
    p = make_product(db, unit_price=Decimal("25.00"), unit_cost=Decimal("10.00"))
    make_order(db, c, lines=[(p, 2)], ordered_at=at(0))
    make_touchpoint(db, c, occurred_at=at(1), note="Asked about the warranty")
    complaint = make_complaint(
        db, customer_id=c.id, subject="Broken vase", severity=3, received_at=at(2)
    )
    db.add(
        ComplaintEvent(
            complaint_id=complaint.id,
            customer_id=c.id,
            at=at(3),
            kind="transition",
            data={"from": "in_progress", "to": "resolved", "action": "resolve"},
        )
    )
    survey = survey_service.create_survey(db, small_survey_data(), actor=users["manager"])
    survey_service.update_survey(
        db, survey.id, SurveyUpdate(status="active"), actor=users["manager"]
    )
    survey.translations = {"zh_CN": {"name": "小调查"}}
    responses.record_response(
        db,
        survey.id,
        ResponseCreate(
            customer_id=c.id,
            answers=[{"question": "sat", "number": 4}, {"question": "rec", "number": 6}],
            complete=True,
        ),
        actor=users["agent"],
        now=at(4),
    )
    make_programme(db)
    (gold,) = make_tiers(db, ("gold", 100, "1.5"))
    gold.name_zh = "金卡"
    journal = loyalty_service.adjust(db, c.id, 120, actor=users["manager"], reason="Goodwill")
    journal.created_at = at(5)
    db.add(
        LoyaltyTierChange(
            customer_id=c.id, from_tier_id=None, to_tier_id=gold.id, reason="upgrade", at=at(6)
        )
    )
    alert = make_alert(db, c.id, owner_id=users["agent"].id)
    alert.created_at = at(7)
    alert.severity = "high"
    book = db.scalar(select(RetentionPlaybook).where(RetentionPlaybook.value_class == "key"))
    if book is None:
        book = RetentionPlaybook(value_class="key", reason="*", action="task", window_days=60)
        db.add(book)
    book.name_en, book.name_zh = "Call the key customer", "致电重点客户"
    db.flush()
    case = RetentionCase(
        alert_id=alert.id,
        playbook_id=book.id,
        customer_id=c.id,
        value_class="key",
        seq=1,
        arm="treated",
        action="task",
        assigned_at=at(8),
        window_ends_at=at(8) + timedelta(days=60),
        outcome="came_back",
    )
    db.add(case)
    db.flush()
    db.add(
        RetentionTask(
            case_id=case.id,
            customer_id=c.id,
            owner_id=users["agent"].id,
            title="Ring Ann back",
            due_on=date(2025, 3, 4),
            status="done",
            result="reached",
            created_at=at(9),
        )
    )
    make_email(
        db, c.id, kind="complaint_ack", subject="We received your complaint", created_at=at(10)
    )
    # To the owner about the customer, not to the customer: never on the timeline.
    make_email(
        db, c.id, kind="retention_alert", subject="Retention warning: Ann", created_at=at(11)
    )
    db.commit()
    return c, complaint, survey
