"""Scheduled jobs run once per tick across processes: several schedulers released together by a
barrier on live PostgreSQL (and one after another on SQLite) run each due job exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from retento.core.db import utcnow
from retento.jobs import Job, Scheduler
from retento.work import leases
from retento.work.models import JobLease
from tests.factories.concurrency import run_parallel

N = 6


def _jobs(counter: Counter, lock: threading.Lock, pause: float = 0.2) -> dict[str, Job]:
    def make(name: str):
        def func(_session) -> None:
            with lock:
                counter[name] += 1
            time.sleep(pause)  # long enough for every other scheduler to try the same tick

        return func

    return {
        "fast": Job("fast", 10.0, make("fast")),
        "slow": Job("slow", 3600.0, make("slow")),
    }


def test_parallel_schedulers_run_each_due_job_once_per_tick(live_pg):
    counter: Counter = Counter()
    lock = threading.Lock()
    jobs = _jobs(counter, lock)
    scheds = [Scheduler(live_pg.session_factory, jobs=jobs) for _ in range(N)]
    t0 = utcnow()

    ran = run_parallel(N, lambda i: scheds[i].run_due(now=t0))
    assert not [r for r in ran if isinstance(r, BaseException)], ran
    assert counter == {"fast": 1, "slow": 1}
    assert sorted(name for r in ran for name in r) == ["fast", "slow"]

    # Later in the same tick nothing runs again.
    ran = run_parallel(N, lambda i: scheds[i].run_due(now=t0 + timedelta(seconds=5)))
    assert counter == {"fast": 1, "slow": 1} and all(r == [] for r in ran)

    # Next tick of "fast" (every 10 s): once more, "slow" (hourly) not yet.
    ran = run_parallel(N, lambda i: scheds[i].run_due(now=t0 + timedelta(seconds=11)))
    assert counter == {"fast": 2, "slow": 1}
    with live_pg.session() as s:
        rows = {r.name: r for r in s.scalars(select(JobLease))}
    assert rows["fast"].runs == 2 and rows["slow"].runs == 1
    assert rows["fast"].holder is None and rows["fast"].last_status == "ok"
    assert rows["fast"].last_holder in {s.holder for s in scheds}
    assert rows["fast"].last_finished_at is not None


def test_real_scheduler_threads_run_a_job_once_per_tick(live_pg):
    """Running schedulers (their own threads and clocks) over ~3 ticks of a 1-second job."""
    counter: Counter = Counter()
    lock = threading.Lock()
    jobs = {"tick": _jobs(counter, lock, pause=0.05)["fast"]}
    jobs["tick"] = Job("tick", 1.0, jobs["tick"].func)
    counter_key = "fast"
    scheds = [
        Scheduler(live_pg.session_factory, tick_seconds=0.1, jobs=jobs).start() for _ in range(4)
    ]
    start = time.monotonic()
    time.sleep(3.4)
    for s in scheds:
        s.stop()
    elapsed = time.monotonic() - start
    with live_pg.session() as s:
        runs = s.get(JobLease, "tick").runs
    # At most one run per started second (plus the first, due at once), never one per scheduler.
    assert runs == counter[counter_key]
    assert 3 <= runs <= int(elapsed) + 1


def test_a_crashed_holders_lease_expires(live_pg):
    counter: Counter = Counter()
    lock = threading.Lock()
    jobs = _jobs(counter, lock, pause=0.0)
    t0 = utcnow()
    leases.ensure(live_pg.session_factory, jobs, t0)
    # A process claimed "slow" and died before releasing it.
    assert leases.claim(live_pg.session_factory, "slow", 3600, "dead:1", lease_seconds=60, now=t0)
    scheds = [Scheduler(live_pg.session_factory, jobs=jobs, lease_seconds=60) for _ in range(3)]

    run_parallel(3, lambda i: scheds[i].run_due(now=t0 + timedelta(seconds=30)))
    assert counter == {"fast": 1}  # "slow" is still leased to the dead process

    run_parallel(3, lambda i: scheds[i].run_due(now=t0 + timedelta(seconds=61)))
    assert counter["slow"] == 1  # its lease expired: exactly one scheduler took it over
    with live_pg.session() as s:
        row = s.get(JobLease, "slow")
        assert row.holder is None and row.runs == 2 and row.last_status == "ok"


def test_a_failing_job_is_recorded_and_retried_next_tick(live_pg):
    calls = []

    def boom(_session) -> None:
        calls.append(1)
        raise ValueError("no mail server")

    sched = Scheduler(live_pg.session_factory, jobs={"boom": Job("boom", 10.0, boom)})
    t0 = utcnow()
    assert sched.run_due(now=t0) == ["boom"]
    with live_pg.session() as s:
        row = s.get(JobLease, "boom")
        assert row.last_status == "failed" and "no mail server" in row.last_error
        assert row.holder is None
    assert sched.run_due(now=t0 + timedelta(seconds=1)) == []
    assert sched.run_due(now=t0 + timedelta(seconds=10)) == ["boom"] and len(calls) == 2


def test_lease_renewal_keeps_a_long_job_to_its_holder(live_pg):
    started = threading.Event()
    counter: Counter = Counter()

    def long(_session) -> None:
        counter["long"] += 1
        started.set()
        time.sleep(1.5)

    jobs = {"long": Job("long", 0.5, long)}
    holder = Scheduler(live_pg.session_factory, jobs=jobs, lease_seconds=0.6)
    other = Scheduler(live_pg.session_factory, jobs=jobs, lease_seconds=0.6)
    t = threading.Thread(target=holder.run_due)
    t.start()
    assert started.wait(5)
    tries = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # the lease would have expired without renewal
        tries.append(other.run_due())
        time.sleep(0.1)
    t.join()
    assert counter["long"] == 1 and all(r == [] for r in tries)


def test_leases_work_on_sqlite_and_postgres(session_factory):
    """The same claim on the per-test database of either backend (one process)."""
    counter: Counter = Counter()
    lock = threading.Lock()
    jobs = _jobs(counter, lock, pause=0.0)
    a = Scheduler(session_factory, jobs=jobs)
    b = Scheduler(session_factory, jobs=jobs)
    t0 = utcnow()
    assert sorted(a.run_due(now=t0)) == ["fast", "slow"]
    assert b.run_due(now=t0) == []
    assert b.run_due(now=t0 + timedelta(seconds=10)) == ["fast"]
    assert a.run_due(now=t0 + timedelta(seconds=10)) == []
    assert counter == {"fast": 2, "slow": 1}


def test_a_sqlite_job_that_reads_then_writes_survives_another_writer(tmp_path):
    """The demo's scheduler logged "job loyalty_tiers failed ... database is locked": a job read,
    a login committed meanwhile, and the job's first write then failed at once. On SQLite a
    job's transaction now begins IMMEDIATE, so the other writer waits for it instead."""
    from sqlalchemy import func

    from retento.audit.models import AuditEntry
    from retento.audit.service import record
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)

        def other_write() -> None:
            with transaction(factory) as s:
                record(s, None, "create", "other_writer", 1, None, {"who": "login"})

        def read_then_write(session) -> None:
            seen = session.scalar(select(func.count()).select_from(AuditEntry))
            other = threading.Thread(target=other_write)
            other.start()
            other.join(0.5)  # committed by now unless it waits for this job's lock
            record(session, None, "create", "job", 1, None, {"seen": seen})
            session.flush()
            threading.Thread(target=other.join, args=(10,)).start()

        sched = Scheduler(factory, jobs={"rtw": Job("rtw", 60.0, read_then_write)})
        assert sched.run_due(now=utcnow()) == ["rtw"]
        time.sleep(0.5)
        with transaction(factory) as s:
            assert s.get(JobLease, "rtw").last_error is None
            kinds = sorted(s.scalars(select(AuditEntry.entity)))
        assert kinds == ["job", "other_writer"]
    finally:
        engine.dispose()
