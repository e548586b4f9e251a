"""The product picker's source: search by name, SKU (external id) or category
(``products.service.product_filter``); active products first."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.products.models import Product
from retento.products.service import product_filter
from retento.web.i18n import N_
from retento.web.pickers import PickerItem, PickerSource, register_picker


def item(p: Product) -> PickerItem:
    """A product as a picker option: the name, then number, SKU and category."""
    parts = [f"#{p.id}", p.external_id, p.category]
    return PickerItem(
        id=p.id,
        label=p.name,
        detail=" · ".join(x for x in parts if x),
        note="" if p.is_active else N_("Inactive"),
    )


def find(session: Session, q: str, actor: User, limit: int) -> list[PickerItem]:
    """The first ``limit`` products whose name, SKU or category contains ``q``."""
    stmt = (
        product_filter(q=q)
        .order_by(Product.is_active.desc(), Product.name, Product.id)
        .limit(limit)
    )
    return [item(p) for p in session.scalars(stmt)]


def get(session: Session, product_id: int, actor: User) -> PickerItem | None:
    p = session.get(Product, product_id)
    return item(p) if p is not None else None


register_picker(
    PickerSource(
        "product",
        "product:read",
        search=find,
        get=get,
        placeholder=N_("Product name or SKU"),
        no_match=N_("No product matches “%(q)s”."),
        many=N_(
            "%(n)s products match “%(q)s”: choose one from the list or type the product number."
        ),
    )
)
