"""In-process scheduler for the domains' idempotent jobs (``retento serve`` and ``retento worker``).

A domain registers work in its ``jobs.py`` with ``@job(name, every_seconds)``; every job takes a
``Session`` and must be safe to run twice. Each run is its own transaction.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from retento.core.config import Settings
from retento.core.db import transaction

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


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[Session], object]


REGISTRY: dict[str, Job] = {}


def job(name: str, every_seconds: float):
    """Register ``func(session)`` to run every ``every_seconds``."""

    def wrap(func: Callable[[Session], object]):
        REGISTRY[name] = Job(name, every_seconds, func)
        return func

    return wrap


def load_jobs() -> dict[str, Job]:
    for mod in JOB_MODULES:
        importlib.import_module(mod)
    return REGISTRY


def run_job(factory: sessionmaker[Session], name: str) -> object:
    """Run one job now, in its own transaction."""
    jobs = load_jobs()
    if name not in jobs:
        raise KeyError(f"unknown job '{name}'; known: {', '.join(sorted(jobs)) or 'none'}")
    with transaction(factory) as session:
        return jobs[name].func(session)


class Scheduler:
    """A daemon thread that runs due jobs; failures are logged and retried next tick."""

    def __init__(self, factory: sessionmaker[Session], tick_seconds: float = 5.0):
        self.factory = factory
        self.tick = tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retento-scheduler", daemon=True)
        self._next: dict[str, float] = {}

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_due(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        ran = []
        for job_ in load_jobs().values():
            due = self._next.get(job_.name, now)
            if now >= due:
                try:
                    with transaction(self.factory) as session:
                        job_.func(session)
                    ran.append(job_.name)
                except Exception:
                    log.exception("job %s failed", job_.name)
                self._next[job_.name] = now + job_.every_seconds
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(self.tick)


def start_scheduler(factory: sessionmaker[Session], settings: Settings) -> Scheduler:
    return Scheduler(factory).start()
