"""Old import-wizard jobs (and the files they hold) are purged; running ones never are."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from retento.core.db import utcnow
from retento.dataio.jobs import purge_import_jobs
from retento.dataio.models import ImportJob
from retento.jobs import load_jobs


def _job(db, status: str, age_days: int, owner) -> ImportJob:
    j = ImportJob(
        entity="orders",
        filename=f"{status}-{age_days}.csv",
        size=3,
        content=b"a,b",
        status=status,
        created_by_id=owner.id,
    )
    db.add(j)
    db.flush()
    j.updated_at = utcnow() - timedelta(days=age_days)
    db.flush()
    return j


def test_purge_removes_old_jobs_but_not_running_or_recent_ones(db, users):
    owner = users["manager"]
    old = [_job(db, s, 31, owner) for s in ("uploaded", "validated", "done", "failed")]
    kept = [_job(db, "running", 0, owner), _job(db, "uploaded", 2, owner)]
    assert "import_jobs_purge" in load_jobs()
    assert purge_import_jobs(db) == 4
    assert purge_import_jobs(db) == 0  # safe to run twice
    left = set(db.scalars(select(ImportJob.id)))
    assert {j.id for j in kept} <= left and not ({j.id for j in old} & left)


def test_checks_and_imports_that_died_with_their_server_are_failed(db, users):
    owner = users["manager"]
    dead = _job(db, "running", 1, owner)
    alive = _job(db, "validating", 0, owner)
    purge_import_jobs(db)
    db.expire_all()
    assert db.get(ImportJob, dead.id).status == "failed"
    assert "Upload the file again." in db.get(ImportJob, dead.id).message
    assert db.get(ImportJob, alive.id).status == "validating"
