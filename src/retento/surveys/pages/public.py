"""The public answer form behind a one-time link (no login), in one language only."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.core.deps import DbSession
from retento.core.errors import Conflict, InvalidInput, NotFound, RetentoError
from retento.surveys import languages, responses
from retento.surveys.pages.common import (
    SAVED_FOR_LATER,
    answer_errors,
    parse_answers,
    saved_answers,
)
from retento.surveys.schemas import AnswersSubmit, PublicSurvey
from retento.web.forms import PageForm
from retento.web.i18n import LANGUAGE_NAMES, LOCALES, N_, gettext, normalise_locale
from retento.web.render import (
    flash,
    page_router,
    redirect,
    render,
    request_locale,
)

router = page_router()


def _asked(request: Request) -> str | None:
    """``?lang=`` when the respondent switched (or the e-mailed link carries it)."""
    lang = request.query_params.get("lang")
    return normalise_locale(lang) if lang in LOCALES else None


def _public_locale(request: Request) -> str:
    """The language of a page without a survey (unknown or used link): asked, else browser."""
    return _asked(request) or request_locale(request)


def _survey(session: Session, request: Request, token: str) -> PublicSurvey:
    """The survey behind ``token`` in one language: ``?lang=``, else the customer's, else the
    browser's, used only when the survey has it complete (else the survey's own language)."""
    browser = languages.browser_language(request.headers.get("accept-language"))
    return responses.public_survey(session, token, lang=_asked(request), fallback=browser)


def _switch(ps: PublicSurvey) -> list[tuple[str, str]]:
    """The language switch offers only the languages the survey has complete."""
    return [(code, LANGUAGE_NAMES[code]) for code in ps.languages]


def _public(
    request: Request, template: str, locale: str, status_code: int = 200, **extra: Any
) -> Response:
    """Render a public page in ``locale`` regardless of the visitor's session."""
    survey = extra.get("survey")
    if isinstance(survey, PublicSurvey):
        extra.setdefault("languages", _switch(survey))
    return render(request, template, status_code=status_code, locale=locale, **extra)


def _gone(request: Request, exc: RetentoError, locale: str) -> Response:
    """The friendly page for an unknown, expired, closed or used link."""
    if isinstance(exc, NotFound):
        kind = "unknown"
    elif isinstance(exc, Conflict):
        kind = "closed" if exc.field == "status" else "used"
    elif "expired" in exc.message:
        kind = "expired"
    else:
        kind = "closed"
    return _public(request, "surveys/public_gone.html", locale, exc.status, kind=kind)


@router.get("/s/{token}")
def public_page(request: Request, session: DbSession, token: str) -> Response:
    """The questionnaire behind a one-time link, with the answers saved so far."""
    try:
        ps = _survey(session, request, token)
    except (NotFound, responses.LinkGone) as exc:
        return _gone(request, exc, _public_locale(request))
    # Questions and buttons in one language: the one the survey is shown in.
    locale = ps.language
    if ps.status == "completed":
        return _public(request, "surveys/public_done.html", locale, survey=ps)
    return _public(
        request,
        "surveys/public.html",
        locale,
        survey=ps,
        token=token,
        values=saved_answers(ps.answers),
        answer_errors={},
    )


@router.post("/s/{token}")
def public_submit(request: Request, form: PageForm, session: DbSession, token: str) -> Response:
    """Save the answers (``action=save``) or finish the survey (``action=complete``, once)."""
    try:
        ps = _survey(session, request, token)
    except (NotFound, responses.LinkGone) as exc:
        return _gone(request, exc, _public_locale(request))
    # Questions and buttons in one language: the one the survey is shown in.
    locale = ps.language
    if ps.status == "completed":
        return _gone(request, Conflict("used", "token"), locale)
    complete = form.get("action") == "complete"
    questions = [q for s in ps.sections for q in s.questions]
    answers, shown, errors = parse_answers(request, questions, form, locale=locale)
    lang_q = f"?lang={locale}" if request.query_params.get("lang") else ""
    try:
        if errors:
            raise InvalidInput("answers", field="answers")
        responses.public_submit(
            session,
            token,
            AnswersSubmit(answers=answers, complete=complete),
        )
    except (NotFound, responses.LinkGone) as exc:
        session.rollback()
        return _gone(request, exc, locale)
    except Conflict as exc:
        session.rollback()
        return _gone(request, exc, locale)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and not errors:
            errors = answer_errors(request, exc, answers, locale)
        return _public(
            request,
            "surveys/public.html",
            locale,
            422,
            survey=ps,
            token=token,
            values=shown,
            answer_errors=errors or {"": gettext(locale, N_("This answer is not valid."))},
        )
    if not complete:
        flash(request, gettext(locale, SAVED_FOR_LATER))
    return redirect(request, f"/s/{token}{lang_q}")
