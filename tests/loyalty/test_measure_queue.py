"""Loyalty measurement runs go to the worker (issue 15): the request records the run and queues
it, a worker computes it once (a re-queued or raced item measures nobody twice), and the page and
API show its progress."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from retento.audit.models import AuditEntry
from retento.core.db import transaction, utcnow
from retento.loyalty import measure_jobs
from retento.loyalty import measure_store as store
from retento.loyalty.measure_models import LoyaltyMeasurement, LoyaltyMeasurementRun
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories import make_user
from tests.factories.concurrency import run_parallel
from tests.loyalty.measure_data import build_base
from tests.web.conftest import Browser


def _measured(made: dict) -> int:
    """The customers a run measures: every hand-made one but the archived customer."""
    return len([name for name in made if name != "archived"])


def _audits(session, run_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.entity == "loyalty_measurement_run")
        .where(AuditEntry.entity_id == str(run_id))
    )


def test_the_request_queues_the_run_and_a_worker_measures_with_progress_shown(
    app, client, db, users, tokens, session_factory
):
    app.state.settings = app.state.settings.model_copy(update={"run_work_in_web": False})
    n = _measured(build_base(db))
    db.commit()
    r = client.post("/api/v1/loyalty/measurement/runs", headers=tokens["manager"])
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "running" and (run["stage"], run["progress"]) == ("queued", 0.0)
    assert r.headers["Location"] == run["url"]
    # The response came before the work: nobody measured yet.
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == 0
    web = Browser(client)
    web.login("manager")
    page = web.get("/loyalty/types").text
    assert 'id="loyalty-run-progress"' in page and "Waiting to start" in page
    bar = web.get(f"/loyalty/types/runs/{run['id']}/progress", headers={"HX-Request": "1"})
    assert 'value="0"' in bar.text

    assert queue.WorkRunner(session_factory).run_once() == 1
    done = client.get(run["url"], headers=tokens["analyst"]).json()
    assert (done["status"], done["progress"], done["customers"]) == ("succeeded", 1.0, n)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == n
    bar = web.get(f"/loyalty/types/runs/{run['id']}/progress", headers={"HX-Request": "1"})
    assert bar.headers["HX-Redirect"] == "/loyalty/types"


def _queued_run(db, actor) -> tuple[int, int]:
    run = store.start_run(db, actor=actor)
    item_id = measure_jobs.enqueue_started_run(db, run, actor.id)
    db.commit()
    return run.id, item_id


def _stale(factory, item_id: int) -> None:
    with transaction(factory) as s:
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == item_id)
            .values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )


def test_a_worker_killed_mid_run_or_after_its_commit_measures_once(db, users, session_factory):
    n = _measured(build_base(db))
    db.commit()
    admin = users["admin"]
    # 1. Killed inside its transaction: nothing it wrote survived; the retry measures once.
    run_id, item_id = _queued_run(db, admin)
    assert queue.claim_next(session_factory, "doomed-worker") == item_id
    s = session_factory()
    store.execute_run(s, s.get(LoyaltyMeasurementRun, run_id))
    assert _audits(s, run_id) == 1
    s.rollback()  # the process died before committing
    s.close()
    _stale(session_factory, item_id)
    assert queue.reap_stale(session_factory, stale_seconds=60, max_attempts=3) == [item_id]
    assert queue.WorkRunner(session_factory).run_once() == 1
    db.expire_all()
    assert db.get(LoyaltyMeasurementRun, run_id).status == "succeeded"
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == n
    assert _audits(db, run_id) == 1

    # 2. Killed after committing, before marking its item done: the re-run does nothing.
    run2, item2 = _queued_run(db, admin)
    assert queue.claim_next(session_factory, "doomed-worker") == item2
    ctx = queue.WorkContext(session_factory, item2, db.get(WorkItem, item2).payload)
    assert measure_jobs.run_queued(ctx)["ran"] is True
    db.expire_all()
    finished = db.get(LoyaltyMeasurementRun, run2).finished_at
    _stale(session_factory, item2)
    assert queue.reap_stale(session_factory, stale_seconds=60, max_attempts=3) == [item2]
    assert queue.WorkRunner(session_factory).run_once() == 1
    db.expire_all()
    item = db.get(WorkItem, item2)
    assert item.status == "done" and item.result["ran"] is False and item.attempts == 2
    assert db.get(LoyaltyMeasurementRun, run2).finished_at == finished
    assert _audits(db, run2) == 1
    assert db.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == n


def test_two_workers_running_one_run_at_once_measure_once(live_pg, monkeypatch):
    with live_pg.session() as s:
        admin = make_user(s, username="boss", role="admin")
        n = _measured(build_base(s))
        s.commit()
        run_id, first = _queued_run(s, admin)
        second = measure_jobs.enqueue_started_run(
            s, s.get(LoyaltyMeasurementRun, run_id), admin.id
        )  # a retry racing the first runner
        s.commit()
    barrier = threading.Barrier(2, timeout=60)
    real = measure_jobs.lock_row

    def both_at_once(*args, **kwargs):
        barrier.wait()  # both workers are inside the work before either locks the run
        return real(*args, **kwargs)

    monkeypatch.setattr(measure_jobs, "lock_row", both_at_once)
    runners = [queue.WorkRunner(live_pg.session_factory) for _ in range(2)]
    assert run_parallel(2, lambda i: runners[i].run_once(), timeout=120) == [1, 1]
    with live_pg.session() as s:
        items = s.scalars(select(WorkItem).where(WorkItem.id.in_([first, second]))).all()
        assert {i.status for i in items} == {"done"}
        assert sorted(i.result["ran"] for i in items) == [False, True]
        assert {i.claimed_by for i in items} == {r.holder for r in runners}
        assert s.get(LoyaltyMeasurementRun, run_id).status == "succeeded"
        assert s.scalar(select(func.count()).select_from(LoyaltyMeasurement)) == n
        assert _audits(s, run_id) == 1
