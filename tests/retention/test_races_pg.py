"""PostgreSQL races in the churn warning and win-back domain: real commits, one TestClient per
thread, threads released together by a barrier; the invariants are checked in the database.

- a task completed and cancelled at once: one request wins, the others get 409, the case
  records the winner's result once and the uplift report counts it once;
- edits of one version (task, playbook, rule, settings): one 200, the others 409, nothing
  reverted;
- the evaluation job and the per-customer event hooks run at once: never two alerts for one
  cause, one case per customer;
- a playbook applied to one alert (or to two alerts of one customer) at once: one case, one
  queued action, one task;
- outcomes recorded at once (offer accepted, lost, came back by several orders): recorded once,
  revenue summed, the report's counts right;
- one alert acknowledged and closed at once, and while an order or the job changes it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.auth.service import issue_token
from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.customers.models import Customer
from retento.jobs import Scheduler, load_jobs, run_job
from retento.orders.models import Order
from retento.orders.schemas import OrderCreate
from retento.orders.service import create_order
from retento.retention import outcomes, playbook_apply, playbooks, service
from retento.retention.models import (
    RetentionAlert,
    RetentionCase,
    RetentionConfig,
    RetentionOpenCase,
    RetentionPlaybook,
    RetentionRule,
    RetentionTask,
)
from retento.retention.report import playbook_report
from retento.scoring.models import CustomerScore
from retento.web.conflict import STALE as STALE_ERRORS
from retento.work.models import WorkItem
from retento.work.queue import WorkRunner
from tests.factories import live_shared, make_customer, make_order, make_product, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import until_a_lock_is_awaited
from tests.retention.helpers import make_alert, make_run

# One database for the module, put back to its migrated state before each test.
live_pg_module, live_pg = live_shared.live_pg_module, live_shared.live_pg

N = 8
API = "/api/v1/retention"


# --------------------------------------------------------------------------- builders


def _alert(s, customer, *, owner=None, rule="rhythm", cause="c1", value_class="key"):
    owner_id = owner.id if owner else None
    return make_alert(
        s, customer.id, value_class=value_class, rule=rule, cause=cause, owner_id=owner_id
    )


def _key_book(s, manager, **over) -> RetentionPlaybook:
    """The key class's catch-all playbook, every case treated (no control group)."""
    service.get_config(s)
    pb = next(
        p
        for p in playbooks.list_playbooks(s, actor=manager)
        if p.value_class == "key" and p.reason == "*"
    )
    return playbooks.update_playbook(s, pb.id, {"control_share": 0.0, **over}, actor=manager)


def _headers(s, user, n: int = N) -> list[dict[str, str]]:
    """One bearer token per thread (a shared token row would queue the threads)."""
    out = []
    for i in range(n):
        _, plain = issue_token(s, user, name=f"t{i}", actor=None)
        out.append({"Authorization": f"Bearer {plain}"})
    return out


def _world(live_pg, *, action: str = "task", with_case: bool = True) -> dict:
    """A manager, an agent owning a key customer with one open alert; with ``with_case`` the
    playbook is applied (action carried out at once: the task exists)."""
    with live_pg.session() as s:
        manager = make_user(s, role="manager", email="boss@example.com")
        agent = make_user(s, role="agent", email="agent@example.com")
        pb = _key_book(s, manager, action=action, offer_points=0)
        customer = make_customer(s, owner_id=agent.id)
        alert = _alert(s, customer, owner=agent)
        out = {
            "manager_id": manager.id,
            "agent_id": agent.id,
            "playbook_id": pb.id,
            "customer_id": customer.id,
            "alert_id": alert.id,
            "headers": _headers(s, manager),
        }
        if with_case:
            case = playbook_apply.apply_to_alert(s, alert.id, actor=manager)
            task = s.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
            out.update(case_id=case.id, task_id=task.id, task_version=task.version)
        s.commit()
    return out


def _no_errors(results) -> None:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[0]


def _codes(responses) -> Counter:
    _no_errors(responses)
    bad = [r for r in responses if r.status_code >= 500]
    assert not bad, bad[0].text
    return Counter(r.status_code for r in responses)


def _call(live_pg, method: str, url: str, headers, body):
    def call(i: int):
        with live_pg.client() as client:
            return client.request(method, url, json=body(i), headers=headers[i])

    return call


def _audits(s, entity: str, entity_id: int, action: str = "update") -> int:
    return int(
        s.scalar(
            select(func.count()).where(
                AuditEntry.entity == entity,
                AuditEntry.entity_id == str(entity_id),
                AuditEntry.action == action,
            )
        )
    )


# --------------------------------------------------------------------------- tasks


