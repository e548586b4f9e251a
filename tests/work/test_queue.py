"""The work queue: concurrent workers on live PostgreSQL run every item exactly once, progress is
stored for other processes, a dead runner's item is queued again, and the page and API show it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from retento.core.db import transaction, utcnow
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories import make_user
from tests.factories.concurrency import run_parallel
from tests.web.conftest import Browser

KIND = "test.count"
RUNS: Counter = Counter()
LOCK = threading.Lock()
GATE = threading.Event()


def _abandon(session, payload, reason) -> None:
    with LOCK:
        RUNS[f"abandoned-{payload['n']}"] += 1


@queue.work_kind(KIND, "Test work", on_abandon=_abandon)
def _count(ctx: queue.WorkContext) -> dict:
    n = ctx.payload["n"]
    with LOCK:
        RUNS[n] += 1
    if ctx.payload.get("wait"):
        ctx.progress("halfway", 0.5)
        GATE.wait(10)
    if ctx.payload.get("stages"):
        # Like a scoring run: "fit" for a moment, then "churn" for minutes, in 2 % steps.
        ctx.progress("fit", 0.25)
        ctx.progress("churn", 0.45)
        ctx.progress("churn", 0.47)
        GATE.wait(10)
    if ctx.payload.get("fail"):
        raise ValueError(f"item {n} cannot be done")
    time.sleep(0.01)
    return {"n": n}


@pytest.fixture(autouse=True)
def _reset():
    RUNS.clear()
    GATE.clear()
    yield
    GATE.set()


def _enqueue(factory, payloads: list[dict]) -> list[int]:
    with transaction(factory) as s:
        return [queue.enqueue(s, KIND, p, ref=f"test:{p['n']}").id for p in payloads]


def test_parallel_workers_run_every_item_exactly_once(live_pg):
    ids = _enqueue(live_pg.session_factory, [{"n": i} for i in range(40)])
    runners = [queue.WorkRunner(live_pg.session_factory) for _ in range(5)]
    counts = run_parallel(5, lambda i: runners[i].run_once())
    assert sum(counts) == 40 and RUNS == Counter({i: 1 for i in range(40)})
    assert sum(1 for c in counts if c) >= 2  # the work was shared, not serialised on one worker
    with live_pg.session() as s:
        items = s.scalars(select(WorkItem).where(WorkItem.id.in_(ids))).all()
        assert {i.status for i in items} == {"done"}
        assert all(i.progress == 1.0 and i.attempts == 1 and i.finished_at for i in items)
        assert {i.claimed_by for i in items} <= {r.holder for r in runners}


def test_the_web_and_a_worker_racing_for_one_item_run_it_once(live_pg):
    [item_id] = _enqueue(live_pg.session_factory, [{"n": 7}])
    runner = queue.WorkRunner(live_pg.session_factory)
    out = run_parallel(
        6,
        lambda i: (
            queue.run_in_web(live_pg.session_factory, item_id) if i % 2 else runner.run_once()
        ),
    )
    assert RUNS[7] == 1
    winners = [o for o in out if o == "done" or o == 1]
    assert len(winners) == 1, out  # the others found it taken or the queue empty


def test_progress_is_stored_for_other_processes_and_failures_recorded(live_pg):
    ids = _enqueue(live_pg.session_factory, [{"n": 1, "wait": True}, {"n": 2, "fail": True}])
    runner = queue.WorkRunner(live_pg.session_factory, concurrency=2, poll_seconds=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with live_pg.session() as s:
                item = s.get(WorkItem, ids[0])
                if item.stage == "halfway":
                    break
            time.sleep(0.05)
        # Another process reads the row (this process's memory aside).
        queue.LOCAL.pop(ids[0], None)
        assert item.status == "running" and queue.progress_of(item) == ("halfway", 0.5)
        GATE.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with live_pg.session() as s:
                states = [s.get(WorkItem, i).status for i in ids]
            if "running" not in states and "queued" not in states:
                break
            time.sleep(0.05)
    finally:
        runner.stop()
    with live_pg.session() as s:
        done, failed = s.get(WorkItem, ids[0]), s.get(WorkItem, ids[1])
        assert (done.status, done.result) == ("done", {"n": 1})
        assert failed.status == "failed" and "item 2 cannot be done" in failed.error


def test_a_new_stage_is_stored_at_once_and_the_heartbeat_stores_the_rest(live_pg, monkeypatch):
    """A stage reported within a second of the one before was dropped by the writes' throttle:
    other processes showed "fit 25 %" for the minutes of "churn". A new stage is written at
    once; a fraction the throttle held back is written by the next heartbeat."""
    [item_id] = _enqueue(live_pg.session_factory, [{"n": 7, "stages": True}])
    monkeypatch.setattr(queue, "HEARTBEAT_SECONDS", 0.3)
    runner = queue.WorkRunner(live_pg.session_factory, concurrency=1, poll_seconds=0.05).start()

    def stored() -> tuple[str | None, float]:
        with live_pg.session() as s:
            item = s.get(WorkItem, item_id)
            return item.stage, item.progress

    try:
        deadline = time.monotonic() + 10
        while stored()[0] in (None, "queued", "fit") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored()[0] == "churn"
        while stored() != ("churn", 0.47) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored() == ("churn", 0.47)  # by the heartbeat: the progress calls had stopped
    finally:
        GATE.set()
        runner.stop()


def test_an_item_whose_runner_died_is_queued_again_then_failed(live_pg):
    [item_id] = _enqueue(live_pg.session_factory, [{"n": 3}])
    for attempt in (1, 2):
        assert queue.claim_item(live_pg.session_factory, item_id, f"dead:{attempt}")
        with transaction(live_pg.session_factory) as s:  # its heartbeat stopped long ago
            s.execute(
                update(WorkItem)
                .where(WorkItem.id == item_id)
                .values(heartbeat_at=utcnow() - timedelta(minutes=10))
            )
        assert queue.reap_stale(live_pg.session_factory, stale_seconds=60, max_attempts=2) == [
            item_id
        ]
        with live_pg.session() as s:
            item = s.get(WorkItem, item_id)
            expected = "queued" if attempt == 1 else "failed"
            assert item.status == expected and "stopped" in item.error
    assert RUNS["abandoned-3"] == 1 and RUNS[3] == 0
    # A live item (fresh heartbeat) is left alone.
    [other] = _enqueue(live_pg.session_factory, [{"n": 4}])
    assert queue.claim_item(live_pg.session_factory, other, "alive:1")
    assert queue.reap_stale(live_pg.session_factory, stale_seconds=60, max_attempts=2) == []


def test_work_page_and_api(live_pg):
    with live_pg.session() as s:
        admin = make_user(s, username="admin", role="admin")
        agent = make_user(s, username="agent", role="agent")
        s.commit()
        agent_id = agent.id
        assert admin.id
    with transaction(live_pg.session_factory) as s:
        mine = queue.enqueue(s, KIND, {"n": 5}, ref="test:5", actor_id=agent_id).id
        theirs = queue.enqueue(s, KIND, {"n": 6}).id
    with live_pg.client() as client:
        web = Browser(client)
        web.login("agent")
        r = client.get(f"/api/v1/work/{mine}")
        assert r.status_code == 200
        body = r.json()
        assert (body["status"], body["kind"], body["progress"]) == ("queued", KIND, 0.0)
        assert client.get(f"/api/v1/work/{theirs}").status_code == 404
        assert client.get("/api/v1/work").status_code == 403
        assert client.get("/admin/work").status_code == 403
        assert client.get("/api/v1/work/0").status_code == 404

        web = Browser(client)
        client.cookies.clear()
        web.login("admin")
        page = client.get("/admin/work")
        assert page.status_code == 200 and 'id="work-table"' in page.text
        assert f'id="work-{mine}"' in page.text and 'id="kpi-queued">2<' in page.text
        assert 'hx-trigger="every 2s"' in page.text  # polled while work is waiting
        listed = client.get("/api/v1/work", params={"status": "queued"}).json()
        assert listed["total"] == 2
        assert client.get("/api/v1/work", params={"status": "nope"}).status_code == 422

        queue.WorkRunner(live_pg.session_factory).run_once()
        done = client.get(f"/api/v1/work/{mine}").json()
        assert (done["status"], done["progress"], done["result"]) == ("done", 1.0, {"n": 5})
        page = client.get("/admin/work?status=done")
        assert 'id="kpi-done">2<' in page.text and 'hx-trigger="every 2s"' not in page.text

        web.post("/locale", {"lang": "zh_CN", "next": "/admin/work"})
        zh = client.get("/admin/work")
        assert "后台任务" in zh.text and "定时作业" in zh.text and "已完成" in zh.text


@queue.work_kind("test.reap_self", "Test work")
def _reap_self(ctx: queue.WorkContext) -> dict:
    # Backdate the heartbeat (on SQLite none is written while the work runs) and reap.
    with transaction(ctx.factory) as s:
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == ctx.item_id)
            .values(heartbeat_at=utcnow() - timedelta(hours=1))
        )
    return {"reaped": queue.reap_stale(ctx.factory, stale_seconds=1, max_attempts=3)}


def test_an_item_running_in_this_process_is_never_reaped_by_it(session_factory):
    """Both backends: the runner's own process does not take its item back, heartbeat or not."""
    with transaction(session_factory) as s:
        item_id = queue.enqueue(s, "test.reap_self", {}).id
    assert queue.run_in_web(session_factory, item_id) == "done"
    with session_factory() as s:
        item = s.get(WorkItem, item_id)
        assert (item.status, item.result, item.attempts) == ("done", {"reaped": []}, 1)
    assert queue.run_in_web(session_factory, item_id) == "taken"  # done: not run twice


