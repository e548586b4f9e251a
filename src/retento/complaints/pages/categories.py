"""The complaint category tree admin (managers and admins)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.auth.permissions import require
from retento.complaints import settings
from retento.complaints.models import (
    Complaint,
    ComplaintCategory,
)
from retento.complaints.pages.common import (
    cat_name,
    reraise_access,
    tree_label,
)
from retento.complaints.schemas import (
    CategoryCreate,
    CategoryUpdate,
)
from retento.core.deps import DbSession
from retento.core.errors import Conflict, InvalidInput, Msg, RetentoError
from retento.core.validation import DbId, id_from_text
from retento.web.conflict import STALE, conflict_page, form_base, form_version, read_base
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()


# --- category tree admin -----------------------------------------------------------------------

CATEGORY_FIELDS = ("code", "name", "name_zh", "parent_id")
# Field names on the conflict page (the edit form's labels).
CATEGORY_LABELS = {
    "name": N_("Name"),
    "name_zh": N_("Chinese name"),
    "parent_id": N_("Parent category"),
    "is_active": N_("Offered on the intake forms"),
}


def _parent_id(value: str) -> int | None:
    """The chosen parent: blank is the top level; anything that is no category id (a tampered
    select, "abc", "-1") is refused on the field, not read as "top level" (which silently moved
    the category)."""
    if not value:
        return None
    parent = id_from_text(value)
    if parent is None:
        raise InvalidInput(
            Msg("Category %(value)s does not exist.", value=repr(value[:40])), field="parent_id"
        )
    return parent


def _category_errors(request: Request, exc: ValidationError | RetentoError) -> dict[str, str]:
    """Form errors by field; the service's usual refusals in the page's language."""
    errors = form_errors(request, exc)
    if isinstance(exc, Conflict) and exc.field == "code":
        errors["code"] = tr(request, "A category with this code exists already.")
    elif isinstance(exc, InvalidInput) and exc.field == "parent_id":
        if "itself" in exc.message:
            errors["parent_id"] = tr(
                request, "A category cannot move under itself or one of its subcategories."
            )
        else:
            errors["parent_id"] = tr(request, "This parent category does not exist.")
    if isinstance(exc, ValidationError) and any(
        e["loc"] == ("code",) and e["type"] == "string_pattern_mismatch" for e in exc.errors()
    ):
        errors["code"] = tr(
            request, "Use lower-case letters, digits, hyphens, dots or underscores only."
        )
    return errors


def _parent_options(
    request: Request, session: Session, exclude: int | None = None
) -> list[tuple[str, str]]:
    """Possible parents in tree order; ``exclude`` leaves out a category and its subtree."""
    out = []
    for c, _, path in settings.category_tree(session):
        if exclude is not None and any(p.id == exclude for p in path):
            continue
        out.append((str(c.id), tree_label(request, path)))
    return out


def _render_categories(
    request: Request,
    session: Session,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    tree = settings.category_tree(session)
    used = dict(
        session.execute(
            select(Complaint.category_id, func.count()).group_by(Complaint.category_id)
        ).all()
    )
    offered = {c.id for c, _, _ in settings.category_tree(session, active_only=True)}
    rows = [
        {
            "c": c,
            "depth": depth,
            "name": cat_name(request, c),
            "offered": c.id in offered,
            "complaints": used.get(c.id, 0),
        }
        for c, depth, _ in tree
    ]
    return render(
        request,
        "complaints/categories.html",
        status_code=status_code,
        rows=rows,
        parents=_parent_options(request, session),
        form=form or {},
        errors=errors or {},
    )


def _error_status(exc: Exception) -> int:
    return 409 if isinstance(exc, Conflict) else 422


@router.get("/complaints/categories")
def category_admin(request: Request, session: DbSession, user: PageUser) -> Response:
    """The complaint category tree (managers and admins)."""
    require(user, "sla:manage")
    return _render_categories(request, session)


@router.post("/complaints/categories")
def category_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """Add a category (at the top or under a parent)."""
    require(user, "sla:manage")
    shown = {k: str(form.get(k) or "").strip() for k in CATEGORY_FIELDS}
    try:
        settings.create_category(
            session,
            CategoryCreate(
                code=shown["code"].lower(),
                name=shown["name"],
                name_zh=shown["name_zh"] or None,
                parent_id=_parent_id(shown["parent_id"]),
            ),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        errors = _category_errors(request, exc)
        return _render_categories(request, session, shown, errors, _error_status(exc))
    flash(request, tr(request, "The category was saved."))
    return redirect(request, "/complaints/categories")


def _category_posted(cat: ComplaintCategory) -> dict[str, str]:
    """The category as its edit form posts it unchanged (input name → value): the form's
    hidden base of a three-way stale-edit page (``web.conflict``)."""
    return {
        "name": cat.name,
        "name_zh": cat.name_zh or "",
        "parent_id": "" if cat.parent_id is None else str(cat.parent_id),
        "is_active": "1" if cat.is_active else "",
    }


def _category_update(shown: dict[str, Any]) -> CategoryUpdate:
    """The edit form's values (``_category_shown``) as the service's input."""
    return CategoryUpdate(
        name=shown["name"],
        name_zh=shown["name_zh"] or None,
        parent_id=_parent_id(shown["parent_id"]),
        is_active=shown["is_active"],
    )


def _category_shown(form: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in CATEGORY_FIELDS[1:]}
    shown["is_active"] = form.get("is_active") == "1"
    return shown


def _category_compared(form: Any) -> dict[str, Any]:
    """Edit-form inputs → the values the stale-edit page compares."""
    update = _category_update(_category_shown(form))
    return update.model_dump(include={k for k in CATEGORY_LABELS if k in update.model_fields_set})


def _render_category(
    request: Request,
    session: Session,
    cat: ComplaintCategory,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The edit form; it carries the values it was loaded with (``base``, for the stale-edit
    page), kept when it comes back with errors."""
    return render(
        request,
        "complaints/category.html",
        status_code=status_code,
        cat=cat,
        parents=_parent_options(request, session, exclude=cat.id),
        form=form,
        errors=errors or {},
        base=base if base is not None else _category_posted(cat),
    )


