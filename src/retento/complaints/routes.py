"""Complaint JSON API (the public form API lives in ``public.py`` and is mounted here too)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse

from retento.complaints import (
    analytics,
    attachments,
    followup,
    improvements,
    notifications,
    public,
    queries,
    remedies,
    service,
    settings,
)
from retento.complaints.schemas import (
    AssignIn,
    AttachmentRead,
    CalendarIn,
    CalendarRead,
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    ComplaintCreate,
    ComplaintDetail,
    ComplaintRead,
    ComplaintUpdate,
    EventRead,
    FollowUpIn,
    ImprovementCreate,
    ImprovementRead,
    ImprovementUpdate,
    NoteIn,
    NotificationRead,
    RemedyCreate,
    RemedyRead,
    SlaPolicyIn,
    SlaPolicyRead,
    SlaPolicyUpdate,
    TransitionIn,
)
from retento.core.db import utcnow
from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.errors import InvalidInput, Msg
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset, TimeFilter
from retento.core.versioning import IfMatch, parse_if_match, set_etag

api = APIRouter(prefix="/api/v1/complaints", tags=["complaints"])


# Fixed paths first: "/{complaint_id}" would otherwise swallow them.


@api.get("/categories", response_model=list[CategoryRead])
def list_categories(session: DbSession, user: CurrentUser):
    return settings.list_categories(session, actor=user)


@api.post("/categories", response_model=CategoryRead, status_code=201)
def create_category(data: CategoryCreate, session: DbSession, user: CurrentUser):
    return settings.create_category(session, data, actor=user)


@api.patch("/categories/{category_id}", response_model=CategoryRead)
def update_category(
    category_id: DbId,
    data: CategoryUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Rename, move (no cycles) or (de)activate a category; its complaints keep it. A stale
    ``If-Match`` or ``version`` is 409 with nothing written."""
    cat = settings.update_category(
        session, category_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, cat)
    return cat


@api.get("/calendars", response_model=list[CalendarRead])
def list_calendars(session: DbSession, user: CurrentUser):
    return settings.list_calendars(session, actor=user)


@api.post("/calendars", response_model=CalendarRead, status_code=201)
def create_calendar(data: CalendarIn, session: DbSession, user: CurrentUser):
    return settings.create_calendar(session, data, actor=user)


