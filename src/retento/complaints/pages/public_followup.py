"""The public follow-up question behind the link in the resolution e-mail."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from retento.complaints import followup, public, workflow
from retento.complaints.models import (
    Complaint,
)
from retento.complaints.pages.common import (
    int_or_none,
)
from retento.complaints.schemas import (
    SurveyAnswerIn,
)
from retento.core.deps import DbSession
from retento.core.errors import NotFound
from retento.web.forms import PageForm
from retento.web.i18n import LOCALES, N_, gettext, normalise_locale
from retento.web.render import (
    page_router,
    redirect,
    render,
)

router = page_router()


# --- public follow-up question (the link in the resolution e-mail) ------------------------------


def _followup_locale(request: Request, c: Complaint | None) -> str:
    """``?lang=`` (the e-mailed link), else the visitor's own choice in the header's language
    switch, else the customer's language, else the browser's."""
    from retento.mail.compose import customer_locale
    from retento.web.render import request_locale

    lang = request.query_params.get("lang")
    if lang in LOCALES:
        return normalise_locale(lang)
    if "session" in request.scope and request.session.get("locale"):
        return normalise_locale(request.session["locale"])
    customer = c.customer if c is not None and c.customer_id else None
    if customer is not None:
        return customer_locale(customer, request_locale(request))
    return request_locale(request)


def _followup_page(
    request: Request, template: str, locale: str, status_code: int = 200, **extra: Any
) -> Response:
    """Render a follow-up page in ``locale`` whatever the visitor's session says."""
    return render(request, template, status_code=status_code, locale=locale, **extra)


def _followup_gone(request: Request, locale: str, used: bool) -> Response:
    """404 for a link we do not know (mistyped, or replaced on a later resolution), 410 if used."""
    return _followup_page(
        request,
        "complaints/public_followup_gone.html",
        locale,
        410 if used else 404,
        kind="used" if used else "unknown",
    )


def _followup_complaint(session: Session, token: str) -> Complaint | None:
    try:
        return followup.followup_question(session, token)
    except NotFound:
        return None


FOLLOWUP_CSAT = (
    (1, N_("Very dissatisfied")),
    (2, N_("Dissatisfied")),
    (3, N_("Neutral")),
    (4, N_("Satisfied")),
    (5, N_("Very satisfied")),
)


def _render_followup(
    request: Request,
    c: Complaint,
    token: str,
    locale: str,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    lang_q = f"?lang={locale}" if request.query_params.get("lang") else ""
    return _followup_page(
        request,
        "complaints/public_followup.html",
        locale,
        status_code,
        c=c,
        token=token,
        lang_q=lang_q,
        csat_options=[(n, gettext(locale, msgid)) for n, msgid in FOLLOWUP_CSAT],
        form=form or {},
        errors=errors or {},
    )


@router.get("/complain/followup/{token}")
def public_followup(request: Request, session: DbSession, token: str) -> Response:
    """The satisfaction question behind the follow-up link in the resolution e-mail."""
    c = _followup_complaint(session, token)
    locale = _followup_locale(request, c)
    if c is None or c.survey_answered_at is not None:
        return _followup_gone(request, locale, used=c is not None)
    return _render_followup(request, c, token, locale)


@router.post("/complain/followup/{token}")
def public_followup_answer(
    request: Request, form: PageForm, session: DbSession, token: str
) -> Response:
    """Record the answer through the same service as the API (a low score reopens)."""
    shown = {k: str(form.get(k) or "").strip() for k in ("csat", "would_buy_again", "comment")}
    # Counted first, in its own committed transaction, like the other public forms: the hit
    # counts even for a wrong link, and SQLite is not asked to write while this request reads.
    limited: public.TooManyRequests | None = None
    try:
        public.check_rate(request)
    except public.TooManyRequests as exc:
        limited = exc
    c = _followup_complaint(session, token)
    locale = _followup_locale(request, c)
    if c is None or c.survey_answered_at is not None:
        return _followup_gone(request, locale, used=c is not None)
    if limited is not None:
        msgid = N_("Too many submissions from this address; try again in %(seconds)s seconds.")
        rate = {"": gettext(locale, msgid) % {"seconds": limited.retry_after}}
        page = _render_followup(request, c, token, locale, shown, rate, 429)
        page.headers.update(limited.headers)
        return page
    errors: dict[str, str] = {}
    csat = int_or_none(shown["csat"])
    if csat is None or not 1 <= csat <= 5:
        errors["csat"] = gettext(locale, N_("Choose how satisfied you are, from 1 to 5."))
    if shown["would_buy_again"] not in ("yes", "no"):
        errors["would_buy_again"] = gettext(locale, N_("Choose yes or no."))
    if len(shown["comment"]) > 2000:
        errors["comment"] = gettext(locale, N_("At most 2000 characters."))
    if errors:
        return _render_followup(request, c, token, locale, shown, errors, 422)
    try:
        followup.answer_survey(
            session,
            token,
            SurveyAnswerIn(
                csat=csat,
                would_buy_again=shown["would_buy_again"] == "yes",
                comment=shown["comment"] or None,
            ),
        )
    except followup.FollowUpAnswered:
        # Another answer through this link won (a double click, a second tab): one per link.
        session.rollback()
        return _followup_gone(request, locale, used=True)
    lang_q = f"?lang={locale}" if request.query_params.get("lang") else ""
    return redirect(request, f"/complain/followup/{token}/thanks{lang_q}")


@router.get("/complain/followup/{token}/thanks")
def public_followup_thanks(request: Request, session: DbSession, token: str) -> Response:
    """Thank you, and whether the complaint was opened again."""
    c = _followup_complaint(session, token)
    locale = _followup_locale(request, c)
    if c is None:
        return _followup_gone(request, locale, used=False)
    if c.survey_answered_at is None:
        return redirect(request, f"/complain/followup/{token}")
    return _followup_page(
        request,
        "complaints/public_followup_thanks.html",
        locale,
        c=c,
        reopened=workflow.is_open(c.status),
    )