@router.get("/complaints/categories/{category_id:int}")
def category_edit(
    request: Request, session: DbSession, user: PageUser, category_id: DbId
) -> Response:
    """Rename, move or (de)activate one category."""
    require(user, "sla:manage")
    cat = settings.get_category(session, category_id)
    form = {
        "name": cat.name,
        "name_zh": cat.name_zh or "",
        "parent_id": "" if cat.parent_id is None else str(cat.parent_id),
        "is_active": cat.is_active,
        "version": str(cat.version),
    }
    return _render_category(request, session, cat, form)


@router.post("/complaints/categories/{category_id:int}")
def category_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, category_id: DbId
) -> Response:
    """Save a category; complaints filed under it keep it."""
    require(user, "sla:manage")
    cat = settings.get_category(session, category_id)
    shown = _category_shown(form)
    expected = form_version(form)
    shown["version"] = "" if expected is None else str(expected)
    update = None
    try:
        update = _category_update(shown)
        settings.update_category(
            session, category_id, update, actor=user, expected_version=expected
        )
    except STALE:
        session.rollback()
        current = settings.get_category(session, category_id)
        keys = [k for k in CATEGORY_LABELS if k in update.model_fields_set]
        return conflict_page(
            request,
            session,
            entity="complaint_category",
            record=current,
            title=current.name,
            submitted=update.model_dump(include=set(keys)),
            current={k: getattr(current, k) for k in keys},
            labels=CATEGORY_LABELS,
            form=form,
            action=f"/complaints/categories/{category_id}",
            reload_url=f"/complaints/categories/{category_id}",
            cancel_url="/complaints/categories",
            expected=expected,
            base=read_base(form, _category_compared),
            current_form=_category_posted(current),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        reraise_access(exc)
        cat = settings.get_category(session, category_id)
        errors = _category_errors(request, exc)
        status = _error_status(exc)
        return _render_category(request, session, cat, shown, errors, status, form_base(form))
    flash(request, tr(request, "The category was saved."))
    return redirect(request, "/complaints/categories")


@router.post("/complaints/categories/{category_id:int}/active")
def category_toggle(
    request: Request, form: PageForm, session: DbSession, user: PageUser, category_id: DbId
) -> Response:
    """Deactivate (no longer offered on intake) or reactivate a category from the list."""
    require(user, "sla:manage")
    active = form.get("active") == "1"
    cat = settings.update_category(
        session, category_id, CategoryUpdate(is_active=active), actor=user
    )
    msgid = N_("%(name)s is offered again.") if active else N_("%(name)s is no longer offered.")
    flash(request, tr(request, msgid, name=cat_name(request, cat)))
    return redirect(request, "/complaints/categories")