def test_each_kind_names_its_own_stages():
    """The Background work page takes a stage's name from the kind that reports it (this layer
    knows no domain's words): the loyalty run's "store" is not the scoring run's."""
    from retento.jobs import load_jobs
    from retento.work.pages import item_view

    load_jobs()
    kinds = queue.load_kinds()
    assert kinds["scoring.run"].stages["store"] == "Storing the scores"
    loyalty = kinds["loyalty.measure"]
    assert loyalty.stages["store"] == "Storing the measurements"

    class Item:
        id, kind, status, stage, progress = -1, loyalty.name, "running", "store", 0.5
        ref = heartbeat_at = None

    assert item_view(Item())["stage_label"] == "Storing the measurements"


OTHER_WRITER: dict = {}


@queue.work_kind("test.read_then_write", "Test: read, let another writer in, then write")
def _read_then_write(ctx: queue.WorkContext) -> dict:
    """A kind shaped like a scoring or loyalty measurement run: it reads, another connection
    writes meanwhile (a login), then it writes what it computed."""
    with transaction(ctx.factory) as s:
        queued = s.scalar(select(func.count()).select_from(WorkItem))
        other = threading.Thread(target=OTHER_WRITER["write"])
        other.start()
        other.join(0.5)  # committed by now unless it waits for this unit of work's lock
        s.execute(
            update(WorkItem)
            .where(WorkItem.id == ctx.item_id)
            .values(stage=f"saw {queued}")
            .execution_options(synchronize_session=False)
        )
    other.join(10)
    return {"saw": queued}