def test_parallel_completions_and_cancels_of_one_task_record_one_result(live_pg):
    w = _world(live_pg, action="offer")
    url = f"{API}/tasks/{w['task_id']}/status"

    def body(i: int) -> dict:
        if i % 2:
            return {"status": "cancelled", "note": f"n{i}"}
        return {"status": "done", "result": "offer_accepted", "note": f"n{i}"}

    responses = run_parallel(N, _call(live_pg, "POST", url, w["headers"], body))
    codes = _codes(responses)
    assert codes == {200: 1, 409: N - 1}, codes
    winner = next(r.json() for r in responses if r.status_code == 200)
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "conflict" and "cannot become" in r.json()["detail"]
    with live_pg.session() as s:
        task = s.get(RetentionTask, w["task_id"])
        case = s.get(RetentionCase, w["case_id"])
        assert task.status == winner["status"] and task.note == winner["note"]
        assert task.version == w["task_version"] + 1
        assert _audits(s, "retention_task", task.id) == 1
        if task.status == "done":
            assert (case.reached, case.offer_accepted) == (True, True)
            assert _audits(s, "retention_case", case.id) == 1
        else:
            assert (case.reached, case.offer_accepted) == (None, None)
        pb = s.get(RetentionPlaybook, w["playbook_id"])
        rep = playbook_report(s, pb, now=case.window_ends_at + timedelta(days=1))
        done = task.status == "done"
        assert (rep["n_treated"], rep["reached"], rep["offers_accepted"]) == (1, done, done)


def test_parallel_completions_with_one_version_one_wins(live_pg):
    w = _world(live_pg)
    url = f"{API}/tasks/{w['task_id']}/status"
    v = w["task_version"]
    results = ("reached", "not_reached", "declined", "offer_accepted")

    def body(i: int) -> dict:
        return {"status": "done", "result": results[i % 4], "version": v}

    responses = run_parallel(N, _call(live_pg, "POST", url, w["headers"], body))
    assert _codes(responses) == {200: 1, 409: N - 1}
    winner = next(r.json() for r in responses if r.status_code == 200)
    with live_pg.session() as s:
        task = s.get(RetentionTask, w["task_id"])
        case = s.get(RetentionCase, w["case_id"])
        assert (task.status, task.result, task.version) == ("done", winner["result"], v + 1)
        assert case.reached is (winner["result"] != "not_reached")
        assert case.offer_accepted is None  # a task playbook: no offer to accept
        assert _audits(s, "retention_case", case.id) == 1


def test_completion_racing_an_outcome_on_its_case_loses_nothing(live_pg):
    """The task's result and the owner's note written on the case at once: both are kept (the
    completion locks the case, so it neither fails on the case's version nor reverts it)."""
    w = _world(live_pg, action="offer")
    task_url = f"{API}/tasks/{w['task_id']}/status"
    case_url = f"{API}/cases/{w['case_id']}/outcome"

    for round_ in range(4):  # a narrow window: a few rounds make it show without the lock

        def call(i: int, round_: int = round_):
            with live_pg.client() as client:
                if i == 0:
                    body = {"status": "done", "result": "offer_accepted"}
                    return client.post(task_url, json=body, headers=w["headers"][i])
                body = {"note": f"note {round_}"}
                return client.post(case_url, json=body, headers=w["headers"][i])

        responses = run_parallel(2, call)
        assert _codes(responses) == {200: 2}, [r.text for r in responses]
        with live_pg.session() as s:
            case = s.get(RetentionCase, w["case_id"])
            assert (case.reached, case.offer_accepted) == (True, True)
            assert case.note == f"note {round_}"
            assert s.get(RetentionTask, w["task_id"]).status == "done"
        with live_pg.client() as client:  # reopened for the next round
            r = client.post(task_url, json={"status": "open"}, headers=w["headers"][0])
            assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- versioned edits


def _edit_world(live_pg) -> dict:
    w = _world(live_pg)
    with live_pg.session() as s:
        w["rule_version"] = s.scalar(
            select(RetentionRule.version).where(RetentionRule.code == "rhythm")
        )
        w["pb_version"] = s.get(RetentionPlaybook, w["playbook_id"]).version
    return w


EDITS = {
    "task": (
        lambda w: f"{API}/tasks/{w['task_id']}",
        lambda w, i: {"note": f"note {i}", "version": w["task_version"]},
        lambda s, w: (s.get(RetentionTask, w["task_id"]).note, "note"),
    ),
    "playbook": (
        lambda w: f"{API}/playbooks/{w['playbook_id']}",
        lambda w, i: {"due_days": 10 + i, "version": w["pb_version"]},
        lambda s, w: (s.get(RetentionPlaybook, w["playbook_id"]).due_days, "due_days"),
    ),
    "rule": (
        lambda w: f"{API}/rules/rhythm",
        lambda w, i: {"window_days": 100 + i, "version": w["rule_version"]},
        lambda s, w: (
            s.scalar(select(RetentionRule.window_days).where(RetentionRule.code == "rhythm")),
            "window_days",
        ),
    ),
    "config": (
        lambda w: f"{API}/config",
        # auto_apply changes in every request (an edit that changes nothing keeps the version).
        lambda w, i: {"auto_apply": False, "notify_owner": bool(i % 2), "version": 1},
        lambda s, w: (s.scalar(select(RetentionConfig.notify_owner)), "notify_owner"),
    ),
}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_parallel_edits_of_one_version_one_wins(live_pg, what):
    url_of, body_of, stored = EDITS[what]
    w = _edit_world(live_pg)
    responses = run_parallel(
        N, _call(live_pg, "PATCH", url_of(w), w["headers"], lambda i: body_of(w, i))
    )
    assert _codes(responses) == {200: 1, 409: N - 1}
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "version_conflict"
    winner = next(r.json() for r in responses if r.status_code == 200)
    with live_pg.session() as s:
        value, key = stored(s, w)
        assert value == winner[key]  # the winner's write, not reverted by a loser


