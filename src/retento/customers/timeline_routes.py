"""The customer timeline JSON API (``customers.timeline_read``)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from retento.core.deps import CurrentUser, DbSession
from retento.core.validation import DbId
from retento.customers import timeline
from retento.customers.timeline_read import TimelinePageRead, timeline_page

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("/{customer_id}/timeline", response_model=TimelinePageRead)
def customer_timeline(
    request: Request,
    customer_id: DbId,
    session: DbSession,
    user: CurrentUser,
    kind: str | None = Query(
        None,
        max_length=40,
        description="Only this kind: order, refund, touchpoint, complaint, survey, loyalty, "
        "retention, email … (those the caller's role may read; another is refused, 422).",
    ),
    cursor: str | None = Query(
        None,
        max_length=80,
        description="The next_cursor of the previous page (<time>~<n>); leave out for the "
        "newest entries.",
    ),
    limit: int = Query(50, ge=1, le=timeline.MAX_LIMIT, description="Entries per page."),
) -> TimelinePageRead:
    """Everything recorded about the customer, newest first, as the timeline page lists it
    (texts in the caller's language; kinds the caller's role may read)."""
    return timeline_page(
        session,
        customer_id,
        actor=user,
        settings=request.app.state.settings,
        kind=kind,
        cursor=cursor,
        limit=limit,
    )
