"""API: run a segmentation, read its result, save / rename / delete segments, list members."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession
from retento.core.validation import DbId, Limit, Offset
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.insights import runs, segments_service
from retento.insights.schemas import (
    MemberPage,
    RunRead,
    SegmentRead,
    SegmentRenameIn,
    SegmentRunIn,
    SegmentSaveIn,
    SegmentSummary,
)

router = APIRouter(prefix="/api/v1/insights/segments", tags=["insights"])


@router.post("/runs", response_model=RunRead, status_code=201)
def run_segments(data: SegmentRunIn, request: Request, session: DbSession, user: CurrentUser):
    """Cluster the latest scoring run's customers. Small data: the result comes back at once
    (status succeeded); larger: status running; poll ``GET /runs/{id}``."""
    run = segments_service.start_run(
        session, request.app.state.session_factory, data.model_dump(), actor=user
    )
    return runs.run_dict(run)


@router.get("/runs/{run_id}", response_model=RunRead)
def get_segment_run(run_id: DbId, session: DbSession, user: CurrentUser):
    require(user, "score:read")
    return runs.run_dict(runs.get_run(session, run_id, segments_service.KIND))


@router.get("", response_model=list[SegmentSummary])
def list_segments(session: DbSession, user: CurrentUser):
    """Saved segments, by name."""
    return segments_service.list_segments(session, actor=user)


@router.post(
    "",
    response_model=SegmentRead,
    status_code=201,
    responses={200: {"model": SegmentRead, "description": "This run was already saved so."}},
)
def save_segment(data: SegmentSaveIn, response: Response, session: DbSession, user: CurrentUser):
    """Save a run's segmentation under a unique name (201; 200 when this run was already saved
    under this name; 409 when another segment has the name)."""
    seg, created = segments_service.save_segment(session, data.run_id, data.name, actor=user)
    if not created:
        response.status_code = 200
    set_etag(response, seg)
    return seg


@router.get("/{segment_id:int}", response_model=SegmentRead)
def get_segment(segment_id: DbId, response: Response, session: DbSession, user: CurrentUser):
    seg = segments_service.get_segment(session, segment_id, actor=user)
    set_etag(response, seg)
    return seg


@router.patch("/{segment_id:int}", response_model=SegmentRead)
def rename_segment(
    segment_id: DbId,
    data: SegmentRenameIn,
    response: Response,
    session: DbSession,
    user: CurrentUser,
    if_match: IfMatch = None,
):
    """Rename; a stale ``version`` (or If-Match) is a 409 version_conflict."""
    expected = data.version if data.version is not None else parse_if_match(if_match)
    seg = segments_service.rename_segment(
        session, segment_id, data.name, actor=user, version=expected
    )
    session.flush()
    set_etag(response, seg)
    return seg


@router.delete("/{segment_id:int}", status_code=204)
def delete_segment(
    segment_id: DbId, session: DbSession, user: CurrentUser, if_match: IfMatch = None
):
    """Delete a saved segment and its members (204). 409 while a retention playbook or a survey
    distribution not sent yet uses it: ``detail`` names them, ``playbooks`` and
    ``survey_distributions`` list their ids. Ids are never given to another segment."""
    segments_service.delete_segment(
        session, segment_id, actor=user, version=parse_if_match(if_match)
    )
    return Response(status_code=204)


@router.get("/{segment_id:int}/members", response_model=MemberPage)
def segment_members(
    segment_id: DbId,
    session: DbSession,
    user: CurrentUser,
    cluster: int | None = Query(None, ge=0, le=11),
    limit: Limit = 100,
    offset: Offset = 0,
):
    """Customer ids of a saved segment (one cluster, or all)."""
    require(user, "customer:read")
    segments_service.get_segment(session, segment_id, actor=user)
    ids, total = segments_service.member_page(session, segment_id, cluster, limit, offset)
    return MemberPage(items=ids, total=total, limit=limit, offset=offset)
