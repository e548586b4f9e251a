"""Reading background work: the items (queued, running, finished) and the scheduled jobs."""

from __future__ import annotations

from sqlalchemy import select

from retento.audit.service import record
from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.errors import Conflict, Msg, NotFound, choice_error
from retento.core.pagination import paginate
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.work import leases, queue
from retento.work.models import WORK_STATUSES, JobLease, WorkItem


def get_item(session, item_id: int, *, actor: User) -> WorkItem:
    """One item: its creator sees it; so does whoever may read all work (administrators)."""
    item = session.get(WorkItem, item_id)
    if item is None or (item.created_by_id != actor.id and not can(actor, "work:read")):
        raise NotFound("Work item", item_id)
    return item


def retry_item(session, item_id: int, *, actor: User) -> WorkItem:
    """Run a failed item again from the start (administrators; kinds that declare themselves
    safe to repeat, ``work_kind(retry_safe=True)``). 409 when it is not failed any more or its
    kind may not be repeated."""
    require(actor, "work:retry")
    item = get_item(session, item_id, actor=actor)
    kind = queue.load_kinds().get(item.kind)
    if kind is None or not kind.retry_safe:
        raise Conflict(
            Msg("Work of this kind cannot be run again safely: start it anew where it began."),
            field="kind",
        )
    before = {"status": item.status, "error": item.error, "attempts": item.attempts}
    if not queue.requeue_failed(session, item.id):
        raise Conflict("Only failed work can be run again.", field="status")
    session.refresh(item)
    after = {"status": item.status, "error": item.error, "attempts": item.attempts}
    record(session, actor, "update", "work_item", item.id, before, after)
    return item


def list_items(
    session, *, actor: User, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[WorkItem], int]:
    """Items, newest first, optionally of one status (administrators)."""
    require(actor, "work:read")
    stmt = select(WorkItem).order_by(WorkItem.id.desc())
    if status:
        if status not in WORK_STATUSES:
            # Named as the Background work page's filter names it (the API keeps the codes).
            choices = [(st, label_msgid("work_status", st)) for st in WORK_STATUSES]
            raise choice_error("status", N_("Status"), choices).refuse()
        stmt = stmt.where(WorkItem.status == status)
    return paginate(session, stmt, limit=limit, offset=offset)


def counts(session, *, actor: User) -> dict[str, int]:
    require(actor, "work:read")
    from sqlalchemy import func

    rows = session.execute(select(WorkItem.status, func.count()).group_by(WorkItem.status)).all()
    out = dict.fromkeys(WORK_STATUSES, 0)
    out.update({status: int(n) for status, n in rows})
    return out


def list_leases(session, *, actor: User) -> list[JobLease]:
    require(actor, "work:read")
    return leases.all_leases(session)
