"""Alert and task transitions (locked, versioned), playbook actions, control-group assignment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.core.errors import Conflict, Forbidden, InvalidInput
from retento.core.versioning import VersionConflict
from retento.mail.models import OutboxMessage
from retento.retention import playbook_apply, playbooks, service, tasks
from retento.retention.models import RetentionAlert, RetentionCase, RetentionTask
from retento.retention.playbook_apply import BLOCK, arm_for
from tests.factories import make_customer, make_user


def _alert(db, customer, value_class="key", rule="rhythm", owner=None, cause="c1"):
    a = RetentionAlert(
        customer_id=customer.id,
        rule=rule,
        cause_key=cause,
        severity="medium",
        reason_code="rhythm",
        reason_params={"days": 90, "gap": 30},
        value_class=value_class,
        risk=0.8,
        owner_id=owner.id if owner else None,
        status="open",
        created_at=utcnow(),
    )
    db.add(a)
    db.flush()
    return a


def _book(db, value_class, **over):
    service.get_config(db)
    pb = next(
        p
        for p in playbooks.list_playbooks(db, actor=_manager(db))
        if p.value_class == value_class and p.reason == "*"
    )
    if over:
        playbooks.update_playbook(db, pb.id, over, actor=_manager(db))
    return pb


def _manager(db):
    from retento.auth.models import User

    return db.scalar(select(User).where(User.username == "manager"))


def test_assignment_is_reproducible_and_stratified():
    arms = [arm_for("key:*:key", i, 0.25) for i in range(4 * BLOCK)]
    assert arms == [arm_for("key:*:key", i, 0.25) for i in range(4 * BLOCK)]
    for b in range(4):  # every block of 20 holds out exactly 5 at 25 %
        assert arms[b * BLOCK : (b + 1) * BLOCK].count("control") == 5
    assert arms != [arm_for("ordinary:*:key", i, 0.25) for i in range(4 * BLOCK)]
    assert {arm_for("x", i, 0.0) for i in range(50)} == {"treated"}


def test_task_is_versioned_and_transitions_are_checked(db, users):
    agent, other = users["agent"], make_user(db, role="agent")
    c = make_customer(db, owner_id=agent.id)
    _book(db, "key", control_share=0.0)
    case = playbook_apply.apply_to_alert(db, _alert(db, c, owner=agent).id, actor=users["manager"])
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    assert task.owner_id == agent.id and task.kind == "task" and task.script
    v = task.version
    tasks.update_task(db, task.id, {"note": "left a message"}, actor=agent, version=v)
    assert task.version == v + 1
    with pytest.raises(VersionConflict):
        tasks.update_task(db, task.id, {"note": "again"}, actor=agent, version=v)
    with pytest.raises(Forbidden):
        tasks.update_task(db, task.id, {"note": "not mine"}, actor=other)
    with pytest.raises(Forbidden):  # only managers move a task to another owner
        tasks.update_task(db, task.id, {"owner_id": other.id}, actor=agent)
    with pytest.raises(Conflict) as e:  # the task is open already: 409, as for a lost race
        tasks.set_task_status(db, task.id, "open", actor=agent)
    assert e.value.field == "status"
    tasks.set_task_status(db, task.id, "done", actor=agent, result="not_reached")
    assert case.reached is False
    tasks.set_task_status(db, task.id, "open", actor=agent)
    assert case.reached is None and task.result is None
    tasks.set_task_status(db, task.id, "done", actor=agent, result="reached")
    assert case.reached is True
    rows, total = tasks.my_tasks(db, actor=agent, status="done")
    assert total == 1 and rows[0].id == task.id


def test_alert_transitions(db, users):
    c = make_customer(db)
    a = _alert(db, c)
    with pytest.raises(Forbidden):
        service.set_alert_status(db, a.id, "acknowledged", actor=users["analyst"])
    service.set_alert_status(db, a.id, "acknowledged", actor=users["manager"])
    assert a.acknowledged_at is not None
    with pytest.raises(VersionConflict):
        service.set_alert_status(db, a.id, "closed", actor=users["manager"], version=1)
    service.set_alert_status(db, a.id, "closed", actor=users["manager"], note="called, fine")
    assert (a.status, a.close_note, a.closed_by_id) == (
        "closed",
        "called, fine",
        users["manager"].id,
    )
    with pytest.raises(Conflict):  # a closed alert is final: 409, the state conflicts
        service.set_alert_status(db, a.id, "open", actor=users["manager"])
    with pytest.raises(Conflict) as e:
        playbook_apply.apply_to_alert(db, a.id, actor=users["manager"])
    assert e.value.field == "alert_id"


def test_email_respects_consent_and_let_go_spends_nothing(db, users):
    _book(db, "small", control_share=0.0)
    _book(db, "bad")
    yes = make_customer(db, email="yes@example.com", consent_email=True)
    no = make_customer(db, email="no@example.com", consent_email=False)
    ca = playbook_apply.apply_to_alert(db, _alert(db, yes, "small").id, actor=users["manager"])
    cb = playbook_apply.apply_to_alert(db, _alert(db, no, "small").id, actor=users["manager"])
    assert (ca.action, ca.email_sent, ca.reached, ca.cost > 0) == ("email", True, True, True)
    assert (cb.email_sent, cb.cost, cb.note) == (False, 0, "no email consent or address")
    mails = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "retention_winback")).all()
    assert [m.recipient for m in mails] == ["yes@example.com"]
    bad = make_customer(db)
    alert = _alert(db, bad, "bad")
    case = playbook_apply.apply_to_alert(db, alert.id, actor=users["manager"])
    assert case.action == "let_go" and case.cost == 0 and alert.status == "closed"
    assert db.scalar(select(func.count()).select_from(RetentionTask)) == 0
    with pytest.raises(InvalidInput) as e:
        playbooks.update_playbook(db, case.playbook_id, {"cost": "3.00"}, actor=users["manager"])
    assert e.value.field == "cost"


def test_control_cases_get_nothing_and_are_closed_as_held_out(db, users):
    _book(db, "ordinary", control_share=0.5)
    owner = make_user(db, role="agent", email="o@example.com")
    arms = []
    for i in range(BLOCK):
        c = make_customer(db, owner_id=owner.id)
        case = playbook_apply.apply_to_alert(
            db, _alert(db, c, "ordinary", owner=owner, cause=f"c{i}").id, actor=users["manager"]
        )
        arms.append(case.arm)
        alert = db.get(RetentionAlert, case.alert_id)
        has_task = db.scalar(select(RetentionTask.id).where(RetentionTask.case_id == case.id))
        if case.arm == "control":
            assert alert.status == "closed" and alert.close_note.startswith("held out")
            assert has_task is None and case.cost == 0
        else:
            assert alert.status == "open" and has_task is not None
    assert arms.count("control") == BLOCK // 2
    seqs = sorted(db.scalars(select(RetentionCase.seq)))
    assert seqs == list(range(BLOCK))
    case = db.scalar(select(RetentionCase).where(RetentionCase.arm == "treated").limit(1))
    from retento.retention.outcomes import record_outcome, settle

    record_outcome(db, case.id, actor=users["manager"], offer_accepted=True, reached=True)
    assert case.offer_accepted is True
    assert settle(db, now=utcnow() + timedelta(days=61))["lost"] == BLOCK
