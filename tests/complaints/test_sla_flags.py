"""The breach and escalation flags follow the current SLA clock (QA findings F1, F2, F5, F7, F8).

* F2: a longer target set while the clock is paused (or by a policy edit) left ``sla_flag =
  'breached'``; the escalation job then skipped the new deadline for good.
* F1: ``resolution_breached`` was never cleared (reopen, longer target): "Resolution late" on a
  fresh clock. Reports keep counting the breach that happened (``*_ever_breached``).
* F5: business minutes past the target were shown as 24-hour days.
* F7/F8: a severity edit after resolution, and a resolve while awaiting the customer, left the
  stored due time and flags disagreeing with the SLA box.

Policies on a 24/7 calendar (``only_policies``): severity 4 has a 1 h / 2 h target, severity 1
10 h / 100 h; times are relative to now, as the edit uses the real clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from retento.complaints import service, settings
from retento.complaints.analytics import response_times
from retento.complaints.jobs import escalate
from retento.complaints.models import ComplaintNotification
from retento.complaints.schemas import ComplaintUpdate, SlaPolicyUpdate, TransitionIn
from retento.complaints.sla_clocks import sla_badge, sla_status
from retento.web.i18n import Formatter
from tests.factories import make_user
from tests.factories.complaints import make_complaint, only_policies

H = timedelta(hours=1)
M = timedelta(minutes=1)


def _policies(db, **sev1):
    return only_policies(
        db,
        {"severity": 4, "first_response_minutes": 60, "resolution_minutes": 120},
        {"severity": 1, "first_response_minutes": 600, "resolution_minutes": 6000, **sev1},
    )


def _go(db, c, action, at, actor, note=None):
    return service.apply_transition(
        db, c.id, TransitionIn(action=action, note=note), actor=actor, at=at
    )


def _notices(db, c):
    return db.scalars(
        select(ComplaintNotification)
        .where(ComplaintNotification.complaint_id == c.id)
        .order_by(ComplaintNotification.id)
    ).all()


def test_a_longer_target_set_while_paused_is_escalated_again(db, users):
    """F2: breached → await customer → severity 4 → 1 → customer replies: the new deadline gets
    its near-breach and breach notices and the automatic reassignment."""
    backup = make_user(db, role="manager")
    _policies(db, auto_reassign_to_id=backup.id)
    lead = users["manager"]
    agent = make_user(db, role="agent", manager_id=lead.id)
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, users["admin"], received_at=t0, severity=4, assignee_id=agent.id)
    _go(db, c, "start", t0 + H / 4, agent)
    escalate(db, now=t0 + 3 * H)
    assert c.sla_flag == "breached" and c.resolution_breached
    _go(db, c, "await_customer", t0 + 4 * H, agent)
    service.update_complaint(db, c.id, ComplaintUpdate(severity=1), actor=agent)
    # paused, 4 h of the new 100 h used: nothing is late or near any more
    assert c.resolution_due_at is None
    assert (c.sla_flag, c.resolution_breached) == ("ok", False)
    assert c.resolution_ever_breached  # the breach of the first deadline stays recorded
    resumed = t0 + 9 * H
    _go(db, c, "customer_replied", resumed, agent)
    due = resumed + 96 * H
    assert c.resolution_due_at == due and c.resolution_warn_at == resumed + 76 * H
    assert c.next_warn_at is not None
    assert sla_badge(c, resumed + H) == "ok"  # answered at 4 h: in time for the new 10 h target
    before = len(_notices(db, c))

    r = escalate(db, now=resumed + 77 * H)
    assert r.complaint_ids == [c.id] and c.sla_flag == "near_breach"
    assert [n.level for n in _notices(db, c)[before:]] == ["near_breach", "near_breach"]
    r = escalate(db, now=due + M)
    assert r.complaint_ids == [c.id] and r.reassigned == 1 and c.assignee_id == backup.id
    assert c.sla_flag == "breached" and c.resolution_breached
    assert "breached" in [n.level for n in _notices(db, c)[before + 2 :]]
    assert escalate(db, now=due + 2 * M).checked == 0  # still idempotent


def test_a_resume_recomputes_flags_from_the_new_due_time(db, users):
    """F2 via the resume: the policy's target was lengthened while paused; the reply settles the
    flags on the recomputed due time, so the job sees the complaint again."""
    pol4, _pol1 = _policies(db)
    mgr = users["manager"]
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, mgr, received_at=t0, severity=4, assignee_id=mgr.id)
    _go(db, c, "start", t0 + H / 4, mgr)
    escalate(db, now=t0 + 3 * H)
    _go(db, c, "await_customer", t0 + 4 * H, mgr)  # after the due time: the due time stays
    assert c.resolution_due_at == t0 + 2 * H and c.sla_flag == "breached"
    settings.update_policy(db, pol4.id, SlaPolicyUpdate(resolution_minutes=6000), actor=mgr)
    assert (c.sla_flag, c.resolution_breached, c.resolution_due_at) == ("ok", False, None)
    _go(db, c, "customer_replied", t0 + 5 * H, mgr)
    assert c.resolution_due_at == t0 + 101 * H
    assert escalate(db, now=t0 + 82 * H).complaint_ids == [c.id]
    assert c.sla_flag == "near_breach"


def test_a_policy_edit_extending_a_running_clock_unflags_it(db, users):
    """F2, the policy/calendar edit path (``settings._refresh_open``) on a running clock."""
    pol4, _pol1 = _policies(db)
    mgr = users["manager"]
    c = make_complaint(
        db, mgr, received_at=datetime.now(UTC) - 3 * H, severity=4, assignee_id=mgr.id
    )
    escalate(db)
    assert c.sla_flag == "breached" and c.flagged
    settings.update_policy(
        db, pol4.id, SlaPolicyUpdate(first_response_minutes=600, resolution_minutes=6000), actor=mgr
    )
    assert (c.sla_flag, c.first_response_flag) == ("ok", "ok")
    assert not (c.resolution_breached or c.first_response_breached or c.flagged)
    assert c.resolution_ever_breached and c.first_response_ever_breached
    assert sla_badge(c) == "ok"


def test_reopen_starts_on_time_and_reports_keep_the_breach(db, users):
    """F1: resolved late, reopened → "On time" on the new clock, "Done" once resolved in time;
    the analytics still count the complaint's breach."""
    _policies(db)
    mgr = users["manager"]
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, mgr, received_at=t0, severity=4, assignee_id=mgr.id)
    _go(db, c, "start", t0 + H / 4, mgr)
    _go(db, c, "await_customer", t0 + H / 2, mgr)  # answered in time
    _go(db, c, "customer_replied", t0 + H / 2 + M, mgr)
    escalate(db, now=t0 + 3 * H)
    _go(db, c, "resolve", t0 + 4 * H, mgr, note="Replaced.")
    assert c.resolution_breached and sla_badge(c, t0 + 4 * H) == "resolution_late"
    _go(db, c, "reopen", t0 + 5 * H, mgr)
    assert (c.resolution_breached, c.sla_flag, c.flagged) == (False, "ok", False)
    assert c.resolution_due_at == t0 + 7 * H
    assert sla_badge(c, t0 + 5 * H + M) == "ok"
    assert sla_status(db, c, t0 + 5 * H + M)["resolution"]["state"] == "running"
    _go(db, c, "resolve", t0 + 6 * H, mgr, note="Replaced again.")
    assert not c.resolution_breached and sla_badge(c, t0 + 6 * H) == "done"
    assert c.resolution_ever_breached
    assert response_times(db)["resolution"]["breached"] == 1


