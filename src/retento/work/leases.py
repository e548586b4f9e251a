"""Leases: each scheduled job runs once per tick, however many processes run the scheduler.

Every job has a row in ``job_leases``. A process that finds a job due claims it with **one
conditional UPDATE** in a short transaction of its own::

    UPDATE job_leases SET holder = :me, lease_until = :now + ttl, next_due_at = :now + every …
     WHERE name = :job AND ((holder IS NULL AND next_due_at <= :now)
                            OR lease_until < :now)          -- a crashed holder's lease expired

Only the process whose UPDATE changed the row (``rowcount == 1``) runs the job; on PostgreSQL a
concurrent UPDATE of the same row waits for the first to commit, then re-checks the WHERE clause
against the new row and changes nothing; SQLite has one writer at a time. The job then runs in its
own transaction (no lock on the lease row is held meanwhile), and a last short transaction records
the outcome and frees the lease. While a job runs, its holder renews the lease every third of the
lease time, so only a holder that stopped (crash, kill -9, lost host) lets it expire.

Why not PostgreSQL advisory locks: ``pg_try_advisory_xact_lock`` is held only for the claiming
transaction, so it would have to stay open for the whole job (the thing to avoid), and a session
lock is tied to one pooled connection; both need a row for "last run" anyway, and neither works on
SQLite. The lease row gives once-per-tick, crash recovery and the "last run" in one place on both
backends. Times come from the processes' clocks: keep the hosts' clocks synchronised (NTP).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from retento.core.db import transaction, utcnow
from retento.work.models import JobLease

LEASE_SECONDS = 300.0

# Job name -> its label (a msgid) on the Background work page. ``retento.jobs.job`` fills this
# as the domains register their jobs: this lower layer never imports a domain.
LABELS: dict[str, str] = {}


def register_label(name: str, label: str) -> None:
    """Name the job ``name`` on the Background work page (``label`` is a msgid)."""
    LABELS[name] = label


def holder_id(role: str = "proc") -> str:
    """A name for this process in ``holder``/``claimed_by``: host, pid and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{role}:{uuid.uuid4().hex[:6]}"


def _insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def ensure(
    factory: sessionmaker[Session], names: Iterable[str], now: datetime | None = None
) -> None:
    """Create the missing lease rows (due at once); existing rows are left as they are."""
    now = now or utcnow()
    with transaction(factory) as s:
        insert = _insert(s)
        for name in names:
            s.execute(
                insert(JobLease)
                .values(name=name, next_due_at=now, runs=0)
                .on_conflict_do_nothing(index_elements=["name"])
            )


def claim(
    factory: sessionmaker[Session],
    name: str,
    every_seconds: float,
    holder: str,
    *,
    lease_seconds: float = LEASE_SECONDS,
    now: datetime | None = None,
) -> bool:
    """Take the job for this tick if it is due and nobody holds a live lease (one UPDATE)."""
    now = now or utcnow()
    with transaction(factory) as s:
        got = s.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(
                    (JobLease.holder.is_(None)) & (JobLease.next_due_at <= now),
                    JobLease.lease_until < now,
                ),
            )
            .values(
                holder=holder,
                lease_until=now + timedelta(seconds=lease_seconds),
                next_due_at=now + timedelta(seconds=every_seconds),
                last_started_at=now,
                runs=JobLease.runs + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return got.rowcount == 1


def renew(
    factory: sessionmaker[Session], name: str, holder: str, *, lease_seconds: float = LEASE_SECONDS
) -> bool:
    """Extend a lease this process still holds (False if it lost it)."""
    with transaction(factory) as s:
        got = s.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return got.rowcount == 1


def release(
    factory: sessionmaker[Session], name: str, holder: str, *, error: str | None = None
) -> None:
    """Record the outcome and free the lease (only if this process still holds it)."""
    with transaction(factory) as s:
        s.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(
                holder=None,
                last_holder=holder,
                lease_until=None,
                last_finished_at=utcnow(),
                last_status="failed" if error else "ok",
                last_error=error[:4000] if error else None,
            )
            .execution_options(synchronize_session=False)
        )


def all_leases(session: Session) -> list[JobLease]:
    return list(session.scalars(select(JobLease).order_by(JobLease.name)))