@api.put("/calendars/{calendar_id}", response_model=CalendarRead)
def update_calendar(
    calendar_id: DbId,
    data: CalendarIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Replace a calendar; a stale ``If-Match`` or ``version`` is 409 with nothing written."""
    row = settings.update_calendar(
        session, calendar_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, row)
    return row


@api.get("/sla-policies", response_model=list[SlaPolicyRead])
def list_policies(session: DbSession, user: CurrentUser):
    return settings.list_policies(session, actor=user)


@api.post("/sla-policies", response_model=SlaPolicyRead, status_code=201)
def create_policy(data: SlaPolicyIn, session: DbSession, user: CurrentUser):
    return settings.create_policy(session, data, actor=user)


@api.patch("/sla-policies/{policy_id}", response_model=SlaPolicyRead)
def update_policy(
    policy_id: DbId,
    data: SlaPolicyUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change a policy; a stale ``If-Match`` or ``version`` is 409 with nothing written."""
    p = settings.update_policy(
        session, policy_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, p)
    return p


@api.get("/notifications", response_model=Page[NotificationRead])
def list_notifications(
    session: DbSession,
    user: CurrentUser,
    unread: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = notifications.list_notifications(
        session, actor=user, unread_only=unread, limit=limit, offset=offset
    )
    return Page(
        items=[NotificationRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@api.post("/notifications/{notification_id}/read", status_code=204)
def read_notification(notification_id: DbId, session: DbSession, user: CurrentUser):
    notifications.mark_notification_read(session, notification_id, actor=user)
    return Response(status_code=204)


@api.get("/improvements", response_model=list[ImprovementRead])
def list_improvements(session: DbSession, user: CurrentUser, root_cause: str | None = None):
    return improvements.list_improvements(session, actor=user, root_cause=root_cause)


@api.post("/improvements", response_model=ImprovementRead, status_code=201)
def create_improvement(data: ImprovementCreate, session: DbSession, user: CurrentUser):
    return improvements.create_improvement(session, data, actor=user)


@api.patch("/improvements/{improvement_id}", response_model=ImprovementRead)
def update_improvement(
    improvement_id: DbId, data: ImprovementUpdate, session: DbSession, user: CurrentUser
):
    return improvements.update_improvement(session, improvement_id, data, actor=user)


@api.get("/remedy-totals")
def remedy_totals(
    session: DbSession,
    user: CurrentUser,
    since: TimeFilter | None = None,
    until: TimeFilter | None = None,
) -> list[dict]:
    rows = remedies.remedy_totals(session, actor=user, since=since, until=until)
    return [{**r, "amount": format(r["amount"], "f"), "cost": format(r["cost"], "f")} for r in rows]


@api.get("/analytics")
def dashboard(
    session: DbSession,
    user: CurrentUser,
    since: TimeFilter | None = Query(None, description="Complaints received from (with zone)."),
    until: TimeFilter | None = Query(None, description="… until (exclusive)."),
    value_class: str | None = Query(
        None, description="Only complaints of customers of this value class (vip, major, …)."
    ),
    channel: str | None = Query(None, description="Only complaints received on this channel."),
    category: str | None = Query(
        None, description="Only complaints in this category (its code) or below it."
    ),
) -> dict:
    """Every figure of the complaints dashboard, for the complaints the filters select."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(Msg("%(field)s needs a time zone.", field=name), field=name)
    return analytics.dashboard(
        session,
        actor=user,
        since=since,
        until=until,
        value_class=value_class,
        channel=channel,
        category=category,
    )


@api.get("/timeline/{customer_id}", response_model=list[EventRead])
def customer_timeline(customer_id: DbId, session: DbSession, user: CurrentUser, limit: Limit = 200):
    # (The schema said up to 1000 while the handler refused more than 500: one bound, the API's.)
    return queries.customer_timeline(session, customer_id, actor=user, limit=limit)


@api.get("/attachments/{attachment_id}")
def download_attachment(attachment_id: DbId, session: DbSession, user: CurrentUser):
    att = attachments.get_attachment(session, attachment_id, actor=user)
    return FileResponse(att.path, media_type=att.content_type, filename=att.filename)


@api.get("", response_model=Page[ComplaintRead])
def list_complaints(
    session: DbSession,
    user: CurrentUser,
    queue: Literal["all", "mine", "team", "breaching"] = Query(
        "all", description="mine, my team's, or breaching soon (within `within_minutes`)."
    ),
    within_minutes: int = Query(120, ge=0, le=60 * 24 * 30),
    status: str | None = None,
    open: bool = Query(False, description="Only accepted, in progress or awaiting customer."),
    customer_id: DbId | None = None,
    assignee_id: DbId | None = None,
    severity: int | None = Query(None, ge=1, le=4),
    category_id: DbId | None = None,
    channel: str | None = None,
    kind: Literal["complaint", "grumble"] | None = None,
    flagged: bool | None = None,
    q: str | None = Query(None, description="Tracking code, external id or id."),
    sort: str | None = Query(
        None, description="due, -due, received_at, severity, status, id (prefix - for desc)."
    ),
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = queries.list_complaints(
        session,
        actor=user,
        status=status,
        open_only=open,
        customer_id=customer_id,
        assignee_id=assignee_id,
        mine_for=user if queue == "mine" else None,
        team_for=user if queue == "team" else None,
        breaching_soon=utcnow() + timedelta(minutes=within_minutes)
        if queue == "breaching"
        else None,
        severity=severity,
        category_id=category_id,
        channel=channel,
        kind=kind,
        flagged=flagged,
        q=q,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[ComplaintRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@api.post("", response_model=ComplaintRead, status_code=201)
def create_complaint(
    data: ComplaintCreate,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    return service.create_complaint(
        session, data, actor=user, source="api", idempotency_key=idempotency_key
    )


@api.get("/{complaint_id}", response_model=ComplaintDetail)
def get_complaint(complaint_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    """One complaint with its timeline; the ``ETag`` header carries its version."""
    c = service.get_complaint(session, complaint_id, actor=user)
    set_etag(response, c)
    return service.detail(session, c)


@api.patch("/{complaint_id}", response_model=ComplaintRead)
def update_complaint(
    complaint_id: DbId,
    data: ComplaintUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Edit intake fields; a stale ``If-Match`` or ``version`` gets 409."""
    c = service.update_complaint(
        session, complaint_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, c)
    return c


@api.post("/{complaint_id}/transitions", response_model=ComplaintRead)
def transition(complaint_id: DbId, data: TransitionIn, session: DbSession, user: CurrentUser):
    return service.apply_transition(session, complaint_id, data, actor=user)


@api.post("/{complaint_id}/assignment", response_model=ComplaintRead)
def assign(complaint_id: DbId, data: AssignIn, session: DbSession, user: CurrentUser):
    return service.assign(session, complaint_id, data, actor=user)


@api.post("/{complaint_id}/notes", response_model=EventRead, status_code=201)
def add_note(
    complaint_id: DbId,
    data: NoteIn,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    service.get_complaint(session, complaint_id, actor=user)
    return service.add_note(
        session, complaint_id, data, actor=user, idempotency_key=idempotency_key
    )


@api.post("/{complaint_id}/remedies", response_model=RemedyRead, status_code=201)
def add_remedy(
    complaint_id: DbId,
    data: RemedyCreate,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    return remedies.add_remedy(
        session, complaint_id, data, actor=user, idempotency_key=idempotency_key
    )


@api.post("/{complaint_id}/follow-up", response_model=ComplaintRead)
def follow_up(complaint_id: DbId, data: FollowUpIn, session: DbSession, user: CurrentUser):
    return followup.record_follow_up(session, complaint_id, data, actor=user)


@api.post("/{complaint_id}/attachments", response_model=AttachmentRead, status_code=201)
def upload_attachment(
    complaint_id: DbId,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    file: UploadFile = File(...),
):
    # Read one byte past the limit so an oversized upload is refused without reading it all.
    data = file.file.read(attachments.MAX_ATTACHMENT_BYTES + 1)
    return attachments.add_attachment(
        session,
        complaint_id,
        file.filename or "file",
        file.content_type or "",
        data,
        actor=user,
        data_dir=request.app.state.settings.data_dir,
    )


router = APIRouter()
router.include_router(api)
router.include_router(public.router)
