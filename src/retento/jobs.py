"""In-process scheduler for the domains' idempotent jobs (``retento serve`` and ``retento worker``).

A domain registers work in its ``jobs.py`` with ``@job(name, every_seconds, label=N_("…"))``
(the label names the job on the Background work page); every job takes a ``Session`` and must be
safe to run twice. Each run is its own transaction. Every process may run a scheduler (several
``retento serve`` workers, ``retento worker``): a lease row per job makes each tick run once
across all of them (``retento.work.leases``).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from retento.core.config import Settings
from retento.core.db import transaction, writing_factory
from retento.work import leases
from retento.work import queue as work_queue

log = logging.getLogger("retento.jobs")

JOB_MODULES: tuple[str, ...] = (
    "retento.scoring.jobs",
    "retento.surveys.jobs",
    "retento.complaints.jobs",
    "retento.mail.jobs",
    "retento.loyalty.jobs",
    "retento.loyalty.measure_jobs",
    "retento.auth.jobs",
    "retento.retention.jobs",
    "retento.dataio.jobs",
    "retento.notifications.jobs",
)

# Modules registering kinds of queued work (``retento.work.queue.work_kind``).
WORK_MODULES: tuple[str, ...] = (
    "retento.scoring.jobs",
    "retento.dataio.wizard",
    "retento.surveys.distribution_jobs",
    "retento.retention.apply_jobs",
    "retento.loyalty.earning_jobs",
)


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[Session], object]
    label: str = ""  # a msgid: the job's name on the Background work page


REGISTRY: dict[str, Job] = {}


def job(name: str, every_seconds: float, *, label: str):
    """Register ``func(session)`` to run every ``every_seconds``; ``label`` (a msgid, marked with
    ``N_``) names the job on the Background work page."""

    def wrap(func: Callable[[Session], object]):
        REGISTRY[name] = Job(name, every_seconds, func, label)
        leases.register_label(name, label)
        return func

    return wrap


def load_jobs() -> dict[str, Job]:
    for mod in JOB_MODULES + WORK_MODULES:
        importlib.import_module(mod)
    return REGISTRY


# The work queue asks for the job modules (which declare the work kinds too) through this hook.
work_queue.add_kind_loader(load_jobs)


def run_job(factory: sessionmaker[Session], name: str) -> object:
    """Run one job now, in its own transaction (``retento`` commands; no lease is taken)."""
    jobs = load_jobs()
    if name not in jobs:
        raise KeyError(f"unknown job '{name}'; known: {', '.join(sorted(jobs)) or 'none'}")
    with transaction(writing_factory(factory)) as session:
        return jobs[name].func(session)


class Scheduler:
    """Runs due jobs, each once per tick across every process (``retento.work.leases``).

    Each tick the scheduler tries to claim every registered job; a job another process claimed
    for this tick (or still runs) is skipped. The claim, the job and the release are three
    separate transactions; failures are logged, recorded on the lease row and retried next tick.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        tick_seconds: float = 5.0,
        *,
        jobs: dict[str, Job] | None = None,
        holder: str | None = None,
        lease_seconds: float = leases.LEASE_SECONDS,
    ):
        self.factory = factory
        # A job reads, then writes, in one transaction: on SQLite it begins IMMEDIATE, or a
        # write committed in between (a login) failed it with "database is locked".
        self._job_factory = writing_factory(factory)
        self.tick = tick_seconds
        self.jobs = jobs
        self.holder = holder or leases.holder_id("scheduler")
        self.lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retento-scheduler", daemon=True)
        self._known: set[str] = set()
        self.runner = None  # a retento.work.queue.WorkRunner stopped with this scheduler

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.runner is not None:
            self.runner.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _jobs(self) -> dict[str, Job]:
        return self.jobs if self.jobs is not None else load_jobs()

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Run the jobs this process claimed for this tick; returns their names."""
        jobs = self._jobs()
        if set(jobs) - self._known:
            leases.ensure(self.factory, jobs, now)
            self._known |= set(jobs)
        ran = []
        for job_ in jobs.values():
            if self._stop.is_set():
                break
            try:
                claimed = leases.claim(
                    self.factory,
                    job_.name,
                    job_.every_seconds,
                    self.holder,
                    lease_seconds=self.lease_seconds,
                    now=now,
                )
            except Exception:
                log.exception("could not claim job %s", job_.name)
                continue
            if claimed:
                self._run(job_)
                ran.append(job_.name)
        return ran

    def _run(self, job_: Job) -> None:
        done = threading.Event()
        keeper = threading.Thread(
            target=self._keep_lease, args=(job_.name, done), name="retento-lease", daemon=True
        )
        keeper.start()
        error = None
        try:
            with transaction(self._job_factory) as session:
                job_.func(session)
        except Exception as exc:
            log.exception("job %s failed", job_.name)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            keeper.join(timeout=5)
        try:
            leases.release(self.factory, job_.name, self.holder, error=error)
        except Exception:  # the lease then expires and the next tick goes on
            log.exception("could not release job %s", job_.name)

    def _keep_lease(self, name: str, done: threading.Event) -> None:
        """Renew the lease of a running job every third of its length until it finishes."""
        while not done.wait(self.lease_seconds / 3):
            try:
                leases.renew(self.factory, name, self.holder, lease_seconds=self.lease_seconds)
            except Exception:
                log.exception("could not renew the lease of job %s", name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick)


def start_scheduler(factory: sessionmaker[Session], settings: Settings) -> Scheduler:
    """The web process's scheduler; with ``RETENTO_RUN_WORK_IN_WEB`` it also runs queued work
    (one thread), so a single ``retento serve`` is a complete installation."""
    sched = Scheduler(factory, tick_seconds=settings.scheduler_tick_seconds)
    if settings.run_work_in_web:
        from retento.work.queue import WorkRunner

        sched.runner = WorkRunner(
            factory,
            concurrency=1,
            poll_seconds=settings.work_poll_seconds,
            stale_seconds=settings.work_stale_seconds,
            max_attempts=settings.work_max_attempts,
        ).start()
    return sched.start()
