"""Web pages: record a touchpoint (客户触点) from the customer 360 page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.core.validation import DbId
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.customers.service import can_change_customer, get_customer
from retento.touchpoints import service
from retento.touchpoints.forms import FIELDS, field_options, local_now, parse_local
from retento.touchpoints.schemas import TouchpointCreate
from retento.web.forms import FORM_KEY, PageForm, reissue_key_on_reuse, submitted_key
from retento.web.i18n import N_
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


def form_context(
    request: Request,
    customer: Customer,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> dict[str, Any]:
    """What ``touchpoints/_form.html`` needs."""
    form = values or {
        "occurred_at": local_now(request),
        "channel": "phone",
        "stage": "after_sales",
        "direction": "inbound",
        "outcome": "neutral",
    }
    return {
        "customer": customer,
        "form": form,
        "errors": errors or {},
        "saved": saved,
        **field_options(request),
    }


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict | None:
    if not can_change_customer(user, customer):
        return None
    return form_context(request, customer)


register_panel(
    Panel(
        key="touchpoint_form",
        title=N_("Record a touchpoint"),
        template="touchpoints/_panel.html",
        load=_panel,
        permission="touchpoint:create",
        order=10,
        slot="side",
    )
)


@router.get("/customers/{customer_id:int}/touchpoints/new")
def touchpoint_new(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """A page with only the touchpoint form (the 360 page shows the same form inline)."""
    customer = get_customer(session, customer_id, actor=user)
    return render(request, "touchpoints/new.html", **form_context(request, customer))


@router.post("/customers/{customer_id:int}/touchpoints")
def touchpoint_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Record the touchpoint; htmx gets a fresh form and a ``timelineChanged`` event."""
    customer = get_customer(session, customer_id, actor=user)
    values = {k: str(form.get(k) or "").strip() for k in FIELDS}
    values[FORM_KEY] = submitted_key(form)
    try:
        data = TouchpointCreate(
            customer_id=customer.id,
            occurred_at=parse_local(request, values["occurred_at"], "occurred_at"),
            channel=values["channel"],
            stage=values["stage"],
            direction=values["direction"] or "inbound",
            outcome=values["outcome"] or "neutral",
            note=values["note"] or None,
        )
        service.create_touchpoint(
            session, data, actor=user, idempotency_key=values[FORM_KEY] or None
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        customer = get_customer(session, customer_id, actor=user)
        errors = form_errors(request, exc)
        reissue_key_on_reuse(errors, values)
        ctx = form_context(request, customer, values, errors)
        if is_htmx(request):
            return render(request, "touchpoints/_form.html", **ctx)
        return render(request, "touchpoints/new.html", status_code=422, **ctx)
    if is_htmx(request):
        return render(
            request,
            "touchpoints/_form.html",
            headers={"HX-Trigger": "timelineChanged"},
            **form_context(request, customer, saved=True),
        )
    flash(request, tr(request, "The touchpoint was recorded."))
    return redirect(request, f"/customers/{customer.id}")


# The touchpoint list and edit form live in their own module; their routes join this router.
from retento.touchpoints import list_pages  # noqa: E402

router.include_router(list_pages.router)
