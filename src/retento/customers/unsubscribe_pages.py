"""The public unsubscribe page behind the link in marketing e-mail (no login): it asks the
customer to confirm (so a mail scanner that opens links unsubscribes nobody), then withdraws
their e-mail consent. In the e-mail's language (``?lang=``); a second click, or a click after
the customer was erased, says they are unsubscribed; a wrong link says so, revealing nothing."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from retento.core.deps import DbSession
from retento.customers import unsubscribe as service
from retento.mail.unsubscribe import customer_of
from retento.web.forms import PageForm
from retento.web.i18n import LOCALES, normalise_locale
from retento.web.render import page_router, render, request_locale

router = page_router()
TEMPLATE = "customers/unsubscribe.html"


def _locale(request: Request) -> str:
    lang = request.query_params.get("lang")
    return normalise_locale(lang) if lang in LOCALES else request_locale(request)


def _customer(request: Request, token: str) -> int | None:
    return customer_of(token, request.app.state.settings.secret_key)


@router.get("/unsubscribe/{token}")
def unsubscribe_page(request: Request, session: DbSession, token: str) -> Response:
    """Confirm the unsubscribe (or say it is done already)."""
    locale = _locale(request)
    cid = _customer(request, token)
    if cid is None:
        return render(request, TEMPLATE, 404, locale=locale, state="invalid")
    state = "done" if service.unsubscribed(session, cid) else "confirm"
    return render(request, TEMPLATE, locale=locale, state=state, token=token)


@router.post("/unsubscribe/{token}")
def unsubscribe_submit(
    request: Request, form: PageForm, session: DbSession, token: str
) -> Response:
    """Withdraw the customer's e-mail consent; repeating it changes nothing."""
    locale = _locale(request)
    cid = _customer(request, token)
    if cid is None:
        return render(request, TEMPLATE, 404, locale=locale, state="invalid")
    service.unsubscribe(session, cid)
    return render(request, TEMPLATE, locale=locale, state="done", token=token)