def test_a_severity_downgrade_clears_resolution_late(db, users):
    """F1 on a running clock: the breach of the old target is no longer "Resolution late"."""
    _policies(db)
    mgr = users["manager"]
    c = make_complaint(
        db, mgr, received_at=datetime.now(UTC) - 3 * H, severity=4, assignee_id=mgr.id
    )
    escalate(db)
    assert sla_badge(c) == "resolution_late"
    service.update_complaint(db, c.id, ComplaintUpdate(severity=1), actor=mgr)
    assert not c.resolution_breached and c.sla_flag == "ok"
    assert sla_badge(c) == "ok" and sla_status(db, c)["resolution"]["state"] == "running"
    assert response_times(db)["resolution"]["breached"] == 1


def test_a_severity_edit_after_resolution_recomputes_due_time_and_flags(db, users):
    """F7: the stored due time, flags and badge agree with the SLA box after a re-rating."""
    _policies(db)
    mgr = users["manager"]
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, mgr, received_at=t0, severity=1, assignee_id=mgr.id)
    _go(db, c, "start", t0 + H / 4, mgr)
    _go(db, c, "await_customer", t0 + H / 2, mgr)
    _go(db, c, "customer_replied", t0 + H / 2 + M, mgr)
    _go(db, c, "resolve", t0 + 3 * H, mgr, note="Done.")
    assert c.resolution_due_at == t0 + 100 * H + M and sla_badge(c) == "done"  # paused 1 min
    service.update_complaint(db, c.id, ComplaintUpdate(severity=4), actor=mgr)
    box = sla_status(db, c)["resolution"]
    assert box["state"] == "breached" and c.resolution_due_at == box["due_at"] == t0 + 2 * H + M
    assert c.resolution_breached and sla_badge(c) == "resolution_late"
    service.update_complaint(db, c.id, ComplaintUpdate(severity=1), actor=mgr)
    assert not c.resolution_breached and sla_badge(c) == "done"
    assert c.resolution_due_at == sla_status(db, c)["resolution"]["due_at"] == t0 + 100 * H + M


