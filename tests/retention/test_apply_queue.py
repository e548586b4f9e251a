"""Applying a playbook runs its action in the worker (issue 15): the request opens the case (arm
decided under the playbook's lock) and queues the e-mail / offer / task; a worker carries it out
once — a retried, re-queued or raced item sends no second e-mail and posts no second points."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select, update

from retento.core.db import transaction, utcnow
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyJournal
from retento.mail.models import OutboxMessage
from retento.retention import apply_jobs, playbook_apply, playbooks, service
from retento.retention.models import RetentionAlert, RetentionCase, RetentionTask
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _alert(db, customer, *, value_class="ordinary", owner=None, cause="c1"):
    a = RetentionAlert(
        customer_id=customer.id,
        rule="rhythm",
        cause_key=cause,
        severity="medium",
        reason_code="rhythm",
        reason_params={"days": 90, "gap": 30},
        value_class=value_class,
        risk=0.7,
        owner_id=owner.id if owner else None,
        status="open",
        created_at=utcnow(),
    )
    db.add(a)
    db.flush()
    return a


def _book(db, manager, value_class, **over):
    service.get_config(db)
    pb = next(
        p
        for p in playbooks.list_playbooks(db, actor=manager)
        if p.value_class == value_class and p.reason == "*"
    )
    playbooks.update_playbook(db, pb.id, {"control_share": 0.0, **over}, actor=manager)
    return pb


def _effects(session, case_id: int, customer_id: int) -> tuple[int, int, int, int]:
    """(win-back e-mails, offer journals, tasks, wallet balance) of one case."""
    emails = session.scalar(
        select(func.count()).where(
            OutboxMessage.related_type == "retention_case", OutboxMessage.related_id == case_id
        )
    )
    journals = session.scalar(
        select(func.count()).where(LoyaltyJournal.idem_key.like(f"retention_case:{case_id}:%"))
    )
    tasks = session.scalar(select(func.count()).where(RetentionTask.case_id == case_id))
    wallet = ledger.get_wallet(session, customer_id)
    return emails, journals, tasks, wallet.balance if wallet else 0


def test_the_request_opens_the_case_and_the_worker_acts_with_progress_shown(
    app, client, db, users, tokens, session_factory
):
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": False})
    make_programme(db, point_value=Decimal("0.02"))
    _book(db, users["manager"], "ordinary")  # offer: 500 points and a call task
    member = make_customer(db, owner_id=users["agent"].id)
    ledger.wallet(db, member.id)
    alert = _alert(db, member, owner=users["agent"])
    db.commit()
    h = tokens["manager"]

    bad = client.post(
        f"/api/v1/retention/alerts/{alert.id}/apply", json={"playbook_id": 10**8}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["field"] == "playbook_id"
    assert db.scalar(select(func.count()).select_from(RetentionCase)) == 0
    assert db.scalar(select(func.count()).select_from(WorkItem)) == 0

    r = client.post(f"/api/v1/retention/alerts/{alert.id}/apply", json={}, headers=h)
    assert r.status_code == 202, r.text
    case = r.json()
    assert (case["arm"], case["action"], case["action_status"]) == ("treated", "offer", "queued")
    assert r.headers["Location"] == case["url"] == f"/api/v1/retention/cases/{case['id']}"
    # The response came before the action: no points, no task yet.
    assert _effects(db, case["id"], member.id) == (0, 0, 0, 0)
    polled = client.get(case["url"], headers=h).json()
    assert (polled["action_status"], polled["stage"], polled["progress"]) == (
        "queued",
        "queued",
        0.0,
    )

    web = Browser(client)
    web.login("manager")
    inbox = web.get("/retention/alerts").text
    assert f'id="case-action-{case["id"]}"' in inbox and "Carrying out the action" in inbox
    poll = web.get(f"/retention/cases/{case['id']}/action", headers={"HX-Request": "true"})
    assert 'value="0"' in poll.text and "hx-get" in poll.text

    assert queue.WorkRunner(session_factory).run_once() == 1
    done = client.get(case["url"], headers=h).json()
    assert (done["action_status"], done["progress"]) == ("done", 1.0)
    assert done["cost"] == "20.00"  # 10.00 for the call + 500 points worth 10.00
    assert _effects(db, case["id"], member.id) == (0, 1, 1, 500)
    poll = web.get(f"/retention/cases/{case['id']}/action", headers={"HX-Request": "true"})
    assert "hx-get" not in poll.text  # polling stops


def test_a_control_case_needs_no_worker(app, client, db, users, tokens):
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": False})
    _book(db, users["manager"], "ordinary", control_share=0.99)
    c = make_customer(db)
    alert = _alert(db, c)
    db.commit()
    r = client.post(
        f"/api/v1/retention/alerts/{alert.id}/apply", json={}, headers=tokens["manager"]
    )
    assert r.status_code == 202
    assert (r.json()["arm"], r.json()["action_status"]) == ("control", "done")
    assert db.scalar(select(func.count()).select_from(WorkItem)) == 0


def _queued_case(db, users, customer, **book) -> tuple[int, int]:
    alert = _alert(db, customer, value_class=book.pop("value_class", "ordinary"))
    case = playbook_apply.apply_to_alert(db, alert.id, actor=users["manager"], defer_action=True)
    item_id = apply_jobs.enqueue(db, case, users["manager"].id)
    db.commit()
    return case.id, item_id


def _stale(factory, item_id: int) -> None:
    with transaction(factory) as s:
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id)
            .values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )


def test_a_worker_killed_mid_run_or_after_its_commit_acts_once(db, users, session_factory):
    make_programme(db, point_value=Decimal("0.02"))
    _book(db, users["manager"], "ordinary")
    _book(db, users["manager"], "key", action="email")
    member = make_customer(db)
    ledger.wallet(db, member.id)
    db.commit()
    # 1. Killed inside its transaction (offer): nothing it wrote survived; the retry posts once.
    case_id, item_id = _queued_case(db, users, member)
    assert queue.claim_next(session_factory, "doomed-worker") == item_id
    s = session_factory()
    assert playbook_apply.carry_out_action(s, case_id) is True
    assert _effects(s, case_id, member.id) == (0, 1, 1, 500)
    s.rollback()  # the process died before committing
    s.close()
    _stale(session_factory, item_id)
    assert queue.reap_stale(session_factory, stale_seconds=60, max_attempts=3) == [item_id]
    assert queue.WorkRunner(session_factory).run_once() == 1
    db.expire_all()
    assert _effects(db, case_id, member.id) == (0, 1, 1, 500)
    assert db.get(RetentionCase, case_id).action_status == "done"

    # 2. Killed after committing (e-mail), before marking its item done: the re-run sends nothing.
    reader = make_customer(db, email="reader@example.com", consent_email=True)
    db.commit()
    case2, item2 = _queued_case(db, users, reader, value_class="key")
    assert queue.claim_next(session_factory, "doomed-worker") == item2
    ctx = queue.WorkContext(session_factory, item2, db.get(WorkItem, item2).payload)
    assert apply_jobs.run_queued(ctx)["ran"] is True
    _stale(session_factory, item2)
    assert queue.reap_stale(session_factory, stale_seconds=60, max_attempts=3) == [item2]
    assert queue.WorkRunner(session_factory).run_once() == 1
    db.expire_all()
    item = db.get(WorkItem, item2)
    assert item.status == "done" and item.result["ran"] is False and item.attempts == 2
    assert _effects(db, case2, reader.id)[:3] == (1, 0, 0)
    assert db.get(RetentionCase, case2).email_sent is True


def test_two_workers_acting_on_one_case_at_once_post_once(live_pg, monkeypatch):
    with live_pg.session() as s:
        manager = make_user(s, username="manager", role="manager")
        make_programme(s, point_value=Decimal("0.02"))
        _book(s, manager, "ordinary")
        member = make_customer(s, email="m@example.com", consent_email=True)
        ledger.wallet(s, member.id)
        s.commit()
        alert = _alert(s, member)
        case = playbook_apply.apply_to_alert(s, alert.id, actor=manager, defer_action=True)
        first = apply_jobs.enqueue(s, case, manager.id)
        second = apply_jobs.enqueue(s, case, manager.id)  # a retry racing the first runner
        s.commit()
        case_id, member_id = case.id, member.id
    barrier = threading.Barrier(2, timeout=30)
    real = playbook_apply.carry_out_action

    def both_at_once(*args, **kwargs):
        barrier.wait()  # both workers are inside the work before either locks the case
        return real(*args, **kwargs)

    monkeypatch.setattr(apply_jobs, "carry_out_action", both_at_once)
    runners = [queue.WorkRunner(live_pg.session_factory) for _ in range(2)]
    assert run_parallel(2, lambda i: runners[i].run_once()) == [1, 1]
    with live_pg.session() as s:
        items = s.scalars(select(WorkItem).where(WorkItem.id.in_([first, second]))).all()
        assert {i.status for i in items} == {"done"}
        assert sorted(i.result["ran"] for i in items) == [False, True]
        assert {i.claimed_by for i in items} == {r.holder for r in runners}
        assert _effects(s, case_id, member_id) == (0, 1, 1, 500)
        assert s.get(RetentionCase, case_id).cost == Decimal("20.00")
