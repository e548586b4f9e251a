"""Product JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Response

from retento.core.deps import CurrentUser, DbSession
from retento.core.pagination import Page
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
    limit: int = 50,
    offset: int = 0,
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
def create_product(data: ProductCreate, session: DbSession, user: CurrentUser):
    return service.create_product(session, data, actor=user)


@router.get("/{product_id}", response_model=ProductRead)
def get_product(product_id: int, session: DbSession, user: CurrentUser):
    return service.get_product(session, product_id, actor=user)


@router.patch("/{product_id}", response_model=ProductRead)
def update_product(product_id: int, data: ProductUpdate, session: DbSession, user: CurrentUser):
    return service.update_product(session, product_id, data, actor=user)


@router.delete("/{product_id}", status_code=204)
def delete_product(product_id: int, session: DbSession, user: CurrentUser):
    service.delete_product(session, product_id, actor=user)
    return Response(status_code=204)
