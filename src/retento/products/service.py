"""Product catalogue changes and queries."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.idempotency import insert_keyed, keyed_row
from retento.core.pagination import apply_sort, paginate
from retento.core.validation import clean_idempotency_key
from retento.core.versioning import lock_for_edit
from retento.products.models import Product
from retento.products.schemas import ProductCreate, ProductUpdate

SORTABLE = {
    "id": Product.id,
    "name": Product.name,
    "category": Product.category,
    "unit_price": Product.unit_price,
    "external_id": Product.external_id,
}


def get_product(session: Session, product_id: int, *, actor: User) -> Product:
    require(actor, "product:read")
    p = session.get(Product, product_id)
    if p is None:
        raise NotFound("Product", product_id)
    return p


def _check_external_id(
    session: Session, external_id: str | None, own_id: int | None = None
) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Product.id).where(Product.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            Msg(
                "external_id '%(value)s' is already used by product %(id)s.",
                value=external_id,
                id=other,
            ),
            field="external_id",
        )


def create_product(
    session: Session,
    data: ProductCreate,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> Product:
    """Add a product to the catalogue.

    With ``idempotency_key`` (the form's key, the API's ``Idempotency-Key``) a repeated request
    (a double click, a retry) returns the product the first one created; two at once meet at
    the key's unique index and the later one returns the earlier one's product. The same key
    with other details is a 409 (core.idempotency). See :func:`create_product_once`."""
    return create_product_once(session, data, actor=actor, idempotency_key=idempotency_key)[0]


def create_product_once(
    session: Session,
    data: ProductCreate,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> tuple[Product, bool]:
    """:func:`create_product`, and whether it created a new product."""
    require(actor, "product:create")
    key = clean_idempotency_key(idempotency_key)
    if key and (done := keyed_row(session, Product, key, _same_product(data))):
        return done, False
    try:
        _check_external_id(session, data.external_id)
    except Conflict:
        # The SKU may be this request's own product, committed by a retry that ran alongside
        # it since the key was looked up.
        if key and (done := keyed_row(session, Product, key, _same_product(data))):
            return done, False
        raise
    p, created = insert_keyed(
        session, Product(**data.model_dump(), idempotency_key=key), key, _same_product(data)
    )
    if created:
        record(session, actor, "create", "product", p.id, None, snapshot(p))
    return p, created


_CREATE_DETAILS = {"name", "external_id", "category", "unit_price", "unit_cost"}


def _same_product(data: ProductCreate):
    """Whether the product recorded with a key was created from these details (a page sent
    again after Back with another name or price typed in is not)."""
    details = data.model_dump(include=_CREATE_DETAILS)
    return lambda p: all(getattr(p, k) == v for k, v in details.items())


def update_product(
    session: Session,
    product_id: int,
    data: ProductUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Product:
    """Change the fields sent; a stale ``version``/If-Match gets 409 (core.versioning)."""
    p = get_product(session, product_id, actor=actor)
    require(actor, "product:update")
    lock_for_edit(session, p, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("name", "unit_price", "unit_cost"):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    if "external_id" in changes:
        _check_external_id(session, changes["external_id"], p.id)
    before = snapshot(p)
    for key, value in changes.items():
        setattr(p, key, value)
    session.flush()
    record(session, actor, "update", "product", p.id, before, snapshot(p))
    return p


def delete_product(
    session: Session, product_id: int, *, actor: User, version: int | None = None
) -> None:
    """Delete a product on no order line; a stale ``version`` (If-Match) gets 409."""
    from retento.orders.models import OrderLine

    p = get_product(session, product_id, actor=actor)
    require(actor, "product:delete")
    lock_for_edit(session, p, version)
    used = session.scalar(select(func.count()).where(OrderLine.product_id == p.id))
    if used:
        raise Conflict(
            Msg("Product %(id)s is on %(n)s order lines; deactivate it instead.", id=p.id, n=used),
            field="id",
        )
    before = snapshot(p)
    session.delete(p)
    session.flush()
    record(session, actor, "delete", "product", product_id, before, None)


def product_filter(
    *, q: str | None = None, category: str | None = None, active: bool | None = None
):
    """Products whose name, SKU (external id) or category contains ``q`` (any case)."""
    stmt = select(Product)
    if q and q.strip():
        like = "%" + q.strip().lower().replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        stmt = stmt.where(
            func.lower(Product.name).like(like, escape="\\")
            | func.lower(Product.external_id).like(like, escape="\\")
            | func.lower(Product.category).like(like, escape="\\")
        )
    if category:
        stmt = stmt.where(Product.category == category)
    if active is not None:
        stmt = stmt.where(Product.is_active == active)
    return stmt


def set_product_active(
    session: Session,
    product_id: int,
    active: bool,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Product:
    """Deactivate (hidden from the order form's picker, kept on past orders) or reactivate."""
    return update_product(
        session,
        product_id,
        ProductUpdate(is_active=active),
        actor=actor,
        expected_version=expected_version,
    )


def categories(session: Session, *, actor: User) -> list[str]:
    """The categories in use, for the list's filter."""
    require(actor, "product:read")
    stmt = select(Product.category).where(Product.category.is_not(None)).distinct()
    return sorted(c for c in session.scalars(stmt) if c)


def list_products(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    **filters,
):
    require(actor, "product:read")
    stmt = apply_sort(product_filter(**filters), sort, SORTABLE, Product.id)
    return paginate(session, stmt, limit=limit, offset=offset)
