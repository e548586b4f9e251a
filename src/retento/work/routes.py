"""Background work API: an item's status and progress, the queue, the scheduled jobs."""

from __future__ import annotations

from fastapi import APIRouter

from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset
from retento.work import queue, service
from retento.work.schemas import JobLeaseRead, WorkItemRead

router = APIRouter(prefix="/api/v1/work", tags=["work"])


def _read(item) -> WorkItemRead:
    out = WorkItemRead.model_validate(item)
    stage, fraction = queue.progress_of(item)
    if stage is not None:
        out.stage = stage
    if fraction is not None:
        out.progress = fraction
    return out


@router.get("", response_model=Page[WorkItemRead])
def list_work(
    session: DbSession,
    user: CurrentUser,
    status: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    """Work items, newest first (administrators); ``status`` = queued, running, done or failed."""
    rows, total = service.list_items(session, actor=user, status=status, limit=limit, offset=offset)
    return Page(items=[_read(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/jobs", response_model=list[JobLeaseRead])
def list_jobs(session: DbSession, user: CurrentUser):
    """The scheduled jobs: who runs each now, when it last ran and when it is due."""
    return service.list_leases(session, actor=user)


@router.get("/{item_id}", response_model=WorkItemRead)
def get_work(item_id: DbId, session: DbSession, user: CurrentUser):
    """One item's status, stage and progress (0..1); its creator or an administrator."""
    return _read(service.get_item(session, item_id, actor=user))


@router.post("/{item_id}/retry", response_model=WorkItemRead)
def retry_work(item_id: DbId, session: DbSession, user: CurrentUser):
    """Queue a failed item again (administrators; only kinds safe to repeat, such as a large
    import's loyalty points): 409 if it is not failed or its kind may not be repeated."""
    return _read(service.retry_item(session, item_id, actor=user))
