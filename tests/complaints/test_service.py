"""Complaint service: intake, SLA due times, workflow, assignment, notes, remedies, follow-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.complaints import (
    attachments,
    followup,
    improvements,
    public_intake,
    queries,
    remedies,
    service,
    settings,
)
from retento.complaints.models import ComplaintEvent, ImprovementAction
from retento.complaints.schemas import (
    AssignIn,
    CalendarIn,
    ComplaintUpdate,
    FollowUpIn,
    ImprovementCreate,
    ImprovementUpdate,
    NoteIn,
    PublicComplaintIn,
    RemedyCreate,
    SlaPolicyIn,
    SlaPolicyUpdate,
    SurveyAnswerIn,
    TransitionIn,
)
from retento.core.errors import Conflict, Forbidden, InvalidInput
from retento.scoring.models import CustomerScore, ScoreRun
from tests.factories import make_customer, make_order, make_user
from tests.factories.complaints import always_calendar, make_complaint, only_policies

H = timedelta(hours=1)


def _act(db, c, action, actor, note=None, at=None):
    return service.apply_transition(
        db, c.id, TransitionIn(action=action, note=note), actor=actor, at=at
    )


def test_intake_computes_due_times_from_the_policy(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 600})
    received = datetime(2025, 3, 3, 9, tzinfo=UTC)
    c = make_complaint(
        db, users["agent"], received_at=received, purposes=["heard", "heard", "resolved"]
    )
    assert c.status == "accepted"
    assert c.tracking_code.startswith("RC-") and len(c.tracking_code) == 13
    assert c.assignee_id == users["agent"].id  # an agent who records it takes it
    assert c.first_response_due_at == received + H
    assert c.first_response_warn_at == received + 48 * timedelta(minutes=1)
    assert c.resolution_due_at == received + 10 * H
    assert c.resolution_warn_at == received + 8 * H
    assert c.purposes == ["heard", "resolved"]
    kinds = [e.kind for e in c.events]
    assert kinds[:2] == ["created", "assignment"]
    assert db.scalar(select(AuditEntry).where(AuditEntry.entity == "complaint")) is not None


def test_seeded_policies_and_office_calendar(db, users):
    # Monday 17:00 UTC, severity 4 ("serious loss"): 1 h first response, 9 h resolution, 09–18.
    c = make_complaint(
        db, users["manager"], severity=4, received_at=datetime(2025, 3, 3, 17, tzinfo=UTC)
    )
    assert c.sla_policy.name == "Serious loss"
    assert c.first_response_due_at == datetime(2025, 3, 3, 18, tzinfo=UTC)
    assert c.resolution_due_at == datetime(2025, 3, 4, 17, tzinfo=UTC)


def test_vip_customers_get_the_tighter_policy(db, users):
    cust = make_customer(db)
    run = ScoreRun(model="bgnbd", status="succeeded", as_of=datetime(2025, 1, 1, tzinfo=UTC))
    db.add(run)
    db.flush()
    db.add(
        CustomerScore(
            run_id=run.id,
            customer_id=cust.id,
            revenue=Decimal("1"),
            profit=Decimal("1"),
            monetary=Decimal("1"),
            value_class="vip",
            label="MVC",
            loyalty_stage="loyal",
        )
    )
    db.flush()
    assert service.customer_value_class(db, cust.id) == "vip"
    assert service.customer_value_class(db, make_customer(db).id) == "ordinary"
    c = make_complaint(db, users["manager"], customer_id=cust.id, severity=4)
    assert c.value_class == "vip" and c.sla_policy.name == "VIP serious loss"
    c2 = make_complaint(db, users["manager"], customer_id=cust.id, severity=1)
    assert c2.sla_policy.name == "VIP"


def test_bad_intake_names_the_field(db, users):
    cust = make_customer(db)
    with pytest.raises(InvalidInput) as exc:
        make_complaint(db, users["agent"], customer_id=cust.id, category="teleportation")
    assert exc.value.field == "category"
    with pytest.raises(InvalidInput) as exc:
        make_complaint(db, users["agent"], customer_id=999999)
    assert exc.value.field == "customer_id"
    other_order = make_order(db)
    with pytest.raises(InvalidInput) as exc:
        make_complaint(db, users["agent"], customer_id=cust.id, order_id=other_order.id)
    assert exc.value.field == "order_id"
    with pytest.raises(InvalidInput) as exc:
        make_complaint(db, users["agent"], received_at=datetime.now(UTC) + timedelta(days=2))
    assert exc.value.field == "received_at"
    with pytest.raises(Forbidden):
        make_complaint(db, users["analyst"])
    with pytest.raises(Forbidden):  # agents assign only to themselves
        make_complaint(db, users["agent"], assignee_id=users["manager"].id)
    make_complaint(db, users["agent"], external_id="X-1")
    with pytest.raises(Conflict) as exc:
        make_complaint(db, users["agent"], external_id="X-1")
    assert exc.value.field == "external_id"


def test_full_workflow_with_pause_and_timeline(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 600})
    agent = users["agent"]
    t0 = datetime.now(UTC) - 6 * H
    c = make_complaint(db, agent, received_at=t0)
    _act(db, c, "start", agent, at=t0 + H / 2)
    _act(db, c, "await_customer", agent, note="Asked for a photo", at=t0 + H)
    assert c.first_responded_at == t0 + H and not c.first_response_breached
    assert c.paused_since == t0 + H
    assert c.resolution_due_at is None  # clock stopped
    service.add_note(db, c.id, NoteIn(body="Here is the photo", kind="customer_reply"), actor=None)
    assert c.status == "in_progress" and c.paused_since is None
    paused = c.pauses[0].ended_at - c.pauses[0].started_at
    assert abs(c.resolution_due_at - (t0 + 10 * H + paused)) < timedelta(seconds=1)
    with pytest.raises(InvalidInput) as exc:
        _act(db, c, "resolve", agent)
    assert exc.value.field == "note"
    _act(db, c, "resolve", agent, note="Replacement sent, apology given.")
    assert c.status == "resolved" and c.followup_token and not c.resolution_breached
    with pytest.raises(Conflict) as exc:
        _act(db, c, "close", agent)
    assert "resolved → closed" in exc.value.message
    followup.record_follow_up(
        db, c.id, FollowUpIn(won_back=True, note="Ordered again"), actor=agent
    )
    assert c.status == "follow_up" and c.won_back is True
    _act(db, c, "close", agent)
    assert c.status == "closed" and c.closed_at is not None
    kinds = [e.kind for e in c.events]
    for k in ("created", "transition", "customer_reply", "feedback"):
        assert k in kinds
    timeline = queries.customer_timeline(db, c.customer_id, actor=users["analyst"])
    assert {e.complaint_id for e in timeline} == {c.id}
    assert len(timeline) == len(c.events)


def test_next_warning_time_follows_the_running_clocks(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 600})
    agent = users["agent"]
    t0 = datetime.now(UTC) - 2 * H
    c = make_complaint(db, agent, received_at=t0)
    # Both clocks run: the first response warns first (80 % of 60 min).
    assert c.next_warn_at == c.first_response_warn_at == t0 + timedelta(minutes=48)
    service.add_note(db, c.id, NoteIn(body="We are on it", kind="message"), actor=agent)
    db.flush()
    assert c.next_warn_at == c.resolution_warn_at == t0 + 8 * H
    _act(db, c, "start", agent)
    _act(db, c, "await_customer", agent, note="Photo please?")
    db.flush()
    assert c.next_warn_at is None  # paused: nothing can breach
    service.add_note(db, c.id, NoteIn(body="Photo", kind="customer_reply"), actor=None)
    db.flush()
    assert c.next_warn_at == c.resolution_warn_at and c.next_warn_at > t0 + 8 * H
    _act(db, c, "resolve", agent, note="Replaced")
    db.flush()
    assert c.next_warn_at is None
    soon, _ = queries.list_complaints(db, actor=agent, breaching_soon=t0 + 100 * H)
    assert c.id not in [r.id for r in soon]


def test_late_resolution_is_a_breach_and_reopen_restarts_the_clock(db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 120})
    mgr = users["manager"]
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, mgr, received_at=t0)
    _act(db, c, "start", mgr, at=t0 + H / 2)
    _act(db, c, "resolve", mgr, note="Refunded", at=t0 + 3 * H)
    assert c.resolution_breached and c.first_response_breached
    _act(db, c, "reopen", mgr, note="Customer called back")
    assert c.status == "in_progress" and c.reopen_count == 1
    assert c.resolved_at is None
    assert c.resolution_due_at > datetime.now(UTC) + H  # a fresh 2 h clock
    # the flag follows the fresh clock (QA F1); the breach stays in the reports' record
    assert not c.resolution_breached and c.resolution_ever_breached


def test_severity_change_recomputes_the_resolution_target(db, users):
    only_policies(
        db,
        {"name": "mild", "severity": 1, "resolution_minutes": 48 * 60},
        {"name": "serious", "severity": 4, "first_response_minutes": 30, "resolution_minutes": 240},
    )
    t0 = datetime.now(UTC) - H
    c = make_complaint(db, users["manager"], severity=1, received_at=t0)
    assert c.sla_policy.name == "mild" and c.resolution_due_at == t0 + 48 * H
    service.update_complaint(db, c.id, ComplaintUpdate(severity=4), actor=users["manager"])
    assert c.sla_policy.name == "serious"
    assert c.resolution_due_at == t0 + 4 * H
    assert c.first_response_due_at == t0 + H / 2
    sev = [e for e in c.events if e.kind == "severity"]
    assert sev and sev[0].data["from"] == 1 and sev[0].data["to"] == 4


def test_policy_update_recomputes_open_complaints(db, users):
    (p,) = only_policies(db, {"resolution_minutes": 600})
    t0 = datetime.now(UTC) - H
    c = make_complaint(db, users["manager"], received_at=t0)
    settings.update_policy(db, p.id, SlaPolicyUpdate(resolution_minutes=300), actor=users["admin"])
    db.refresh(c)
    assert c.resolution_due_at == t0 + 5 * H
    with pytest.raises(InvalidInput) as exc:
        settings.update_policy(
            db, p.id, SlaPolicyUpdate(resolution_minutes=10), actor=users["admin"]
        )
    assert exc.value.field == "resolution_minutes"
    with pytest.raises(Forbidden):
        settings.update_policy(db, p.id, SlaPolicyUpdate(priority=1), actor=users["agent"])


def test_calendar_admin_validates_and_moves_due_times(db, users):
    admin = users["admin"]
    cal = settings.create_calendar(
        db,
        CalendarIn(
            name="Berlin office", timezone="Europe/Berlin", hours={"0": [["09:00", "17:00"]]}
        ),
        actor=admin,
    )
    assert cal.hours == {"0": [["09:00", "17:00"]]}
    with pytest.raises(InvalidInput) as exc:
        settings.create_calendar(db, CalendarIn(name="bad", timezone="Nowhere/City"), actor=admin)
    assert exc.value.field == "timezone"
    with pytest.raises(InvalidInput) as exc:
        settings.create_calendar(
            db, CalendarIn(name="bad", hours={"1": [["9am", "5pm"]]}), actor=admin
        )
    assert exc.value.field == "hours"
    with pytest.raises(Conflict):
        settings.create_calendar(db, CalendarIn(name="Berlin office"), actor=admin)
    policies = only_policies(db, {"resolution_minutes": 600})
    row = policies[0].calendar
    t0 = datetime.now(UTC) - H
    c = make_complaint(db, admin, received_at=t0)
    assert c.resolution_due_at == t0 + 10 * H
    # The 24/7 desk becomes a Mon–Fri office in Shanghai: due times of open complaints move.
    settings.update_calendar(
        db,
        row.id,
        CalendarIn(
            name=row.name,
            timezone="Asia/Shanghai",
            hours={str(d): [["09:00", "18:00"]] for d in range(5)},
        ),
        actor=admin,
    )
    db.refresh(c)
    assert c.resolution_due_at != t0 + 10 * H


def test_policy_create_validation(db, users):
    cal = always_calendar(db, "x")
    with pytest.raises(InvalidInput) as exc:
        settings.create_policy(
            db,
            SlaPolicyIn(
                name="p", first_response_minutes=60, resolution_minutes=600, calendar_id=9999
            ),
            actor=users["manager"],
        )
    assert exc.value.field == "calendar_id"
    p = settings.create_policy(
        db,
        SlaPolicyIn(
            name="p", first_response_minutes=60, resolution_minutes=600, calendar_id=cal.id
        ),
        actor=users["manager"],
    )
    assert p.id
    with pytest.raises(Conflict) as exc:
        settings.create_policy(
            db,
            SlaPolicyIn(
                name="p", first_response_minutes=60, resolution_minutes=600, calendar_id=cal.id
            ),
            actor=users["manager"],
        )
    assert exc.value.field == "name"


def test_agent_scope_assignment_and_teams(db, users):
    lead = users["manager"]
    a1 = make_user(db, role="agent", manager_id=lead.id)
    a2 = make_user(db, role="agent", manager_id=lead.id)
    outsider = make_user(db, role="agent")
    c = make_complaint(db, users["admin"])
    with pytest.raises(Forbidden):
        _act(db, c, "start", a1)  # neither assigned nor owning the customer
    with pytest.raises(Forbidden):
        service.assign(db, c.id, AssignIn(assignee_id=a2.id), actor=a1)
    service.assign(db, c.id, AssignIn(assignee_id=a1.id), actor=lead)
    assert c.team_manager_id == lead.id
    _act(db, c, "start", a1)
    mine, total = queries.list_complaints(db, actor=a1, mine_for=a1)
    assert [x.id for x in mine] == [c.id] and total == 1
    team, _ = queries.list_complaints(db, actor=a2, team_for=a2)
    assert c.id in [x.id for x in team]
    other, _ = queries.list_complaints(db, actor=outsider, team_for=outsider)
    assert c.id not in [x.id for x in other]
    assert [e for e in c.events if e.kind == "assignment"][-1].data["assignee_id"] == a1.id
    with pytest.raises(InvalidInput) as exc:
        service.assign(db, c.id, AssignIn(assignee_id=users["analyst"].id), actor=lead)
    assert exc.value.field == "assignee_id"
    # An agent owning the customer may work the complaint without being assigned.
    owned = make_complaint(db, users["admin"], customer_id=make_customer(db, owner_id=a2.id).id)
    _act(db, owned, "start", a2)
    assert owned.status == "in_progress"


def test_queue_sorted_by_due_with_paused_last(db, users):
    only_policies(
        db,
        {"severity": 1, "resolution_minutes": 900},
        {"severity": 2, "resolution_minutes": 600},
        {"severity": 3, "resolution_minutes": 300},
    )
    mgr = users["manager"]
    now = datetime.now(UTC)
    a = make_complaint(db, mgr, severity=1, received_at=now - H, assignee_id=mgr.id)
    b = make_complaint(db, mgr, severity=2, received_at=now - H, assignee_id=mgr.id)
    c = make_complaint(db, mgr, severity=3, received_at=now - H, assignee_id=mgr.id)
    _act(db, b, "start", mgr)
    _act(db, b, "await_customer", mgr)
    rows, total = queries.list_complaints(db, actor=mgr, mine_for=mgr, sort="due")
    assert [r.id for r in rows] == [c.id, a.id, b.id] and total == 3
    rows, _ = queries.list_complaints(db, actor=mgr, mine_for=mgr, sort="-due")
    assert [r.id for r in rows][:2] == [a.id, c.id]
    soon, _ = queries.list_complaints(db, actor=mgr, breaching_soon=now + 4 * H, mine_for=mgr)
    # c's resolution warning is within 4 h; a's first response (60 min) is already at 80 %.
    assert sorted(r.id for r in soon) == sorted([c.id, a.id])
    service.add_note(db, a.id, NoteIn(body="Looking into it", kind="message"), actor=mgr)
    soon, _ = queries.list_complaints(db, actor=mgr, breaching_soon=now + 4 * H, mine_for=mgr)
    assert [r.id for r in soon] == [c.id]
    with pytest.raises(InvalidInput) as exc:
        queries.list_complaints(db, actor=mgr, sort="description")
    assert exc.value.field == "sort"


def test_notes_are_internal_messages_are_not(db, users):
    c = make_complaint(db, users["manager"])
    note = service.add_note(db, c.id, NoteIn(body="Check courier"), actor=users["manager"])
    msg = service.add_note(
        db, c.id, NoteIn(body="We are on it", kind="message"), actor=users["manager"]
    )
    assert note.internal and not msg.internal
    assert c.first_responded_at is not None
    status = service.public_status(db, c.tracking_code)
    bodies = [e["body"] for e in status["events"]]
    assert "We are on it" in bodies and "Check courier" not in bodies


def test_remedies_and_totals(db, users):
    mgr = users["manager"]
    c = make_complaint(db, mgr)
    remedies.add_remedy(db, c.id, RemedyCreate(kind="apology"), actor=mgr)
    remedies.add_remedy(
        db,
        c.id,
        RemedyCreate(kind="compensation", compensation_type="voucher", amount="20.00", cost="7.50"),
        actor=mgr,
    )
    remedies.add_remedy(
        db,
        c.id,
        RemedyCreate(kind="compensation", compensation_type="voucher", amount="10", cost="2.25"),
        actor=mgr,
    )
    totals = remedies.remedy_totals(db, actor=users["analyst"])
    voucher = next(t for t in totals if t["compensation_type"] == "voucher")
    assert voucher["count"] == 2
    assert voucher["amount"] == Decimal("30.00") and voucher["cost"] == Decimal("9.75")
    assert remedies.remedy_cost_of(c) == Decimal("9.75")
    with pytest.raises(ValueError):
        RemedyCreate(kind="compensation", amount="5")
    with pytest.raises(ValueError):
        RemedyCreate(kind="apology", amount="5")


def test_public_submission_matches_or_creates_the_customer(db, users):
    known = make_customer(db, email="li@example.com", owner_id=users["agent"].id)
    data = PublicComplaintIn(
        name="Li Lei",
        email="LI@example.com",
        category="product_quality",
        subject="Kettle leaks",
        description="The kettle leaks after two days of use.",
    )
    c = public_intake.submit_public(db, data)
    assert c.customer_id == known.id and c.channel == "web_form"
    assert c.assignee_id == users["agent"].id  # the owner gets it
    c2 = public_intake.submit_public(
        db, data.model_copy(update={"email": "new@example.com", "name": "Han Meimei"})
    )
    assert c2.customer_id != known.id and c2.customer.name == "Han Meimei"
    with pytest.raises(InvalidInput) as exc:
        public_intake.submit_public(db, data.model_copy(update={"website": "http://spam"}))
    assert exc.value.field == "website"


def test_survey_low_score_reopens(db, users):
    mgr = users["manager"]
    c = make_complaint(db, mgr)
    _act(db, c, "start", mgr)
    _act(db, c, "resolve", mgr, note="Explained the billing error")
    token = c.followup_token
    followup.answer_survey(db, token, SurveyAnswerIn(csat=1, would_buy_again=False))
    assert c.status == "in_progress" and c.reopen_count == 1 and c.csat == 1
    with pytest.raises(followup.FollowUpAnswered) as used:
        followup.answer_survey(db, token, SurveyAnswerIn(csat=5, would_buy_again=True))
    assert used.value.status == 410 and used.value.field == "token"
    _act(db, c, "resolve", mgr, note="Refunded")
    followup.answer_survey(db, c.followup_token, SurveyAnswerIn(csat=5, would_buy_again=True))
    assert c.status == "resolved" and c.would_buy_again is True


def test_follow_up_only_after_resolution(db, users):
    c = make_complaint(db, users["manager"])
    with pytest.raises(Conflict) as exc:
        followup.record_follow_up(db, c.id, FollowUpIn(won_back=True), actor=users["manager"])
    assert exc.value.field == "status"


def test_attachments_limits(db, users, tmp_path):
    mgr = users["manager"]
    c = make_complaint(db, mgr)
    att = attachments.add_attachment(
        db,
        c.id,
        "../../etc/photo.png",
        "image/png",
        b"\x89PNG\r\n\x1a\ndata",
        actor=mgr,
        data_dir=str(tmp_path),
    )
    assert att.filename == "photo.png" and att.size == 12
    assert (tmp_path / "complaints" / str(c.id)).is_dir()
    assert att.path.startswith(str(tmp_path))
    for name, ctype, data in [
        ("virus.exe", "application/x-msdownload", b"MZ"),
        ("photo.pdf", "image/png", b"x"),
        ("empty.txt", "text/plain", b""),
        ("big.txt", "text/plain", b"x" * (attachments.MAX_ATTACHMENT_BYTES + 1)),
        ("page.png", "image/png", b"<html><script>alert(1)</script>"),  # content is not PNG
        ("note.txt", "text/plain", b"MZ\x90\x00\x03"),  # binary declared as text
    ]:
        with pytest.raises(InvalidInput) as exc:
            attachments.add_attachment(
                db, c.id, name, ctype, data, actor=mgr, data_dir=str(tmp_path)
            )
        assert exc.value.field == "file"


def test_improvement_log_pdca(db, users):
    mgr = users["manager"]
    a = improvements.create_improvement(
        db,
        ImprovementCreate(
            title="Stronger boxes", root_cause="Packaging", plan="Switch supplier", owner_id=mgr.id
        ),
        actor=mgr,
    )
    assert a.root_cause == "packaging" and a.stage == "plan"
    with pytest.raises(InvalidInput) as exc:
        improvements.update_improvement(db, a.id, ImprovementUpdate(stage="check"), actor=mgr)
    assert exc.value.field == "check_result"
    improvements.update_improvement(
        db, a.id, ImprovementUpdate(stage="done", check_result="Breakage down 70 %"), actor=mgr
    )
    assert db.get(ImprovementAction, a.id).stage == "done"
    with pytest.raises(Forbidden):
        improvements.create_improvement(
            db, ImprovementCreate(title="t", root_cause="r", plan="p"), actor=users["agent"]
        )


def test_public_reply_on_closed_is_refused(db, users):
    mgr = users["manager"]
    c = make_complaint(db, mgr)
    for action, note in (("start", None), ("resolve", "ok"), ("follow_up", None), ("close", None)):
        _act(db, c, action, mgr, note=note)
    with pytest.raises(Conflict) as exc:
        service.public_reply(db, c.tracking_code, "Hello?")
    assert exc.value.field == "tracking_code"
    assert db.scalar(select(ComplaintEvent).where(ComplaintEvent.kind == "customer_reply")) is None


# --- category tree admin -----------------------------------------------------------------------


def _cat(db, code, name, parent=None, actor=None):
    from retento.complaints.schemas import CategoryCreate

    return settings.create_category(
        db, CategoryCreate(code=code, name=name, parent_id=parent), actor=actor
    )


def test_category_rename_move_and_refuse_cycles(db, users):
    from retento.complaints.schemas import CategoryUpdate

    boss = users["manager"]
    delivery = service.category_by_code(db, "delivery")
    late = _cat(db, "delivery.late", "Late", delivery.id, boss)
    very_late = _cat(db, "delivery.late.week", "A week late", late.id, boss)
    settings.update_category(
        db, late.id, CategoryUpdate(name=" Late delivery ", name_zh="延迟送达"), actor=boss
    )
    assert (late.name, late.name_zh, late.parent_id) == ("Late delivery", "延迟送达", delivery.id)
    # Moving under itself or a descendant would make a cycle.
    for target in (late.id, very_late.id):
        with pytest.raises(InvalidInput) as exc:
            settings.update_category(db, late.id, CategoryUpdate(parent_id=target), actor=boss)
        assert exc.value.field == "parent_id" and "subcategories" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        settings.update_category(db, late.id, CategoryUpdate(parent_id=999999), actor=boss)
    assert exc.value.field == "parent_id"
    with pytest.raises(InvalidInput) as exc:
        settings.update_category(db, late.id, CategoryUpdate(name=None), actor=boss)
    assert exc.value.field == "name"
    # The grandchild moves with it to the top level (parent_id null).
    settings.update_category(db, late.id, CategoryUpdate(parent_id=None), actor=boss)
    tree = {
        c.code: (depth, [p.code for p in path]) for c, depth, path in settings.category_tree(db)
    }
    assert tree["delivery.late"] == (0, ["delivery.late"])
    assert tree["delivery.late.week"] == (1, ["delivery.late", "delivery.late.week"])
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "complaint_category", AuditEntry.entity_id == str(late.id))
        # In the order written (without it PostgreSQL may return them in any order).
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["create", "update", "update"]
    assert entries[1].before["name"] == "Late" and entries[1].after["name"] == "Late delivery"
    with pytest.raises(Forbidden):
        settings.update_category(db, late.id, CategoryUpdate(name="x"), actor=users["agent"])
    with pytest.raises(Conflict) as dup:
        _cat(db, "delivery.late", "Again", None, boss)
    assert dup.value.field == "code"


def test_deactivated_category_is_not_offered_but_complaints_keep_it(db, users):
    from retento.complaints.schemas import CategoryUpdate

    boss, agent = users["manager"], users["agent"]
    delivery = service.category_by_code(db, "delivery")
    damaged = _cat(db, "delivery.damaged", "Damaged", delivery.id, boss)
    c = make_complaint(db, agent, category="delivery.damaged")
    settings.update_category(db, delivery.id, CategoryUpdate(is_active=False), actor=boss)
    offered = {cat.code for cat, _, _ in settings.category_tree(db, active_only=True)}
    assert "delivery" not in offered and "delivery.damaged" not in offered  # subtree hidden
    assert "other" in offered
    assert not service.category_offered(db, damaged)
    with pytest.raises(InvalidInput) as exc:
        make_complaint(db, agent, category_id=damaged.id, category=None)
    assert exc.value.field == "category_id" and "deactivated" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        public_intake.submit_public(
            db,
            PublicComplaintIn(
                name="Ann",
                email="ann@example.com",
                category="delivery",
                subject="Lost parcel",
                description="My parcel never arrived.",
            ),
        )
    assert exc.value.field == "category"
    # The existing complaint keeps its category, and an edit of other fields still works.
    service.update_complaint(
        db, c.id, ComplaintUpdate(subject="Crushed box", category_id=damaged.id), actor=agent
    )
    assert (c.category_id, c.subject) == (damaged.id, "Crushed box")
    settings.update_category(db, delivery.id, CategoryUpdate(is_active=True), actor=boss)
    assert service.category_offered(db, damaged)
    assert make_complaint(db, agent, category="delivery.damaged").category_id == damaged.id
