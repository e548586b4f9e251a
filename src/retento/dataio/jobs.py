"""Import-wizard housekeeping: uploaded files are not kept for ever."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.dataio.models import ImportJob
from retento.jobs import job
from retento.web.i18n import N_

# An upload left at any step (or finished) for this long is removed with its file and rejects.
KEEP = timedelta(days=30)
# A check or import still "running" after this long died with its server (the largest file
# takes minutes); its transaction was never committed, so nothing of it was written.
STALE = timedelta(hours=6)
STALE_MESSAGE = (
    "The server stopped during this import; nothing of it was written. Upload the file again."
)


@job("import_jobs_purge", every_seconds=6 * 3600, label=N_("Clean up stalled and old imports"))
def purge_import_jobs(session: Session) -> int:
    """Fail checks and imports that died with their server; delete jobs untouched for 30 days
    (never one being checked or imported); idempotent."""
    session.execute(
        update(ImportJob)
        .where(ImportJob.status.in_(("validating", "running")))
        .where(ImportJob.updated_at < utcnow() - STALE)
        .values(status="failed", message=STALE_MESSAGE, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        delete(ImportJob)
        .where(ImportJob.updated_at < utcnow() - KEEP)
        .where(ImportJob.status.not_in(("validating", "running")))
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return result.rowcount or 0
