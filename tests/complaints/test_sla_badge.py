"""Which SLA target a complaint missed, said the same way on the queue, the complaint's page,
the customer 360 box and the home dashboard, in English and Chinese (``sla_clocks.sla_badge``):
a complaint answered late but resolved in time reads "First response late", not "Breached"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from retento.complaints.models import Complaint
from retento.complaints.sla_clocks import sla_badge
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

NOW = datetime(2026, 11, 3, 12, tzinfo=UTC)
H = timedelta(hours=1)


def case(**over) -> SimpleNamespace:
    """A complaint's SLA fields: received 10 h ago, first response due after 2 h, resolution
    after 24 h, open and untouched."""
    values = dict(
        status="in_progress",
        received_at=NOW - 10 * H,
        first_response_due_at=NOW - 8 * H,
        first_response_warn_at=NOW - 8.4 * H,
        first_responded_at=None,
        resolution_due_at=NOW + 14 * H,
        resolution_warn_at=NOW + 9 * H,
        first_response_breached=False,
        resolution_breached=False,
        paused_since=None,
    )
    values.update(over)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    ("over", "badge"),
    [
        ({}, "first_response_late"),  # no answer yet, past its due time
        ({"first_responded_at": NOW - 9 * H}, "ok"),  # answered in time
        ({"first_responded_at": NOW - 7 * H, "first_response_breached": True}, "first_response_late"),
        ({"first_responded_at": NOW - 9 * H, "resolution_warn_at": NOW - H}, "near_breach"),
        ({"first_responded_at": NOW - 9 * H, "resolution_due_at": NOW - H}, "resolution_late"),
        ({"first_responded_at": NOW - 9 * H, "paused_since": NOW - H}, "paused"),
        # resolved: in time after a late answer, late, both in time
        ({"status": "resolved", "first_responded_at": NOW - 7 * H, "first_response_breached": True}, "first_response_late"),
        ({"status": "closed", "first_response_breached": True, "resolution_breached": True}, "resolution_late"),
        ({"status": "closed", "first_responded_at": NOW - 9 * H}, "done"),
        ({"first_response_due_at": None, "resolution_due_at": None}, "none"),
    ],
)  # fmt: skip
def test_the_badge_names_the_missed_target(over, badge):
    assert sla_badge(case(**over), NOW) == badge  # type: ignore[arg-type]


@pytest.fixture
def answered_late(db, users):
    """A complaint answered 3 h late and resolved well within its resolution target."""
    cust = make_customer(db, name="Late Answer Ltd", owner_id=users["agent"].id)
    c = make_complaint(db, customer_id=cust.id, subject="Answered late")
    received = datetime.now(UTC) - timedelta(days=2)
    c.received_at = received
    c.first_response_due_at = received + 2 * H
    c.first_responded_at = received + 5 * H
    c.first_response_breached = True
    c.resolution_due_at = received + 40 * H
    c.resolved_at = received + 6 * H
    c.resolution_breached = False
    c.status = "resolved"
    c.assignee_id = users["agent"].id
    db.commit()
    return c


@pytest.mark.parametrize(
    ("locale", "text"), [("en", "First response late"), ("zh_CN", "首次响应超时")]
)
def test_queue_detail_and_360_box_say_the_first_response_was_late(
    client, db, users, answered_late, locale, text
):
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    c: Complaint = answered_late
    queue = web.get("/complaints?tab=open&status=resolved").text
    detail = web.get(f"/complaints/{c.id}").text
    box = web.get(f"/customers/{c.customer_id}").text
    for html in (queue, detail, box):
        assert f'sla-first_response_late">{text}<' in html
        assert "sla-breached" not in html


def test_home_dashboard_names_the_missed_target(client, db, users):
    """An open complaint not answered in time on the manager's home page (breaching now) and
    in the agent's own queue."""
    cust = make_customer(db, owner_id=users["agent"].id)
    c = make_complaint(db, customer_id=cust.id, subject="Nobody answered")
    c.first_response_due_at = datetime.now(UTC) - H
    c.assignee_id = users["agent"].id
    db.commit()
    for role in ("manager", "agent"):
        web = Browser(client)
        web.login(role)
        html = web.get("/").text
        assert 'sla-first_response_late">First response late<' in html, role