# --------------------------------------------------------------------------- evaluation


def _lapsed_customers(live_pg, n: int) -> list[int]:
    now = datetime.now(UTC)
    with live_pg.session() as s:
        owner = make_user(s, role="agent", email="owner@example.com")
        ids, scores = [], {}
        for i in range(n):
            c = make_customer(s, owner_id=owner.id)
            for d in (200, 170, 140, 110):  # every 30 days, silent for 110 > 2 × 30
                make_order(s, c, ordered_at=now - timedelta(days=d))
            ids.append(c.id)
            scores[c.id] = {"value_class": "vip" if i % 2 else "ordinary", "churn_risk": 0.95}
        make_run(s, scores)
        s.commit()
    return ids


def test_parallel_evaluation_jobs_and_hooks_raise_each_cause_once(live_pg):
    """The scheduled job (as ``retento`` runs it, its own transaction) in several threads, and
    the event hooks' one-customer evaluations at the same time."""
    ids = _lapsed_customers(live_pg, 6)

    def run(i: int):
        if i % 2 == 0:
            return run_job(live_pg.session_factory, "retention_evaluate")["created"]
        with live_pg.session() as s:
            created = service.evaluate(s, customer_ids=[ids[i % len(ids)]]).created
            s.commit()
            return created

    results = run_parallel(N, run)
    _no_errors(results)
    with live_pg.session() as s:
        alerts = s.scalars(select(RetentionAlert)).all()
        causes = Counter((a.customer_id, a.rule, a.cause_key) for a in alerts)
        assert max(causes.values()) == 1
        assert len(alerts) == 2 * len(ids) == sum(results)
        cases = s.scalars(select(RetentionCase)).all()
        assert sorted(c.customer_id for c in cases) == sorted(ids)  # one case per customer
        open_rows = dict(
            s.execute(select(RetentionOpenCase.customer_id, RetentionOpenCase.case_id)).all()
        )
        assert open_rows == {c.customer_id: c.id for c in cases}
    again = run_parallel(3, lambda i: run_job(live_pg.session_factory, "retention_evaluate"))
    _no_errors(again)
    assert [r["created"] for r in again] == [0, 0, 0]


def test_parallel_schedulers_run_the_evaluation_once_per_tick(live_pg):
    """Several processes' schedulers due at the same tick: the lease gives the job to one."""
    ids = _lapsed_customers(live_pg, 4)
    jobs = {"retention_evaluate": load_jobs()["retention_evaluate"]}
    schedulers = [
        Scheduler(live_pg.session_factory, jobs=jobs, holder=f"proc-{i}") for i in range(4)
    ]
    ran = run_parallel(4, lambda i: schedulers[i].run_due())
    _no_errors(ran)
    assert sorted(ran) == [[], [], [], ["retention_evaluate"]]
    with live_pg.session() as s:
        alerts = s.scalars(select(RetentionAlert)).all()
        assert len(alerts) == 2 * len(ids)
        assert len({(a.customer_id, a.rule, a.cause_key) for a in alerts}) == len(alerts)


def _manual_and_job(live_pg):
    """Lapsed key customers B then A (the evaluation does B first), a key playbook with no
    control group, an open alert for A to apply it to by hand."""
    b_id, a_id = _lapsed_customers(live_pg, 2)
    with live_pg.session() as s:
        s.execute(CustomerScore.__table__.update().values(value_class="vip"))  # both key
        manager = make_user(s, role="manager")
        pb = _key_book(s, manager)
        a_alert = _alert(s, s.get(Customer, a_id))
        out = {"a": a_id, "b": b_id, "manager": manager.id, "pb": pb.id, "alert": a_alert.id}
        s.commit()
    return out


def _stratum_seqs(live_pg, pb_id: int) -> list[int]:
    with live_pg.session() as s:
        return sorted(
            s.scalars(select(RetentionCase.seq).where(RetentionCase.playbook_id == pb_id))
        )


