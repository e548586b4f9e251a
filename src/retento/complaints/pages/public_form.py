"""The public complaint form (no login), the tracking-code lookup and the status page
with the customer's reply."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.complaints import public, public_intake, service
from retento.complaints.models import (
    PURPOSES,
)
from retento.complaints.pages.common import (
    opts,
    public_category_options,
)
from retento.complaints.schemas import (
    PublicComplaintIn,
    PublicReplyIn,
)
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.web.forms import PageForm
from retento.web.i18n import N_, gettext
from retento.web.render import (
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)
from retento.web.system_texts import localize_system_text

router = page_router()


# --- public form and status page ---------------------------------------------------------------

PUBLIC_FIELDS = ("name", "email", "phone", "category", "subject", "description", "order_reference")


def _render_public(
    request: Request,
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "complaints/public_form.html",
        status_code=status_code,
        complaint_key=uuid.uuid4().hex,  # a new complaint's idempotency key
        form=values,
        errors=errors or {},
        categories=public_category_options(request, session),
        purposes=opts(request, "purpose", PURPOSES),
    )


def _rate_error(request: Request, exc: public.TooManyRequests) -> dict[str, str]:
    """The translated rate-limit message as a form-wide error."""
    msgid = "Too many submissions from this address; try again in %(seconds)s seconds."
    return {"": tr(request, msgid, seconds=exc.retry_after)}


@router.get("/complain")
def public_form(request: Request, session: DbSession) -> Response:
    """The public complaint form (no login)."""
    return _render_public(request, session, {"category": "other", "purposes": []})


@router.post("/complain")
def public_submit(request: Request, form: PageForm, session: DbSession) -> Response:
    """Accept a public complaint (rate limited, honeypot) and show its tracking code."""
    shown: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in PUBLIC_FIELDS}
    shown["purposes"] = [p for p in form.getlist("purposes") if isinstance(p, str)]
    data: dict[str, Any] = {k: (v or None) for k, v in shown.items()}
    shown["complaint_key"] = str(form.get("complaint_key") or "").strip()[:120]  # kept on a retry
    for key in ("name", "email", "subject", "description"):
        # Required: kept as "" so a blank one reads "This field is required." (None was
        # pydantic's own "Input should be a valid string", shown to the public).
        data[key] = shown[key]
    data["category"] = shown["category"] or "other"
    data["purposes"] = shown["purposes"]
    data["website"] = str(form.get("website") or "") or None
    earlier = None
    if shown["complaint_key"]:  # the same page sent again: its receipt, not counted twice
        try:
            earlier = public_intake.earlier_submission(
                session, PublicComplaintIn(**data), shown["complaint_key"]
            )
        except (ValidationError, RetentoError):
            earlier = None  # a bad form or key is answered below, through the limit
    if earlier is not None:
        request.session["complaint_receipt"] = earlier.tracking_code
        return redirect(request, f"/complain/status/{earlier.tracking_code}")
    try:
        public.check_rate(request)
    except public.TooManyRequests as exc:
        page = _render_public(request, session, shown, _rate_error(request, exc), 429)
        page.headers.update(exc.headers)
        return page
    try:
        c = public_intake.submit_public(
            session,
            PublicComplaintIn(**data),
            locale=request_locale(request),
            idempotency_key=shown["complaint_key"] or None,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        errors = form_errors(request, exc)
        if "website" in errors:
            errors = {"": tr(request, "The form could not be accepted.")}
        if "Idempotency-Key" in errors:  # sent again with other details: a new key to send it
            errors[""] = errors.pop("Idempotency-Key")
            shown["complaint_key"] = ""
        return _render_public(request, session, shown, errors, 422)
    request.session["complaint_receipt"] = c.tracking_code
    return redirect(request, f"/complain/status/{c.tracking_code}")


@router.get("/complain/status")
def public_lookup(request: Request) -> Response:
    """Look up a complaint by its tracking code."""
    code = request.query_params.get("code", "").strip().upper()
    if code:
        return redirect(request, f"/complain/status/{code}")
    return render(request, "complaints/public_lookup.html")


def _render_status(
    request: Request,
    session: Session,
    code: str,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    st = service.public_status(session, code)
    receipt = request.session.pop("complaint_receipt", None) == st["tracking_code"]
    locale = status_locale(request, session, code)
    # A note the system wrote is stored in the installation's language: shown in the page's,
    # as the complaint page shows it in the agent's (``complaint_event.body`` texts).
    st["events"] = [
        {**e, "body": localize_system_text(locale, e["body"], field="complaint_event.body")}
        if e.get("system") and e["body"]
        else e
        for e in st["events"]
    ]
    return render(
        request,
        "complaints/public_status.html",
        status_code=status_code,
        locale=locale,
        lang_q=f"?lang={locale}" if request.query_params.get("lang") else "",
        st=st,
        receipt=receipt,
        errors=errors or {},
        form=form or {},
        open=st["status"] != "closed",
        reply_key=uuid.uuid4().hex,  # a new reply's idempotency key
    )


def status_locale(request: Request, session: Session, code: str) -> str:
    """The status page's language as the follow-up page's: ``?lang=``, else the visitor's own
    choice, else the customer's language (the acknowledgement e-mail linking here is written
    in it), else the browser's."""
    from retento.complaints.pages.public_followup import _followup_locale

    return _followup_locale(request, service.get_by_tracking_code(session, code))


@router.get("/complain/status/{code}")
def public_status_page(request: Request, session: DbSession, code: str) -> Response:
    """Status and customer-visible timeline of a complaint, by tracking code."""
    return _render_status(request, session, code)


@router.post("/complain/status/{code}/reply")
def public_reply_page(request: Request, form: PageForm, session: DbSession, code: str) -> Response:
    """The customer answers from the status page; its errors in the page's language."""
    body = str(form.get("body") or "").strip()
    limited: public.TooManyRequests | None = None
    try:
        public.check_rate(request)  # counted first: a wrong tracking code is an attempt too
    except public.TooManyRequests as exc:
        limited = exc
    # The language the page is rendered in (``?lang=``, the customer's ...), not the browser's.
    locale = status_locale(request, session, code)
    if limited is not None:
        msgid = N_("Too many submissions from this address; try again in %(seconds)s seconds.")
        rate = {"": gettext(locale, msgid) % {"seconds": limited.retry_after}}
        page = _render_status(request, session, code, rate, {"body": body}, 429)
        page.headers.update(limited.headers)
        return page
    try:
        data = PublicReplyIn(body=body, website=str(form.get("website") or "") or None)
        if data.website:
            raise InvalidInput("The form could not be accepted.")
        key = str(form.get("reply_key") or "").strip()[:120] or None
        service.public_reply(session, code, data.body, idempotency_key=key)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status == 404:
            raise
        errors = form_errors(request, exc, locale=locale)
        kept = {"body": body, "reply_key": str(form.get("reply_key") or "")}
        if "Idempotency-Key" in errors:  # sent again with another text: a new key to send it
            errors[""] = errors.pop("Idempotency-Key")
            kept["reply_key"] = ""
        if "tracking_code" in errors:  # closed meanwhile (an old tab): said above the page
            errors[""] = errors.pop("tracking_code")
        return _render_status(request, session, code, errors, kept, 422)
    flash(request, gettext(locale, N_("Thank you, your message was sent.")))
    lang_q = f"?lang={locale}" if request.query_params.get("lang") else ""
    return redirect(request, f"/complain/status/{code.strip().upper()}{lang_q}")