def test_resolving_while_awaiting_the_customer_keeps_the_due_time(db, users):
    """F8: the pause empties the due time; the resolve stores the stopped clock's due time."""
    _policies(db)
    mgr = users["manager"]
    t0 = datetime.now(UTC) - 10 * H
    c = make_complaint(db, mgr, received_at=t0, severity=1, assignee_id=mgr.id)
    _go(db, c, "start", t0 + H / 4, mgr)
    _go(db, c, "await_customer", t0 + 8 * H, mgr)
    assert c.resolution_due_at is None
    _go(db, c, "resolve", t0 + 9 * H, mgr, note="Solved by phone.")
    box = sla_status(db, c)["resolution"]
    assert c.resolution_due_at == box["due_at"] == t0 + 101 * H and box["state"] == "met"
    assert service.detail(db, c)["resolution_due_at"] == t0 + 101 * H
    assert not c.resolution_breached and sla_badge(c) == "done"


def test_business_time_past_the_target_is_in_hours_not_24_hour_days():
    """F5: 43 business hours (2580 minutes) read "2 days" (24-hour days); now hours."""
    en, zh = Formatter("en"), Formatter("zh_CN")
    assert en.business_duration(2580) == "43 hours"
    assert zh.business_duration(2580) == "43小时"
    assert en.business_duration(2590) == "43.2 hours"
    assert en.business_duration(60) == "1 hour"
    assert en.business_duration(25) == "25 minutes" and zh.business_duration(25) == "25分钟"


def test_the_complaint_page_says_business_hours_past_the_target(client, db, users):
    """F5 on the page, both languages: 43 business hours past a 1-hour first-response target."""
    import re

    from tests.web.conftest import Browser

    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 100 * 60})
    c = make_complaint(db, users["agent"], received_at=datetime.now(UTC) - 44 * H - 2 * M)
    db.commit()
    web = Browser(client)
    web.login("agent")
    for lang, text in (
        ("en", "43 hours past the target (business time)"),
        ("zh_CN", "已超出目标 43小时（按工作时间计）"),
    ):
        web.post("/locale", {"lang": lang, "next": "/"})
        page = web.get(f"/complaints/{c.id}").text
        used = re.findall(r'<span class="muted sla-used">([^<]*)</span>', page)
        assert used[0] == text, used
