"""Customer JSON API."""

from __future__ import annotations

import tempfile
from typing import Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.validation import DbId, Limit, Offset
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.customers import duplicates, merge, privacy, service
from retento.customers.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    DuplicateRead,
    ErasureIn,
    ErasureRead,
    MergeIn,
    MergeRead,
)

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.get("", response_model=CustomerPage)
def list_customers(
    session: DbSession,
    user: CurrentUser,
    q: str | None = Query(
        None,
        max_length=200,
        description="Search: any part of the name (one Chinese character is enough), email, "
        "external id, contact name or email; any run of phone digits (spaces and punctuation "
        "ignored); the customer number. Typos find close names when little else matches. "
        "Without sort, results come best match first (exact, prefix, substring, fuzzy).",
    ),
    kind: str | None = None,
    scope: Literal["external", "internal"] | None = None,
    tag: str | None = None,
    owner_id: DbId | None = None,
    party_type: Literal["person", "organisation"] | None = None,
    mine: bool = Query(False, description="Only customers I own or am assigned to."),
    archived: bool = Query(
        False, description="true: only archived (and erased) customers; false: only active ones."
    ),
    sort: str | None = Query(
        None, description="Field or -field: id, name, kind, external_id, created_at."
    ),
    segment: str | None = Query(
        None,
        max_length=20,
        description="A saved Insights segment as <segment id>:<cluster>, e.g. 3:0 (see "
        "GET /api/v1/insights/segments).",
    ),
    field: str | None = Query(
        None,
        max_length=200,
        description="A choice or yes/no custom field as <key>:<value>, e.g. tier:Gold or "
        "vip:yes (see GET /api/v1/customer-fields).",
    ),
    limit: Limit = 50,
    offset: Offset = 0,
):
    from retento.customers.field_values import parse_filter

    custom_field = parse_filter(session, field) if field else None
    member_of = None
    if segment:
        from retento.insights import segments_service

        chosen = segments_service.parse_filter(segment)
        if chosen is not None:
            segments_service.check_filter(session, chosen)
            member_of = segments_service.members_select(chosen)
    rows, total, lower_bound = service.list_customers_page(
        session,
        actor=user,
        q=q,
        kind=kind,
        scope=scope,
        tag=tag,
        owner_id=owner_id,
        party_type=party_type,
        mine_for=user if mine else None,
        archived=archived,
        member_of=member_of,
        custom_field=custom_field,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return CustomerPage(
        items=[CustomerRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
        total_is_lower_bound=lower_bound,
    )


@router.post(
    "",
    response_model=CustomerRead,
    status_code=201,
    responses={
        409: {
            "description": "possible_duplicate: ``matches`` lists the customers with "
            "the same email, phone or name; send again with force=true."
        }
    },
)
def create_customer(
    data: CustomerCreate,
    session: DbSession,
    user: CurrentUser,
    force: bool = Query(
        False, description="Create even if customers with the same email, phone or name exist."
    ),
    idempotency_key: IdempotencyKey = None,
):
    """Create a customer; a retry with the same ``Idempotency-Key`` returns the first one
    (before the duplicate check, so a retry is never answered with ``possible_duplicate``)."""
    return service.create_customer(
        session, data, actor=user, force=force, idempotency_key=idempotency_key
    )


@router.get("/duplicates", response_model=list[DuplicateRead])
def find_duplicates(
    session: DbSession,
    user: CurrentUser,
    name: str | None = Query(None, max_length=200),
    email: str | None = Query(None, max_length=254),
    phone: str | None = Query(None, max_length=50),
):
    """Active customers with the same email, phone digits or name (what a create would warn)."""
    require(user, "customer:read")
    return duplicates.find_duplicates(session, name=name, email=email, phone=phone)


@router.post("/{customer_id}/merge", response_model=MergeRead)
def merge_customer(
    customer_id: DbId,
    data: MergeIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Merge customer ``merge_id`` into this one: orders, complaints, surveys, touchpoints,
    contacts, tags and loyalty points move here; the other is archived pointing here. Versions
    (``version``/``If-Match`` for this one, ``merge_version`` for the other) that are stale get
    409 ``version_conflict``."""
    survivor, moved = merge.merge_customers(
        session,
        customer_id,
        data.merge_id,
        actor=user,
        survivor_version=data.version if data.version is not None else parse_if_match(if_match),
        merged_version=data.merge_version,
    )
    set_etag(response, survivor)
    return MergeRead(
        customer=CustomerRead.model_validate(survivor), merged_id=data.merge_id, moved=moved
    )


@router.get("/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    """One customer; the ``ETag`` header carries its version for ``If-Match``."""
    c = service.get_customer(session, customer_id, actor=user)
    set_etag(response, c)
    return c


@router.patch("/{customer_id}", response_model=CustomerRead)
def update_customer(
    customer_id: DbId,
    data: CustomerUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change the fields sent; tags and contacts sent are replaced as a whole. A stale
    ``If-Match`` or ``version`` gets 409 ``version_conflict``."""
    c = service.update_customer(
        session, customer_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, c)
    return c


@router.delete("/{customer_id}", status_code=204)
def delete_customer(
    customer_id: DbId,
    session: DbSession,
    user: CurrentUser,
    purge: bool = Query(
        False,
        description="Delete for good instead of archiving: only for a customer entered by "
        "mistake, refused (409) while orders, refunds or complaints exist.",
    ),
    if_match: IfMatch = None,
):
    """Archive the customer (as ``POST .../archive``); history, orders and complaints stay.
    A stale ``If-Match`` gets 409 ``version_conflict``: nothing archived or deleted."""
    version = parse_if_match(if_match)
    if purge:
        service.purge_customer(session, customer_id, actor=user, version=version)
    else:
        service.archive_customer(session, customer_id, actor=user, version=version)
    return Response(status_code=204)


@router.post("/{customer_id}/archive", response_model=CustomerRead)
def archive_customer(
    customer_id: DbId,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Hide the customer from lists, search, scoring and survey distributions (idempotent
    without ``If-Match``; a stale one gets 409 ``version_conflict`` and archives nothing)."""
    c = service.archive_customer(session, customer_id, actor=user, version=parse_if_match(if_match))
    set_etag(response, c)
    return c


@router.post("/{customer_id}/restore", response_model=CustomerRead)
def restore_customer(
    customer_id: DbId,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Undo the archiving (409 for an erased customer; a stale ``If-Match`` gets 409
    ``version_conflict`` and restores nothing)."""
    c = service.restore_customer(session, customer_id, actor=user, version=parse_if_match(if_match))
    set_etag(response, c)
    return c


@router.get(
    "/{customer_id}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "A zip file."}},
)
def export_customer(customer_id: DbId, session: DbSession, user: CurrentUser):
    """Everything held about the customer (privacy access request): JSON and CSV in one zip."""
    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    try:
        privacy.write_export(session, customer_id, out, actor=user)
    except BaseException:
        out.close()
        raise
    out.seek(0)

    def chunks():
        with out:
            while block := out.read(256 * 1024):
                yield block

    name = privacy.export_filename(customer_id)
    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/{customer_id}/erase", response_model=ErasureRead)
def erase_customer(
    customer_id: DbId,
    session: DbSession,
    user: CurrentUser,
    data: ErasureIn | None = None,
    if_match: IfMatch = None,
):
    """Anonymise the customer's personal data for good; orders, refunds and complaint figures
    stay. The customer ends archived and marked erased (409 if it already is). A stale
    ``If-Match`` or ``version`` gets 409 ``version_conflict`` and erases nothing."""
    body = data.version if data is not None else None
    report = privacy.erase_customer(
        session,
        customer_id,
        actor=user,
        reason=data.reason if data else None,
        version=body if body is not None else parse_if_match(if_match),
    )
    return ErasureRead(
        customer_id=report.customer_id, erased_at=report.erased_at, counts=report.counts
    )