def test_manual_apply_racing_the_evaluation_does_not_deadlock(live_pg, monkeypatch):
    """A manager applies a playbook to customer A's alert while the evaluation opens cases for
    B then A under the same playbook. The request claims A's open-case row and waits until the
    evaluation has numbered B's case; the evaluation then waits on A's row. When both took the
    playbook's row lock (in opposite orders at first) this deadlocked; now neither locks the
    playbook for writing, numbers come from ``reserve_seq``, and both finish."""
    w = _manual_and_job(live_pg)
    manual_claimed, job_numbered = threading.Event(), threading.Event()
    real_claim, real_reserve = playbook_apply.claim_open_case, playbook_apply.reserve_seq
    role = threading.local()

    def claim(session, customer_id, now):
        got = real_claim(session, customer_id, now)
        if getattr(role, "name", None) == "manual":
            manual_claimed.set()
            assert job_numbered.wait(10)
        return got

    def reserve(session, playbook_id, value_class):
        seq = real_reserve(session, playbook_id, value_class)
        if getattr(role, "name", None) == "job":
            job_numbered.set()
        return seq

    monkeypatch.setattr(playbook_apply, "claim_open_case", claim)
    monkeypatch.setattr(playbook_apply, "reserve_seq", reserve)

    def run(i: int):
        with live_pg.session() as s:
            if i == 0:
                role.name = "manual"
                case = playbook_apply.apply_to_alert(s, w["alert"], actor=s.get(User, w["manager"]))
                s.commit()
                return case.id
            role.name = "job"
            assert manual_claimed.wait(10)
            rep = service.evaluate(s, customer_ids=[w["b"], w["a"]])
            s.commit()
            return rep.cases

    manual_case, job_cases = run_parallel(2, run)
    _no_errors([manual_case, job_cases])
    with live_pg.session() as s:
        cases = s.scalars(select(RetentionCase)).all()
        assert sorted(c.customer_id for c in cases) == sorted([w["a"], w["b"]])
        assert {c.id for c in cases if c.customer_id == w["a"]} == {manual_case}
        assert job_cases == 1
    assert _stratum_seqs(live_pg, w["pb"]) == [0, 1]


def test_manual_apply_does_not_wait_for_an_evaluation_under_the_same_playbook(live_pg):
    """The evaluation has opened B's case under the key playbook and not committed yet (it was
    measured holding the playbook's row lock for ~10 s with 1,500 cases). A manager applying
    the same playbook to A's alert meanwhile is served at once: the request commits first."""
    w = _manual_and_job(live_pg)
    opened, manual_done = threading.Event(), threading.Event()
    commits: list[str] = []

    def run(i: int):
        with live_pg.session() as s:
            if i == 0:
                rep = service.evaluate(s, customer_ids=[w["b"]])
                opened.set()
                manual_done.wait(15)  # before the fix: the request waits for this commit
                s.commit()
                commits.append("job")
                return rep.cases
            assert opened.wait(10)
            case = playbook_apply.apply_to_alert(s, w["alert"], actor=s.get(User, w["manager"]))
            s.commit()
            commits.append("manual")
            manual_done.set()
            return case.id

    job_cases, manual_case = run_parallel(2, run)
    _no_errors([job_cases, manual_case])
    assert commits == ["manual", "job"]
    assert job_cases == 1
    assert _stratum_seqs(live_pg, w["pb"]) == [0, 1]


def test_playbook_deleted_while_a_case_is_opened_under_it_is_refused(live_pg):
    """Deleting a playbook with no cases yet while a request opens the first one: the delete
    waits for the request (its key-share lock), then sees the case and answers 409; before, it
    could pass its count and fail on the foreign key."""
    w = _manual_and_job(live_pg)
    applied, deleted = threading.Event(), threading.Event()

    def run(i: int):
        with live_pg.session() as s:
            manager = s.get(User, w["manager"])
            if i == 0:
                case = playbook_apply.apply_to_alert(s, w["alert"], actor=manager)
                applied.set()
                # Until the delete waits for this transaction (or is done without waiting).
                until_a_lock_is_awaited(live_pg, deleted)
                s.commit()
                return case.id
            assert applied.wait(10)
            try:
                playbooks.delete_playbook(s, w["pb"], actor=manager)
                s.commit()
                return "deleted"
            except Conflict as exc:
                return exc.field
            finally:
                deleted.set()

    case_id, refused = run_parallel(2, run)
    assert isinstance(case_id, int), case_id
    assert refused == "playbook_id"
    with live_pg.session() as s:
        assert s.get(RetentionPlaybook, w["pb"]) is not None
        assert s.get(RetentionCase, case_id).playbook_id == w["pb"]


# --------------------------------------------------------------------------- applying playbooks


def test_parallel_applies_to_one_alert_open_one_case_and_one_task(live_pg):
    w = _world(live_pg, with_case=False)
    url = f"{API}/alerts/{w['alert_id']}/apply"
    responses = run_parallel(N, _call(live_pg, "POST", url, w["headers"], lambda i: {}))
    assert _codes(responses) == {202: 1, 409: N - 1}
    case_id = next(r.json()["id"] for r in responses if r.status_code == 202)
    with live_pg.session() as s:
        cases = s.scalars(select(RetentionCase)).all()
        assert [c.id for c in cases] == [case_id]
        assert s.get(RetentionOpenCase, w["customer_id"]).case_id == case_id
        assert s.scalar(select(func.count()).select_from(WorkItem)) == 1
        assert [c.seq for c in cases] == [0]
    runners = [WorkRunner(live_pg.session_factory) for _ in range(2)]
    _no_errors(run_parallel(2, lambda i: runners[i].run_once()))
    with live_pg.session() as s:
        tasks = s.scalars(select(RetentionTask)).all()
        assert [t.case_id for t in tasks] == [case_id]
        assert s.get(RetentionCase, case_id).action_status == "done"


