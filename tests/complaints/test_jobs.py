"""The escalation job: near-breach and breach flag, notify assignee and manager, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from retento.complaints import service
from retento.complaints.jobs import complaint_escalation, escalate
from retento.complaints.models import ComplaintEvent, ComplaintNotification
from retento.complaints.schemas import NoteIn, TransitionIn
from retento.jobs import load_jobs
from tests.factories import make_user
from tests.factories.complaints import make_complaint, only_policies

H = timedelta(hours=1)


def _notes(db):
    return db.scalars(select(ComplaintNotification).order_by(ComplaintNotification.id)).all()


def test_near_breach_then_breach_notifies_once_each(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 600})
    lead = users["manager"]
    agent = make_user(db, role="agent", manager_id=lead.id)
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
    c = make_complaint(db, users["admin"], received_at=t0, assignee_id=agent.id)
    service.add_note(db, c.id, NoteIn(body="Hello", kind="message"), actor=agent)  # responded

    assert escalate(db, now=t0 + 7 * H).checked == 0  # 70 %: nothing to do
    r = escalate(db, now=t0 + 8 * H)  # 80 %
    assert (r.flagged, r.notifications) == (1, 2)
    assert c.flagged and c.sla_flag == "near_breach"
    assert {n.user_id for n in _notes(db)} == {agent.id, lead.id}
    again = escalate(db, now=t0 + 8 * H)
    assert (again.checked, again.notifications) == (0, 0)
    assert len(_notes(db)) == 2

    r = escalate(db, now=t0 + 10 * H)
    assert r.notifications == 2 and c.sla_flag == "breached" and c.resolution_breached
    assert escalate(db, now=t0 + 11 * H).notifications == 0
    assert [n.level for n in _notes(db)] == ["near_breach", "near_breach", "breached", "breached"]
    esc = db.scalar(
        select(func.count()).select_from(ComplaintEvent).where(ComplaintEvent.kind == "escalation")
    )
    assert esc == 2


def test_first_response_escalation_and_breach_in_one_run(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 120})
    agent = users["agent"]
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
    c = make_complaint(db, users["admin"], received_at=t0, assignee_id=agent.id)
    r = escalate(db, now=t0 + 3 * H)  # both clocks are past due
    assert c.first_response_breached and c.resolution_breached
    assert c.first_response_flag == "breached" and c.sla_flag == "breached"
    assert r.notifications == 2  # one per clock for the assignee (no manager)
    assert escalate(db, now=t0 + 3 * H).notifications == 0


def test_paused_complaints_do_not_escalate(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 120})
    mgr = users["manager"]
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, mgr, received_at=t0, assignee_id=mgr.id)
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=mgr, at=t0 + H / 4)
    service.apply_transition(
        db, c.id, TransitionIn(action="await_customer"), actor=mgr, at=t0 + H / 2
    )
    assert escalate(db).notifications == 0
    assert not c.flagged


def test_auto_reassign_on_breach(db, users):
    backup = make_user(db, role="manager")
    only_policies(
        db,
        {"first_response_minutes": 60, "resolution_minutes": 120, "auto_reassign_to_id": backup.id},
    )
    agent = users["agent"]
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
    c = make_complaint(db, users["admin"], received_at=t0, assignee_id=agent.id)
    service.add_note(db, c.id, NoteIn(body="On it", kind="message"), actor=agent)
    r = escalate(db, now=t0 + 3 * H)
    assert r.reassigned == 1 and c.assignee_id == backup.id
    assert {n.user_id for n in _notes(db)} == {backup.id}
    assert escalate(db, now=t0 + 4 * H).reassigned == 0


def test_reopen_gets_a_fresh_escalation(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 120})
    mgr = users["manager"]
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, mgr, received_at=t0, assignee_id=mgr.id)
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=mgr, at=t0 + H / 4)
    escalate(db, now=t0 + 3 * H)
    n_before = len(_notes(db))
    service.apply_transition(
        db, c.id, TransitionIn(action="resolve", note="done"), actor=mgr, at=t0 + 4 * H
    )
    service.apply_transition(db, c.id, TransitionIn(action="reopen"), actor=mgr, at=t0 + 5 * H)
    assert c.sla_flag == "ok"
    r = escalate(db, now=t0 + 8 * H)
    assert r.notifications == 1 and len(_notes(db)) == n_before + 1


def test_job_is_registered_and_runs(db, users):
    assert "complaint_escalation" in load_jobs()
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 120})
    make_complaint(
        db, users["manager"], received_at=datetime.now(UTC) - 5 * H, assignee_id=users["manager"].id
    )
    first = complaint_escalation(db)
    second = complaint_escalation(db)
    assert first["notifications"] >= 1 and second["notifications"] == 0