def test_a_sqlite_job_that_reads_then_writes_survives_another_writer(tmp_path):
    """The demo's loyalty measurement run failed with "database is locked": it read every
    customer, a login committed meanwhile, and its first write then failed at once (SQLite
    refuses to upgrade a read snapshot that another writer made stale). A work kind's units of
    work now begin IMMEDIATE on SQLite: the other writer waits for the run instead."""
    from retento.core.db import make_engine, make_session_factory
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)

        def other_write() -> None:
            with transaction(factory) as s:
                queue.enqueue(s, KIND, {"n": 99}, ref="test:other-writer")

        OTHER_WRITER["write"] = other_write
        with transaction(factory) as s:
            item_id = queue.enqueue(s, "test.read_then_write", {}, ref="test:rtw").id
        assert queue.claim_next(factory, "h") == item_id
        assert queue.run_item(factory, item_id, "h") == "done"
        with transaction(factory) as s:
            item = s.get(WorkItem, item_id)
            assert item.status == "done" and item.result == {"saw": 1}, item.error
            assert s.scalar(select(func.count()).select_from(WorkItem)) == 2  # the other write
    finally:
        engine.dispose()


def test_parallel_claims_on_a_sqlite_file_never_fail_with_database_is_locked(tmp_path):
    """The demo (SQLite) logged "could not claim work ... database is locked" every few seconds:
    a claim read the queue and then wrote in one deferred transaction, which SQLite fails at
    once when another writer committed in between. Claims now begin IMMEDIATE."""
    from retento.core.db import make_engine, make_session_factory
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        ids = _enqueue(factory, [{"n": i} for i in range(24)])
        claimed = run_parallel(6, lambda i: [queue.claim_next(factory, f"h{i}") for _ in range(4)])
        errors = [c for c in claimed if isinstance(c, BaseException)]
        assert not errors, errors[0]
        got = [item for batch in claimed for item in batch]
        assert sorted(got) == sorted(ids)  # every item claimed once, none twice, none lost
        with transaction(factory) as s:
            rows = s.execute(select(WorkItem.id, WorkItem.claimed_by, WorkItem.attempts)).all()
        assert {r.id for r in rows} == set(ids) and all(r.attempts == 1 for r in rows)
        assert queue.claim_next(factory, "late") is None
    finally:
        engine.dispose()
