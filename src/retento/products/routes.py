"""Product JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Response

from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.products import service
from retento.products.schemas import ProductCreate, ProductRead, ProductUpdate

router = APIRouter(prefix="/api/v1/products", tags=["products"])


@router.get("", response_model=Page[ProductRead])
def list_products(
    session: DbSession,
    user: CurrentUser,
    q: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    sort: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = service.list_products(
        session,
        actor=user,
        q=q,
        category=category,
        active=active,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[ProductRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post("", response_model=ProductRead, status_code=201)
def create_product(
    data: ProductCreate,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    """Add a product; a retry with the same ``Idempotency-Key`` returns the first one."""
    return service.create_product(session, data, actor=user, idempotency_key=idempotency_key)


@router.get("/{product_id}", response_model=ProductRead)
def get_product(product_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    """One product; the ``ETag`` header carries its version for ``If-Match``."""
    p = service.get_product(session, product_id, actor=user)
    set_etag(response, p)
    return p


@router.patch("/{product_id}", response_model=ProductRead)
def update_product(
    product_id: DbId,
    data: ProductUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change the fields sent; a stale ``If-Match`` or ``version`` gets 409."""
    p = service.update_product(
        session, product_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, p)
    return p


@router.delete("/{product_id}", status_code=204)
def delete_product(
    product_id: DbId, session: DbSession, user: CurrentUser, if_match: IfMatch = None
):
    """Delete a product on no order line (204); a stale ``If-Match`` gets 409."""
    service.delete_product(session, product_id, actor=user, version=parse_if_match(if_match))
    return Response(status_code=204)
