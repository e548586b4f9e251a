"""Web pages: the product list (search, filters, export), the product form, deactivate/reactivate."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import FieldError, RetentoError
from retento.core.pagination import apply_sort
from retento.core.validation import DbId, offset_from_text
from retento.dataio.downloads import download, entity_producer
from retento.products import service
from retento.products.models import Product
from retento.products.schemas import ProductCreate, ProductRead, ProductUpdate
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import FORM_KEY, PageForm, reissue_key_on_reuse, submitted_key
from retento.web.i18n import N_
from retento.web.listfilters import raw_params, refuse, with_query
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    is_htmx,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()

register_nav(NavItem("products", N_("Products"), "/products", "product:read", 45, "more"))

PAGE_SIZE = 50
FORM_FIELDS = ("name", "external_id", "category", "unit_price", "unit_cost")

SORT_OPTIONS = (
    ("name", N_("Name A–Z")),
    ("-name", N_("Name Z–A")),
    ("category", N_("Category")),
    ("unit_price", N_("Price, lowest first")),
    ("-unit_price", N_("Price, highest first")),
    ("-id", N_("Newest first")),
)
SORTS = {code for code, _ in SORT_OPTIONS}

FIELD_LABELS = {
    "name": N_("Name"),
    "external_id": N_("SKU"),
    "category": N_("Category"),
    "unit_price": N_("List price"),
    "unit_cost": N_("Unit cost"),
    "is_active": N_("Active"),
}


def _filters(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    raw = raw_params(request, ("q", "category", "active", "sort"))
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    if raw["q"]:
        filters["q"] = raw["q"]
    if raw["category"]:
        filters["category"] = raw["category"]
    if raw["active"] in ("1", "0"):
        filters["active"] = raw["active"] == "1"
    elif raw["active"] not in ("", "all"):
        problems.append(FieldError("active", tr(request, "Choose active, inactive or all.")))
    if raw["sort"] and raw["sort"] not in SORTS:
        problems.append(FieldError("sort", tr(request, "Choose one of the listed orders.")))
    raw["sort"] = raw["sort"] if raw["sort"] in SORTS else "name"
    refuse(problems)
    return filters, raw


def list_page(
    session: Session, user: User, filters: dict[str, Any], sort: str, limit: int, offset: int
) -> list[Product]:
    """One page of the filtered, sorted list."""
    require(user, "product:read")
    stmt = apply_sort(service.product_filter(**filters), sort, service.SORTABLE, Product.id)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


@router.get("/products")
def product_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Search products by name, SKU or category; filter by category and whether active."""
    require(user, "product:read")
    filters, raw = _filters(request)
    offset = offset_from_text(request.query_params.get("offset", "0"))
    rows = list_page(session, user, filters, raw["sort"], PAGE_SIZE + 1, offset)
    ctx = {
        "rows": rows[:PAGE_SIZE],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "csv_url": with_query(request, "/products/export.csv"),
        "xlsx_url": with_query(request, "/products/export.xlsx"),
        "may_change": can(user, "product:update"),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "products/_results.html", **ctx)
    return render(
        request,
        "products/list.html",
        categories=[(c, c) for c in service.categories(session, actor=user)],
        sorts=[(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
        **ctx,
    )


def _export(request: Request, user: User, fmt: str) -> Response:
    filters, _ = _filters(request)
    return download(
        request,
        user,
        entity_producer("products", filters),
        fmt=fmt,
        filename="products",
        sheet=tr(request, "Products"),
    )


@router.get("/products/export.csv")
def product_export_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered list as CSV in the importer's format (re-imports unchanged), streamed."""
    require(user, "data:export")
    return _export(request, user, "csv")


@router.get("/products/export.xlsx")
def product_export_xlsx(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered list as an Excel workbook (prices as numbers), streamed."""
    require(user, "data:export")
    return _export(request, user, "xlsx")


def _values(product: Product | None) -> dict[str, str]:
    if product is None:
        return {}
    return {
        "name": product.name,
        "external_id": product.external_id or "",
        "category": product.category or "",
        "unit_price": format(product.unit_price, "f"),
        "unit_cost": format(product.unit_cost, "f"),
        "version": str(product.version),
    }


def _posted(product: Product) -> dict[str, str]:
    """The product as its edit form posts it unchanged (input name → value): the form's hidden
    base of a three-way stale-edit page (``web.conflict``), read back by ``_parse``."""
    return {k: v for k, v in _values(product).items() if k != "version"}


def _compared(form: Any) -> dict[str, Any]:
    """Edit-form inputs → the values the stale-edit page compares (read as a save reads them)."""
    update = ProductUpdate(**_parse(form)[0])
    return update.model_dump(exclude_unset=True, exclude={"version"})


def _parse(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    shown = {k: str(form.get(k) or "").strip() for k in FORM_FIELDS}
    shown["version"] = str(form.get("version") or "").strip()
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items() if k in FORM_FIELDS}
    data["name"] = shown["name"]
    return data, shown


def _render_form(
    request: Request,
    product: Product | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
    **extra: Any,
) -> Response:
    """The form; a product's edit form carries the values it was loaded with (``base``, for
    the stale-edit page), kept when it comes back with errors."""
    return render(
        request,
        "products/form.html",
        status_code=status_code,
        product=product,
        form=values,
        errors=errors or {},
        base=base if base is not None or product is None else _posted(product),
        **extra,
    )


def _cross_sell(session: Session, user: User, product_id: int) -> dict[str, Any]:
    """The "often bought with it" section: the latest product-level market-basket rules."""
    if not can(user, "score:read"):
        return {}
    from retento.insights.basket_service import cross_sell_for_product

    run, items = cross_sell_for_product(session, product_id)
    return {"cross_sell": items, "cross_sell_run": run}


@router.get("/products/new")
def product_new(request: Request, session: DbSession, user: PageUser) -> Response:
    """The form for a new product."""
    require(user, "product:create")
    return _render_form(request, None, {})


@router.post("/products/new")
def product_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Create a product; prices with more than two decimals are refused, naming the field."""
    require(user, "product:create")
    data, shown = _parse(form)
    shown[FORM_KEY] = submitted_key(form)
    try:
        product, created = service.create_product_once(
            session, ProductCreate(**data), actor=user, idempotency_key=shown[FORM_KEY] or None
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        errors = form_errors(request, exc, FIELD_LABELS)
        reissue_key_on_reuse(errors, shown)
        return _render_form(request, None, shown, errors, 422)
    if created:
        flash(request, tr(request, "Product %(name)s was created.", name=product.name))
    else:  # the same form again (a double click, a resend): its product, created once
        flash(
            request,
            tr(
                request,
                "This form was already sent: product %(name)s was created once, not again.",
                name=product.name,
            ),
        )
    return redirect(request, "/products?q=" + quote(product.external_id or product.name))


@router.get("/products/{product_id:int}/edit")
def product_edit(
    request: Request, session: DbSession, user: PageUser, product_id: DbId
) -> Response:
    """The form for changing a product's name, SKU, category, price and cost."""
    product = service.get_product(session, product_id, actor=user)
    require(user, "product:update")
    return _render_form(
        request, product, _values(product), **_cross_sell(session, user, product.id)
    )


def _conflict(
    request: Request,
    session: Session,
    user: User,
    product_id: int,
    submitted: dict[str, Any],
    form: Any,
    expected: int | None,
    action: str,
) -> Response:
    """The stale-edit page; three-way for an edit form that carried its loaded values."""
    current = service.get_product(session, product_id, actor=user)
    return conflict_page(
        request,
        session,
        entity="product",
        record=current,
        title=current.name,
        submitted=submitted,
        current=ProductRead.model_validate(current).model_dump(),
        labels=FIELD_LABELS,
        form=form,
        action=action,
        reload_url=f"/products/{product_id}/edit",
        cancel_url="/products",
        expected=expected,
        base=read_base(form, _compared),
        current_form=_posted(current),
    )


@router.post("/products/{product_id:int}/edit")
def product_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, product_id: DbId
) -> Response:
    """Save the changes; a form loaded before someone else saved gets the conflict page (409)."""
    product = service.get_product(session, product_id, actor=user)
    require(user, "product:update")
    data, shown = _parse(form)
    expected = form_version(form)
    try:
        update = ProductUpdate(**data)
        service.update_product(session, product_id, update, actor=user, expected_version=expected)
    except STALE:
        session.rollback()
        submitted = update.model_dump(exclude_unset=True, exclude={"version"})
        return _conflict(
            request, session, user, product_id, submitted, form, expected,
            f"/products/{product_id}/edit",
        )  # fmt: skip
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        product = service.get_product(session, product_id, actor=user)
        errors = form_errors(request, exc, FIELD_LABELS)
        return _render_form(request, product, shown, errors, 422, form_base(form))
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, "/products?q=" + quote(product.external_id or product.name))


@router.post("/products/{product_id:int}/active")
def product_set_active(
    request: Request, form: PageForm, session: DbSession, user: PageUser, product_id: DbId
) -> Response:
    """Deactivate (``active=0``) or reactivate (``active=1``) a product, at the version shown."""
    service.get_product(session, product_id, actor=user)
    require(user, "product:update")
    wanted = str(form.get("active") or "")
    if wanted not in ("0", "1"):
        refuse([FieldError("active", tr(request, "Choose active or inactive."))])
    expected = form_version(form)
    try:
        product = service.set_product_active(
            session, product_id, wanted == "1", actor=user, expected_version=expected
        )
    except STALE:
        session.rollback()
        return _conflict(
            request, session, user, product_id, {"is_active": wanted == "1"}, form, expected,
            f"/products/{product_id}/active",
        )  # fmt: skip
    if product.is_active:
        flash(request, tr(request, "Product %(name)s is active again.", name=product.name))
    else:
        flash(request, tr(request, "Product %(name)s was deactivated.", name=product.name))
    back = str(form.get("next") or "")
    return redirect(request, back if back.startswith("/products") else "/products")
