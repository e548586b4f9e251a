"""Survey list and the "new survey" form."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.surveys import service
from retento.surveys.languages import named
from retento.surveys.models import (
    SURVEY_STATUSES,
    Survey,
)
from retento.surveys.pages.common import (
    TEMPLATE_CHOICES,
    form_text,
    language_opts,
    opts,
    survey_url,
)
from retento.surveys.schemas import (
    SectionIn,
    SurveyCreate,
    SurveyFromTemplate,
)
from retento.web.forms import PageForm
from retento.web.i18n import LOCALES
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)

router = page_router()


@router.get("/surveys")
def survey_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """All surveys, filtered by status and name, with the "new survey" form for managers."""
    status = request.query_params.get("status", "")
    q = request.query_params.get("q", "").strip()[:200]
    rows, total = service.list_surveys(
        session,
        actor=user,
        status=status if status in SURVEY_STATUSES else None,
        q=q or None,
        limit=200,
    )
    return _render_list(request, rows, total, {"status": status, "q": q}, {"template": "standard"})


def _render_list(
    request: Request,
    rows: list[Survey],
    total: int,
    f: dict[str, str],
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The list page with the creation form."""
    return render(
        request,
        "surveys/list.html",
        status_code=status_code,
        rows=[named(s, request_locale(request)) for s in rows],
        total=total,
        f=f,
        form=form,
        errors=errors or {},
        statuses=opts(request, "survey_status", SURVEY_STATUSES),
        templates=[(c, tr(request, m)) for c, m in TEMPLATE_CHOICES],
        languages_opts=language_opts(request),
    )


@router.post("/surveys/new")
def survey_create(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    """Create a draft survey from the standard or ECSI template, or a blank one."""
    shown = {k: form_text(form, k) for k in ("template", "name", "language")}
    language = shown["language"] if shown["language"] in LOCALES else "en"
    try:
        if shown["template"] == "blank":
            if not shown["name"]:
                raise InvalidInput(tr(request, "This field is required."), field="name")
            blank = SectionIn(code="main", title=tr(request, "Questions"))
            survey = service.create_survey(
                session,
                SurveyCreate(name=shown["name"], language=language, sections=[blank]),
                actor=user,
            )
        else:
            survey = service.create_from_template(
                session,
                SurveyFromTemplate(
                    template=shown["template"] or "standard",
                    name=shown["name"] or None,
                    language=language,
                ),
                actor=user,
            )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        rows, total = service.list_surveys(session, actor=user, limit=200)
        return _render_list(
            request, rows, total, {"status": "", "q": ""}, shown, form_errors(request, exc), 422
        )
    name = named(survey, request_locale(request)).name
    flash(request, tr(request, "Survey %(name)s was created.", name=name))
    return redirect(request, survey_url(survey.id))
