"""Auto-applied playbooks act in the worker (issue 15): an evaluation (the API, the
``retention_evaluate`` job, the event hooks) opens the cases and decides their arms, and queues
the treated cases' actions as one work item per batch; a worker carries them out once — a re-run
or a second runner of the same item sends no second e-mail, posts no second points and creates
no second task."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update

from retento.audit.models import AuditEntry
from retento.core.db import transaction
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyJournal
from retento.mail.models import OutboxMessage
from retento.retention import apply_jobs, playbook_apply, playbooks, service
from retento.retention.models import RetentionCase, RetentionTask
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories import make_customer, make_order, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.retention.helpers import make_run, run_queued_work

NOW = datetime.now(UTC)


def _books(db, manager) -> None:
    """No control groups: every case is treated (key: task, ordinary: offer, small: e-mail)."""
    service.get_config(db)
    for pb in playbooks.list_playbooks(db, actor=manager):
        if pb.reason == "*":
            playbooks.update_playbook(db, pb.id, {"control_share": 0.0}, actor=manager)


def _lapsed(db, owner, value: str, **over):
    c = make_customer(db, owner_id=owner.id, **over)
    for d in (200, 170, 140, 110):  # every 30 days, silent for 110 > 2 × 30
        make_order(db, c, ordered_at=NOW - timedelta(days=d))
    return c, value


def _population(db, users) -> dict[str, int]:
    """Three lapsed customers, one per acting class; their ids by action."""
    make_programme(db, point_value=Decimal("0.02"))
    _books(db, users["manager"])
    owner = make_user(db, role="agent", email="owner@example.com")
    made = [
        _lapsed(db, owner, "vip"),
        _lapsed(db, owner, "ordinary"),
        _lapsed(db, owner, "small", email="small@example.com", consent_email=True),
    ]
    ledger.wallet(db, made[1][0].id)
    make_run(db, {c.id: {"value_class": v} for c, v in made})
    return {"task": made[0][0].id, "offer": made[1][0].id, "email": made[2][0].id}


def _effects(session) -> tuple[int, int, int]:
    """(win-back e-mails, offer journals, tasks) of all cases."""
    emails = session.scalar(
        select(func.count()).where(
            OutboxMessage.kind == "retention_winback",
            OutboxMessage.related_type == "retention_case",
        )
    )
    journals = session.scalar(
        select(func.count()).where(LoyaltyJournal.idem_key.like("retention_case:%"))
    )
    tasks = session.scalar(select(func.count()).select_from(RetentionTask))
    return emails, journals, tasks


def _audits(session, action: str) -> list[dict]:
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "retention_case", AuditEntry.action == action)
    ).all()
    return [r.after for r in rows]


def test_the_evaluation_queues_the_actions_and_one_worker_run_does_them_once(
    db, users, session_factory
):
    ids = _population(db, users)
    rep = service.evaluate(db, rules=["rhythm"], now=NOW)
    assert (rep.created, rep.cases, rep.actions_queued) == (3, 3, 3)
    assert len(rep.work_item_ids) == 1  # one item for the evaluation, not one per case
    cases = db.scalars(select(RetentionCase).order_by(RetentionCase.id)).all()
    assert {c.customer_id: (c.arm, c.action, c.action_status) for c in cases} == {
        ids["task"]: ("treated", "task", "queued"),
        ids["offer"]: ("treated", "offer", "queued"),
        ids["email"]: ("treated", "email", "queued"),
    }
    # The evaluation returned without acting: no e-mail, no points, no task.
    assert _effects(db) == (0, 0, 0)
    assert ledger.get_wallet(db, ids["offer"]).balance == 0
    item = db.get(WorkItem, rep.work_item_ids[0])
    assert item.kind == apply_jobs.WORK_KIND and item.status == "queued"
    assert item.payload == {"case_ids": [c.id for c in cases], "actor_id": None}
    # The case's progress is its batch item's.
    assert apply_jobs.progress(db, cases[0]) == ("queued", 0.0)
    assert [a["created"] for a in _audits(db, "create")] == [3]  # one entry for the batch

    assert run_queued_work(db, session_factory) == 1
    assert _effects(db) == (1, 1, 2)  # the e-mail; the offer's points; the task and the offer's
    assert ledger.get_wallet(db, ids["offer"]).balance == 500
    assert {c.action_status for c in db.scalars(select(RetentionCase))} == {"done"}
    assert db.get(RetentionCase, cases[0].id).cost == Decimal("40.00")
    item = db.get(WorkItem, rep.work_item_ids[0])
    assert item.status == "done" and item.result == {"cases": 3, "ran": 3}
    done = _audits(db, "update")
    assert len(done) == 1 and done[0]["actions_done"] == 3  # one entry per group of cases

    # Run again (a reaped item re-queued after its runner committed): nothing twice.
    with transaction(session_factory) as s:
        s.execute(update(WorkItem).where(WorkItem.id == item.id).values(status="queued"))
    assert run_queued_work(db, session_factory) == 1
    assert db.get(WorkItem, item.id).result == {"cases": 3, "ran": 0}
    assert _effects(db) == (1, 1, 2) and ledger.get_wallet(db, ids["offer"]).balance == 500
    assert len(_audits(db, "update")) == 1
    # A second evaluation raises nothing new and queues nothing.
    again = service.evaluate(db, rules=["rhythm"], now=NOW + timedelta(hours=1))
    assert (again.created, again.actions_queued, again.work_item_ids) == (0, 0, [])
    assert run_queued_work(db, session_factory) == 0


def test_a_failing_action_is_marked_and_the_others_of_its_group_are_carried_out(
    db, users, session_factory, monkeypatch
):
    ids = _population(db, users)
    monkeypatch.setattr(apply_jobs, "ITEM_CASES", 2)  # items of 2 cases
    rep = service.evaluate(db, rules=["rhythm"], now=NOW)
    assert rep.actions_queued == 3 and len(rep.work_item_ids) == 2
    broken = db.scalar(select(RetentionCase.id).where(RetentionCase.customer_id == ids["offer"]))
    real = playbook_apply.carry_out_action

    def fail_one(session, case_id, **kwargs):
        if case_id == broken:
            raise RuntimeError("loyalty ledger unavailable")
        return real(session, case_id, **kwargs)

    monkeypatch.setattr(apply_jobs, "carry_out_action", fail_one)
    assert run_queued_work(db, session_factory) == 2
    status = dict(db.execute(select(RetentionCase.id, RetentionCase.action_status)).tuples().all())
    assert status.pop(broken) == "failed" and set(status.values()) == {"done"}
    assert "loyalty ledger unavailable" in db.get(RetentionCase, broken).action_error
    items = db.scalars(select(WorkItem).order_by(WorkItem.id)).all()
    failed = [i for i in items if i.status == "failed"]
    assert len(failed) == 1 and "1 of 2 win-back action(s) failed" in failed[0].error
    assert _effects(db) == (1, 0, 1)  # the e-mail and the key customer's task; no offer


def test_the_api_answers_before_the_actions_and_the_web_may_run_them_after(
    app, client, db, users, tokens
):
    ids = _population(db, users)
    db.commit()
    h = tokens["manager"]
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": False})
    r = client.post(
        "/api/v1/retention/evaluate",
        json={"rules": ["rhythm"], "customer_ids": [ids["task"]]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["cases"], body["actions_queued"]) == (1, 1, 1)
    (item_id,) = body["work_item_ids"]
    assert client.get(f"/api/v1/work/{item_id}", headers=h).json()["status"] == "queued"
    db.expire_all()
    assert _effects(db) == (0, 0, 0)

    # With RETENTO_RUN_WORK_IN_WEB the web process runs the item after the response.
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": True})
    r = client.post(
        "/api/v1/retention/evaluate",
        json={"rules": ["rhythm"], "customer_ids": [ids["email"]]},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["actions_queued"] == 1
    (second,) = r.json()["work_item_ids"]
    assert client.get(f"/api/v1/work/{second}", headers=h).json()["status"] == "done"
    assert client.get(f"/api/v1/work/{item_id}", headers=h).json()["status"] == "queued"
    db.expire_all()
    assert _effects(db) == (1, 0, 0)


def test_two_workers_running_one_evaluation_item_at_once_act_once(live_pg, monkeypatch):
    with live_pg.session() as s:
        users = {"manager": make_user(s, username="manager", role="manager")}
        ids = _population(s, users)
        rep = service.evaluate(s, rules=["rhythm"], now=NOW)
        (first,) = rep.work_item_ids
        cases = sorted(s.scalars(select(RetentionCase.id)).all())
        # A retry of the same batch racing the first runner.
        second = queue.enqueue(
            s, apply_jobs.WORK_KIND, {"case_ids": cases, "actor_id": None}, ref="retry"
        ).id
        s.commit()
    barrier = threading.Barrier(2, timeout=30)
    real = playbook_apply.carry_out_action
    started = threading.local()

    def both_at_once(*args, **kwargs):
        if not getattr(started, "yes", False):
            started.yes = True
            barrier.wait()  # both runners are inside the item before either locks a case
        return real(*args, **kwargs)

    monkeypatch.setattr(apply_jobs, "carry_out_action", both_at_once)
    runners = [queue.WorkRunner(live_pg.session_factory) for _ in range(2)]
    assert run_parallel(2, lambda i: runners[i].run_once()) == [1, 1]
    with live_pg.session() as s:
        items = s.scalars(select(WorkItem).where(WorkItem.id.in_([first, second]))).all()
        assert {i.status for i in items} == {"done"}
        assert sorted(i.result["ran"] for i in items) == [0, 3]
        assert {i.claimed_by for i in items} == {r.holder for r in runners}
        assert _effects(s) == (1, 1, 2)
        assert ledger.get_wallet(s, ids["offer"]).balance == 500
        assert {c.action_status for c in s.scalars(select(RetentionCase))} == {"done"}
