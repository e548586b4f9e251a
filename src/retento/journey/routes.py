"""Journey and experience JSON API: experience records (CRUD), the journey funnel and the
experience dashboard data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset, TimeFilter
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.journey import service
from retento.journey.dashboard import experience_summary
from retento.journey.funnel import journey_funnel
from retento.journey.schemas import ExperienceCreate, ExperienceRead, ExperienceUpdate

experiences = APIRouter(prefix="/api/v1/experiences", tags=["experience"])
insights = APIRouter(prefix="/api/v1/insights", tags=["insights"])


def _utc(value: datetime | None) -> datetime | None:
    """Naive ``since``/``until`` filters are read as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@experiences.get("", response_model=Page[ExperienceRead])
def list_experiences(
    session: DbSession,
    user: CurrentUser,
    customer_id: DbId | None = None,
    mode: str | None = None,
    stage: str | None = None,
    # 1–5 like the records: a number past 2^31 reached the database (a field-less 422).
    rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    touchpoint_id: DbId | None = None,
    since: TimeFilter | None = None,
    until: TimeFilter | None = None,
    sort: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    """Experience records, newest first unless ``sort`` says otherwise."""
    rows, total = service.list_experiences(
        session,
        actor=user,
        customer_id=customer_id,
        mode=mode,
        stage=stage,
        rating=rating,
        touchpoint_id=touchpoint_id,
        since=_utc(since),
        until=_utc(until),
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[ExperienceRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@experiences.post("", response_model=ExperienceRead, status_code=201)
def create_experience(
    data: ExperienceCreate,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    """Record an experience (mode, rating 1–5, note) of a customer, optionally linked to a
    touchpoint (its stage is used unless ``stage`` is given) and/or a survey answer. A retry
    with the same ``Idempotency-Key`` returns the first record."""
    return service.create_experience(session, data, actor=user, idempotency_key=idempotency_key)


@experiences.get("/{experience_id}", response_model=ExperienceRead)
def get_experience(experience_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    """One record; the ``ETag`` header carries its version for ``If-Match``."""
    e = service.get_experience(session, experience_id, actor=user)
    set_etag(response, e)
    return e


@experiences.patch("/{experience_id}", response_model=ExperienceRead)
def update_experience(
    experience_id: DbId,
    data: ExperienceUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change the fields sent; a stale ``If-Match`` or ``version`` gets 409."""
    e = service.update_experience(
        session, experience_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, e)
    return e


@experiences.delete("/{experience_id}", status_code=204)
def delete_experience(
    experience_id: DbId, session: DbSession, user: CurrentUser, if_match: IfMatch = None
):
    """Delete an experience record (204); a stale ``If-Match`` gets 409 and deletes nothing."""
    service.delete_experience(session, experience_id, actor=user, version=parse_if_match(if_match))
    return Response(status_code=204)


@insights.get("/journey")
def journey_insight(
    session: DbSession,
    user: CurrentUser,
    since: TimeFilter | None = None,
    until: TimeFilter | None = None,
    include: Annotated[
        list[Literal["orders", "complaints"]],
        Query(
            description="Records counted as journey events besides the touchpoints: orders "
            "(not cancelled) as 'order and deposit', complaints as 'after-sales service'."
        ),
    ] = [],  # noqa: B006 (FastAPI copies the default)
) -> dict[str, Any]:
    """The journey funnel of the touchpoints in ``[since, until)``: customers reaching each
    stage, conversion and drop-off overall and per channel, median days between stages."""
    require(user, service.READ)
    return journey_funnel(
        session, start=_utc(since), end=_utc(until), sources=tuple(include)
    ).as_dict()


@insights.get("/experience")
def experience_insight(
    session: DbSession,
    user: CurrentUser,
    since: TimeFilter | None = None,
    until: TimeFilter | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Counts and mean ratings (1–5) by experience mode, journey stage and mode × stage, from
    experience records and answers to mode-tagged survey questions (``source`` keeps one)."""
    require(user, service.READ)
    out = experience_summary(session, start=_utc(since), end=_utc(until), source=source).as_dict()
    out.pop("raw")
    return out


# The app includes ``router``: the records under /api/v1/experiences, the two analyses under
# /api/v1/insights (next to the other Insights endpoints).
router = APIRouter()
router.include_router(experiences)
router.include_router(insights)
