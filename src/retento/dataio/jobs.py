"""Import-wizard housekeeping: uploaded files are not kept for ever."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.dataio.models import ImportJob
from retento.jobs import job

# An upload left at any step (or finished) for this long is removed with its file and rejects.
KEEP = timedelta(days=30)


@job("import_jobs_purge", every_seconds=6 * 3600)
def purge_import_jobs(session: Session) -> int:
    """Delete wizard jobs untouched for 30 days (never one being checked or imported); idempotent."""
    result = session.execute(
        delete(ImportJob)
        .where(ImportJob.updated_at < utcnow() - KEEP)
        .where(ImportJob.status.not_in(("validating", "running")))
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return result.rowcount or 0
