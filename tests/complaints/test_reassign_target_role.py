"""An SLA policy's "reassign on breach" target must work complaints: the API took an analyst,
and on the first breach the escalation job's reassignment raised "Complaints are assigned to
agents or managers." — the whole escalation pass failed, so no complaint anywhere was flagged
or notified again. Now the policy refuses such a target (422 naming ``auto_reassign_to_id``,
in the reader's language), and a target whose role changed later is skipped: the pass goes on
and the complaint stays with its assignee. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from retento.complaints.jobs import escalate
from retento.complaints.models import SlaPolicy
from tests.factories import make_user
from tests.factories.complaints import make_complaint, only_policies

H = timedelta(hours=1)


def _policies(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(SlaPolicy))


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "Complaints are assigned to agents or managers."), ("zh-CN", "投诉只能分派给")],
)
def test_a_policy_refuses_a_target_who_does_not_work_complaints(
    client, tokens, db, users, locale, said
):
    analyst = make_user(db, role="analyst")
    db.commit()
    before = _policies(db)
    calendar = client.get("/api/v1/complaints/calendars", headers=tokens["admin"]).json()[0]
    body = {
        "name": "Reassign to analyst",
        "first_response_minutes": 60,
        "resolution_minutes": 600,
        "calendar_id": calendar["id"],
        "auto_reassign_to_id": analyst.id,
    }
    r = client.post(
        "/api/v1/complaints/sla-policies",
        json=body,
        headers={**tokens["admin"], "Accept-Language": locale},
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "auto_reassign_to_id"
    assert said in r.json()["detail"]
    assert _policies(db) == before
    ok = client.post(
        "/api/v1/complaints/sla-policies",
        json={**body, "auto_reassign_to_id": users["manager"].id},
        headers=tokens["admin"],
    )
    assert ok.status_code == 201, ok.text
    patched = client.patch(
        f"/api/v1/complaints/sla-policies/{ok.json()['id']}",
        json={"auto_reassign_to_id": analyst.id},
        headers=tokens["admin"],
    )
    assert patched.status_code == 422 and patched.json()["field"] == "auto_reassign_to_id"


def test_a_target_no_longer_working_complaints_does_not_stop_the_escalation(db, users):
    backup = make_user(db, role="manager")
    only_policies(
        db,
        {"first_response_minutes": 60, "resolution_minutes": 120, "auto_reassign_to_id": backup.id},
    )
    agent = users["agent"]
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
    first = make_complaint(db, users["admin"], received_at=t0, assignee_id=agent.id)
    second = make_complaint(db, users["admin"], received_at=t0, assignee_id=agent.id)
    backup.role = "analyst"  # moved to reporting after the policy was set up
    db.flush()
    r = escalate(db, now=t0 + 3 * H)
    assert r.reassigned == 0
    assert sorted(r.complaint_ids) == sorted([first.id, second.id])
    for c in (first, second):
        assert c.sla_flag == "breached" and c.resolution_breached
        assert c.assignee_id == agent.id