def test_parallel_applies_to_two_alerts_of_one_customer_open_one_case(live_pg):
    w = _world(live_pg, with_case=False)
    with live_pg.session() as s:
        other = _alert(s, s.get(Customer, w["customer_id"]), cause="c2").id
        s.commit()
    alerts = [w["alert_id"], other]

    def call(i: int):
        with live_pg.client() as client:
            return client.post(
                f"{API}/alerts/{alerts[i % 2]}/apply", json={}, headers=w["headers"][i]
            )

    responses = run_parallel(N, call)
    assert _codes(responses) == {202: 1, 409: N - 1}
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(RetentionCase)) == 1
        assert s.scalar(select(func.count()).select_from(WorkItem)) == 1


def test_apply_racing_a_close_of_the_alert(live_pg):
    """Applying a playbook while someone closes the alert: applied first (one case, the alert
    then closed) or closed first (the apply refused with 409, no case); never a 500."""
    w = _world(live_pg, with_case=False)

    def call(i: int):
        with live_pg.client() as client:
            if i % 2:
                url = f"{API}/alerts/{w['alert_id']}/status"
                return client.post(url, json={"status": "closed"}, headers=w["headers"][i])
            url = f"{API}/alerts/{w['alert_id']}/apply"
            return client.post(url, json={}, headers=w["headers"][i])

    responses = run_parallel(N, call)
    codes = _codes(responses)
    applies = Counter(r.status_code for r in responses[0::2])
    closes = Counter(r.status_code for r in responses[1::2])
    assert closes == {200: N // 2}, closes
    assert set(applies) <= {202, 409} and applies[202] <= 1, codes
    with live_pg.session() as s:
        n_cases = s.scalar(select(func.count()).select_from(RetentionCase))
        assert n_cases == applies[202]
        assert s.get(RetentionAlert, w["alert_id"]).status == "closed"
        assert s.scalar(select(func.count()).select_from(WorkItem)) == n_cases
    for r in responses[0::2]:
        if r.status_code == 409:
            assert r.json()["field"] == "alert_id"


# --------------------------------------------------------------------------- outcomes


def test_parallel_offer_accepted_with_one_version_recorded_once(live_pg):
    w = _world(live_pg, action="offer")
    with live_pg.session() as s:
        v = s.get(RetentionCase, w["case_id"]).version
    url = f"{API}/cases/{w['case_id']}/outcome"
    responses = run_parallel(
        N,
        _call(
            live_pg,
            "POST",
            url,
            w["headers"],
            lambda i: {"reached": True, "offer_accepted": bool(i % 2), "version": v},
        ),
    )
    assert _codes(responses) == {200: 1, 409: N - 1}
    winner = next(r.json() for r in responses if r.status_code == 200)
    with live_pg.session() as s:
        case = s.get(RetentionCase, w["case_id"])
        assert (case.offer_accepted, case.version) == (winner["offer_accepted"], v + 1)
        assert _audits(s, "retention_case", case.id) == 1


def test_parallel_lost_recorded_once_and_counted_once(live_pg):
    w = _world(live_pg)
    url = f"{API}/cases/{w['case_id']}/outcome"
    responses = run_parallel(N, _call(live_pg, "POST", url, w["headers"], lambda i: {"lost": True}))
    assert _codes(responses) == {200: N}
    with live_pg.session() as s:
        case = s.get(RetentionCase, w["case_id"])
        assert case.outcome == "lost"
        assert s.get(RetentionOpenCase, w["customer_id"]) is None
        # Marking a lost case lost again changes nothing, so it is not written again.
        assert _audits(s, "retention_case", case.id) == 1
        rep = playbook_report(s, s.get(RetentionPlaybook, w["playbook_id"]))
        assert (rep["settled"], rep["n_treated"]) == (1, 1)


def test_parallel_orders_bring_the_customer_back_once(live_pg):
    """Several orders at once (the order.created hook): came back once, at the first order,
    with every order's revenue; the lapse alert closed; nothing fails."""

    w = _world(live_pg)
    with live_pg.session() as s:
        product_id = make_product(s, unit_price=Decimal("25.00")).id
        s.commit()
    start = utcnow()

    def order(i: int) -> int:
        with live_pg.session() as s:
            data = OrderCreate(
                customer_id=w["customer_id"],
                ordered_at=start + timedelta(minutes=i + 1),
                lines=[{"product_id": product_id, "quantity": 1 + i}],
            )
            o = create_order(s, data, actor=s.get(User, w["manager_id"]))
            s.commit()
            return o.id

    results = run_parallel(N, order)
    _no_errors(results)
    with live_pg.session() as s:
        case = s.get(RetentionCase, w["case_id"])
        revenue = s.scalar(select(func.sum(Order.revenue)).where(Order.id.in_(results)))
        assert case.outcome == "came_back"
        assert case.came_back_at == start + timedelta(minutes=1)
        assert case.revenue == revenue == Decimal("25.00") * sum(range(1, N + 1))
        assert s.get(RetentionOpenCase, w["customer_id"]) is None
        assert s.get(RetentionAlert, w["alert_id"]).status == "closed"
        pb = s.get(RetentionPlaybook, w["playbook_id"])
        rep = playbook_report(s, pb, now=case.window_ends_at + timedelta(days=1))
        assert (rep["settled"], rep["n_treated"]) == (1, 1)
    # The settling job finds nothing left to do, however often it runs.
    later = case.window_ends_at + timedelta(days=1)

    def settle(i: int):
        with live_pg.session() as s:
            out = outcomes.settle(s, now=later)
            s.commit()
            return out

    settled = run_parallel(3, settle)
    _no_errors(settled)
    assert settled == [{"came_back": 0, "lost": 0}] * 3


def test_lost_racing_orders_is_one_or_the_other(live_pg):
    """The owner marks a case lost while the customer's orders come in: either the case came
    back (every order's revenue, every "lost" refused with 409) or it was lost first (no
    revenue, the orders count for nothing on it); never both, never a 500."""

    w = _world(live_pg)
    with live_pg.session() as s:
        product_id = make_product(s, unit_price=Decimal("25.00")).id
        s.commit()
    url = f"{API}/cases/{w['case_id']}/outcome"

    def run(i: int):
        if i % 2:
            with live_pg.client() as client:
                return client.post(url, json={"lost": True}, headers=w["headers"][i])
        with live_pg.session() as s:
            data = OrderCreate(
                customer_id=w["customer_id"],
                ordered_at=utcnow(),
                lines=[{"product_id": product_id, "quantity": 1}],
            )
            o = create_order(s, data, actor=s.get(User, w["manager_id"]))
            s.commit()
            return o.id

    results = run_parallel(N, run)
    _no_errors(results)
    lost = Counter(r.status_code for r in results[1::2])
    with live_pg.session() as s:
        case = s.get(RetentionCase, w["case_id"])
        assert s.get(RetentionOpenCase, w["customer_id"]) is None
        if case.outcome == "lost":
            assert lost == {200: N // 2} and case.revenue == 0
        else:
            assert case.outcome == "came_back"
            assert lost == {409: N // 2}, lost
            assert case.revenue == Decimal("25.00") * (N // 2)
            detail = next(r.json() for r in results[1::2])
            assert detail["code"] == "conflict" and "came back" in detail["detail"]


def test_parallel_settling_jobs_settle_each_case_once(live_pg):
    w = _world(live_pg)
    with live_pg.session() as s:
        ends = s.get(RetentionCase, w["case_id"]).window_ends_at
    later = ends + timedelta(days=1)

    def settle(i: int):
        with live_pg.session() as s:
            out = outcomes.settle(s, now=later)
            s.commit()
            return out

    results = run_parallel(4, settle)
    _no_errors(results)
    assert sum(r["lost"] for r in results) == 1
    assert sum(r["came_back"] for r in results) == 0
    with live_pg.session() as s:
        assert s.get(RetentionCase, w["case_id"]).outcome == "lost"
        assert s.get(RetentionOpenCase, w["customer_id"]) is None


# --------------------------------------------------------------------------- alerts


def test_parallel_acknowledge_and_close_of_one_alert(live_pg):
    w = _world(live_pg, with_case=False)
    url = f"{API}/alerts/{w['alert_id']}/status"

    def body(i: int) -> dict:
        return {"status": "closed", "note": f"n{i}"} if i % 2 else {"status": "acknowledged"}

    responses = run_parallel(N, _call(live_pg, "POST", url, w["headers"], body))
    codes = _codes(responses)
    # Acknowledging an acknowledged alert and closing a closed one change nothing (200);
    # acknowledging an alert someone has just closed is refused (409).
    assert set(codes) <= {200, 409}, codes
    assert codes[200] >= 1
    with live_pg.session() as s:
        alert = s.get(RetentionAlert, w["alert_id"])
        assert alert.status == "closed"
        closes = [r for r in responses if r.status_code == 200 and r.json()["status"] == "closed"]
        assert alert.close_note in {r.json()["close_note"] for r in closes}
        # Written at most twice: acknowledged once, closed once.
        writes = _audits(s, "retention_alert", alert.id)
        assert writes == alert.version - 1 <= 2
    for r in responses:
        if r.status_code == 409:
            assert "cannot become" in r.json()["detail"]


def test_parallel_alert_changes_with_one_version_one_wins(live_pg):
    w = _world(live_pg, with_case=False)
    url = f"{API}/alerts/{w['alert_id']}/status"

    def body(i: int) -> dict:
        status = "closed" if i % 2 else "acknowledged"
        return {"status": status, "version": 1}

    responses = run_parallel(N, _call(live_pg, "POST", url, w["headers"], body))
    assert _codes(responses) == {200: 1, 409: N - 1}
    winner = next(r.json() for r in responses if r.status_code == 200)
    with live_pg.session() as s:
        alert = s.get(RetentionAlert, w["alert_id"])
        assert (alert.status, alert.version) == (winner["status"], 2)


def _two_alerts(live_pg) -> tuple[int, list[int]]:
    """A manager and two open alerts of two of their customers."""
    with live_pg.session() as s:
        manager = make_user(s, role="manager")
        ids = [_alert(s, make_customer(s, owner_id=manager.id), owner=manager).id for _ in (1, 2)]
        s.commit()
        return manager.id, ids


def _bulk(live_pg, manager_id: int, items, status: str = "closed", note: str | None = None):
    with live_pg.session() as s:
        done = service.set_alerts_status(s, items, status, actor=s.get(User, manager_id), note=note)
        s.commit()
        return [a.id for a in done]


def test_bulk_closes_ticking_alerts_in_opposite_orders_do_not_deadlock(live_pg, monkeypatch):
    """Two managers close the same two alerts at once, one ticked them as (a, b), the other as
    (b, a): both lock a first, so the second waits for the first instead of each holding one
    lock and waiting for the other (PostgreSQL would end one with a deadlock error). A pause
    after each alert makes the crossing certain if the order were kept."""
    manager_id, (a, b) = _two_alerts(live_pg)
    change = service.set_alert_status

    def slow(*args, **kw):
        out = change(*args, **kw)
        time.sleep(0.4)
        return out

    monkeypatch.setattr(service, "set_alert_status", slow)
    orders = ([(a, None), (b, None)], [(b, None), (a, None)])
    results = run_parallel(2, lambda i: _bulk(live_pg, manager_id, orders[i], note=f"n{i}"))
    _no_errors(results)
    with live_pg.session() as s:
        for alert_id in (a, b):
            alert = s.get(RetentionAlert, alert_id)
            # closed once (the second close of a closed alert changes nothing)
            assert (alert.status, alert.version) == ("closed", 2)
            assert _audits(s, "retention_alert", alert_id) == 1
        # one note on both: the bulk change that came first wrote both
        assert s.get(RetentionAlert, a).close_note == s.get(RetentionAlert, b).close_note


def test_bulk_close_racing_a_one_alert_change_is_all_or_nothing(live_pg):
    """A bulk close of (a, b) as seen at version 1 while someone acknowledges b: either the bulk
    change wins and both are closed, or the acknowledgement wins and the bulk change leaves a
    open as well (never a closed and b acknowledged by the bulk change's half)."""
    seen = Counter()
    for _ in range(4):
        manager_id, (a, b) = _two_alerts(live_pg)

        def run(i: int, a=a, b=b, manager_id=manager_id):
            if i == 0:
                return _bulk(live_pg, manager_id, [(a, 1), (b, 1)])
            return _bulk(live_pg, manager_id, [(b, 1)], status="acknowledged")

        results = run_parallel(2, run)
        with live_pg.session() as s:
            states = (s.get(RetentionAlert, a).status, s.get(RetentionAlert, b).status)
        if isinstance(results[0], BaseException):
            assert isinstance(results[0], STALE_ERRORS), results[0]
            assert results[1] == [b]
            assert states == ("open", "acknowledged")
            seen["one first"] += 1
        else:
            assert results[0] == [a, b] and isinstance(results[1], STALE_ERRORS), results[1]
            assert states == ("closed", "closed")
            seen["bulk first"] += 1
    assert sum(seen.values()) == 4, seen


def test_acknowledging_while_an_order_closes_the_alert(live_pg):
    """An order closes the customer's lapse alert while its owner acknowledges it: the order and
    its came-back case are recorded whichever commits first (the order path locks the alert)."""

    w = _world(live_pg)
    with live_pg.session() as s:
        product_id = make_product(s).id
        s.commit()
    url = f"{API}/alerts/{w['alert_id']}/status"

    def run(i: int):
        if i == 0:
            with live_pg.client() as client:
                return client.post(url, json={"status": "acknowledged"}, headers=w["headers"][0])
        with live_pg.session() as s:
            data = OrderCreate(
                customer_id=w["customer_id"],
                ordered_at=utcnow(),
                lines=[{"product_id": product_id, "quantity": 1}],
            )
            o = create_order(s, data, actor=s.get(User, w["manager_id"]))
            s.commit()
            return o.id

    for _ in range(3):
        ack, order_id = run_parallel(2, run)
        _no_errors([ack, order_id])
        assert ack.status_code in (200, 409), ack.text
        with live_pg.session() as s:
            case = s.get(RetentionCase, w["case_id"])
            # The hook ran (not rolled back to its savepoint by a version conflict).
            assert case.outcome == "came_back"
            revenue = s.scalar(
                select(func.sum(Order.revenue)).where(
                    Order.customer_id == w["customer_id"], Order.ordered_at >= case.assigned_at
                )
            )
            assert case.revenue == revenue
            assert s.get(RetentionAlert, w["alert_id"]).status == "closed"
            s.execute(
                RetentionAlert.__table__.update().values(status="open", closed_at=None)
            )  # again
            s.commit()


def test_order_racing_the_owner_completing_the_task_ends_in_one_state(live_pg):
    """An order comes in while the owner marks the case's task done: either the owner won (the
    task done with their result, the case reached, then came back) or the order did (the task
    closed as "the customer came back", the owner's request a 409 naming the state); never both,
    never still open, never a deadlock or a 500; the revenue and the audit entries once."""
    w = _world(live_pg)
    with live_pg.session() as s:
        product_id = make_product(s, unit_price=Decimal("25.00")).id
        s.commit()
    seen = Counter()
    for round_ in range(6):  # a narrow window: several rounds to see both orders of arrival
        with live_pg.session() as s:
            manager, agent = s.get(User, w["manager_id"]), s.get(User, w["agent_id"])
            customer = make_customer(s, owner_id=agent.id)
            alert = _alert(s, customer, owner=agent, cause=f"r{round_}")
            case = playbook_apply.apply_to_alert(s, alert.id, actor=manager)
            task = s.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
            ids = (customer.id, case.id, task.id)
            s.commit()
        customer_id, case_id, task_id = ids

        def run(i: int, task_id: int = task_id, customer_id: int = customer_id):
            if i == 0:
                with live_pg.client() as client:
                    body = {"status": "done", "result": "reached", "note": "spoke to them"}
                    return client.post(
                        f"{API}/tasks/{task_id}/status", json=body, headers=w["headers"][0]
                    )
            with live_pg.session() as s:
                data = OrderCreate(
                    customer_id=customer_id,
                    ordered_at=utcnow(),
                    lines=[{"product_id": product_id, "quantity": 1}],
                )
                o = create_order(s, data, actor=s.get(User, w["manager_id"]))
                s.commit()
                return o.id

        results = run_parallel(2, run)
        _no_errors(results)
        owner = results[0]
        assert owner.status_code in (200, 409), owner.text
        with live_pg.session() as s:
            task = s.get(RetentionTask, task_id)
            case = s.get(RetentionCase, case_id)
            assert case.outcome == "came_back" and case.revenue == Decimal("25.00")
            assert s.get(RetentionOpenCase, customer_id) is None
            assert _audits(s, "retention_task", task_id) == 1
            if owner.status_code == 200:
                assert (task.status, task.result, task.note) == ("done", "reached", "spoke to them")
                assert case.reached is True
                seen["owner first"] += 1
            else:
                assert owner.json()["code"] == "conflict" and "cancelled" in owner.json()["detail"]
                assert task.status == "cancelled" and task.result is None
                assert task.note == "Closed automatically: the customer came back (ordered again)."
                assert case.reached is None
                seen["order first"] += 1
    assert sum(seen.values()) == 6, seen


def test_order_racing_the_owner_reopening_the_task_never_leaves_it_open(live_pg):
    """An order comes in while the owner reopens the task they cancelled: either the reopen won
    (then the order closed the task again, as settling does) or the order did (the reopen is a
    409: the case is settled); never a task left open on a settled case, never a deadlock."""
    w = _world(live_pg)
    with live_pg.session() as s:
        product_id = make_product(s, unit_price=Decimal("25.00")).id
        s.commit()
    seen = Counter()
    for round_ in range(6):  # a narrow window: several rounds to see both orders of arrival
        with live_pg.session() as s:
            manager, agent = s.get(User, w["manager_id"]), s.get(User, w["agent_id"])
            customer = make_customer(s, owner_id=agent.id)
            alert = _alert(s, customer, owner=agent, cause=f"o{round_}")
            case = playbook_apply.apply_to_alert(s, alert.id, actor=manager)
            task = s.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
            task.status = "cancelled"
            ids = (customer.id, case.id, task.id)
            s.commit()
        customer_id, case_id, task_id = ids

        def run(i: int, task_id: int = task_id, customer_id: int = customer_id):
            if i == 0:
                with live_pg.client() as client:
                    return client.post(
                        f"{API}/tasks/{task_id}/status",
                        json={"status": "open"},
                        headers=w["headers"][0],
                    )
            with live_pg.session() as s:
                data = OrderCreate(
                    customer_id=customer_id,
                    ordered_at=utcnow(),
                    lines=[{"product_id": product_id, "quantity": 1}],
                )
                o = create_order(s, data, actor=s.get(User, w["manager_id"]))
                s.commit()
                return o.id

        results = run_parallel(2, run)
        _no_errors(results)
        owner = results[0]
        assert owner.status_code in (200, 409), owner.text
        with live_pg.session() as s:
            task = s.get(RetentionTask, task_id)
            assert s.get(RetentionCase, case_id).outcome == "came_back"
            assert task.status == "cancelled"
            if owner.status_code == 200:
                assert task.note == "Closed automatically: the customer came back (ordered again)."
                seen["reopen first"] += 1
            else:
                assert "is settled" in owner.json()["detail"]
                seen["order first"] += 1
    assert sum(seen.values()) == 6, seen
