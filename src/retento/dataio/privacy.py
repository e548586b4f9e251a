"""What the import wizard keeps about a customer, for the erasure of their personal data.

An import job keeps its uploaded file until it is imported, and the rejected rows and the first
problems for 30 days after (``dataio.jobs``): rows of a customer whose personal data is then
erased stayed downloadable from Imports (QA: an erased customer's e-mail and note were still in
a job's "Download rejected rows"). At an erasure the rejected rows and problems have the
customer's identifying strings replaced, as the audit log's free text has; a file not imported
yet that names the customer is deleted with its job (a file cannot be edited in place: the
uploader uploads it again, without the person). Jobs being checked or imported are left to
finish: their rows are what the erasure is about to anonymise, or what they write after it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.core.errors import RetentoError
from retento.customers.models import Customer
from retento.customers.redaction import Redactor
from retento.dataio.models import ImportJob
from retento.dataio.readers import open_table

BUSY = ("validating", "running")


def _names_the_customer(job: ImportJob, redactor: Redactor) -> bool:
    """True when the job's stored file holds one of the customer's identifying strings."""
    try:
        table = open_table(job.content, job.filename, encoding=job.encoding)
    except RetentoError:  # unreadable: look at the bytes as text
        text = job.content.decode("utf-8", errors="replace")
        return redactor.text(text) != text
    try:
        for _line, cells in [(1, table.header), *table.rows]:
            if any(cell and redactor.text(cell) != cell for cell in cells):
                return True
    except RetentoError:  # a later row that does not read: what was read so far decides
        return False
    finally:
        table.close()
    return False


def _scrub_rejects(record: bytes, redactor: Redactor) -> bytes:
    """The rejected rows with the customer's strings replaced in their cells and problems."""
    if not record.startswith(b"{"):  # a job stored before the JSON record: the CSV itself
        text = record.decode("utf-8-sig", errors="replace")
        scrubbed = redactor.text(text)
        return record if scrubbed == text else scrubbed.encode("utf-8-sig")
    data: dict[str, Any] = json.loads(record)
    rows = [
        [
            line,
            [redactor.text(c) if c else c for c in cells],
            [[column, redactor.text(message)] for column, message in problems],
        ]
        for line, cells, problems in data["rows"]
    ]
    if rows == data["rows"]:
        return record
    return json.dumps(
        {"header": data["header"], "rows": rows}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def erase(session: Session, customer: Customer, redactor: Redactor) -> dict[str, int]:
    """Scrub the wizard's jobs of ``customer`` (``customers.privacy`` runs it in every erasure);
    counts of jobs changed and deleted."""
    changed = deleted = 0
    ids = session.scalars(
        select(ImportJob.id).where(ImportJob.status.not_in(BUSY)).order_by(ImportJob.id)
    ).all()
    for job_id in ids:
        # Locked and checked again: a check or an import may have claimed it meanwhile.
        job = session.get(ImportJob, job_id, with_for_update=True)
        if job is None or job.status in BUSY:
            continue
        if job.content and _names_the_customer(job, redactor):
            session.delete(job)
            deleted += 1
            continue
        rejects = _scrub_rejects(job.rejects, redactor) if job.rejects else job.rejects
        errors = redactor.scrub(job.errors) if job.errors else job.errors
        message = redactor.text(job.message) if job.message else job.message
        if (rejects, errors, message) != (job.rejects, job.errors, job.message):
            job.rejects, job.errors, job.message = rejects, errors, message
            session.flush()
            changed += 1
        session.expire(job)  # the file (up to the upload limit) is not kept in memory
    return {"import_jobs_scrubbed": changed, "import_jobs_deleted": deleted}
