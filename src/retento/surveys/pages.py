"""Web pages: survey list and builder, distribution, the public answer page, entry and results."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import Conflict, FieldError, InvalidInput, NotFound, RetentoError
from retento.core.validation import DbId, is_id
from retento.customers.models import Customer
from retento.dataio.cells import neutralise_row
from retento.surveys import fileio, reports, service
from retento.surveys.duplicates import DuplicateResponse, earlier_responses
from retento.surveys.models import (
    CHANNELS,
    CSI_LATENTS,
    DELIVERED_VALUE_DIMENSIONS,
    QUESTION_TYPES,
    SATISFACTION_DIMENSIONS,
    SURVEY_STATUSES,
    Survey,
    SurveyDistribution,
    SurveyQuestion,
)
from retento.surveys.results_charts import driver_matrix_option  # noqa: F401
from retento.surveys.results_pages import router as results_router
from retento.surveys.schemas import (
    AnswerIn,
    AnswersSubmit,
    BulkResponses,
    BulkRow,
    DistributionCreate,
    QuestionIn,
    ResponseCreate,
    SectionIn,
    SegmentIn,
    SurveyCreate,
    SurveyFromTemplate,
    SurveyUpdate,
)
from retento.web.conflict import STALE, conflict_page, form_version
from retento.web.forms import PageForm
from retento.web.i18n import LANGUAGE_NAMES, LOCALES, N_, gettext, normalise_locale
from retento.web.labels import label_msgid, register_labels
from retento.web.nav import NavItem, register_nav
from retento.web.panels import Panel, register_panel
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    tr,
    tr_count,
)

router = page_router()

register_nav(NavItem("surveys", N_("Surveys"), "/surveys", "survey:read", 40))
register_labels(
    "entity",
    {
        "survey": N_("Survey"),
        "survey_distribution": N_("Survey distribution"),
        "survey_response": N_("Survey response"),
    },
)

register_labels(
    "survey_status",
    {"draft": N_("Draft"), "active": N_("Active"), "closed": N_("Closed")},
)
register_labels(
    "survey_channel",
    {
        "online": N_("Online link"),
        "phone": N_("Phone"),
        "mail": N_("Mail / paper"),
        "onsite": N_("On site"),
    },
)
register_labels(
    "qtype",
    {
        "rating": N_("Rating"),
        "nps": N_("NPS (0–10)"),
        "ces": N_("Customer effort (CES)"),
        "single_choice": N_("Single choice"),
        "multiple_choice": N_("Multiple choice"),
        "free_text": N_("Free text"),
        "expectation_perception": N_("Expectation / perception pair"),
    },
)
register_labels(
    "satisfaction_level",
    {
        "dissatisfied": N_("Dissatisfied"),
        "satisfied": N_("Satisfied"),
        "highly_satisfied": N_("Highly satisfied"),
    },
)
register_labels(
    "value_dimension",
    {
        "product": N_("Product value"),
        "service": N_("Service value"),
        "personnel": N_("Personnel value"),
        "image": N_("Image value"),
        "money": N_("Money cost"),
        "time": N_("Time cost"),
        "energy": N_("Energy cost"),
        "physical": N_("Physical cost"),
    },
)
register_labels(
    "segment_kind",
    {
        "all": N_("All customers"),
        "value_class": N_("Value class"),
        "tag": N_("Tag"),
        "complaint_closed": N_("Complaint closed"),
        "customers": N_("Chosen customers"),
    },
)
register_labels(
    "csi_latent",
    {
        "Image": N_("Image"),
        "Expectation": N_("Expectation"),
        "Quality": N_("Perceived quality"),
        "Value": N_("Perceived value"),
        "Satisfaction": N_("Satisfaction"),
        "Complaints": N_("Complaints"),
        "Loyalty": N_("Loyalty"),
    },
)
register_labels(
    "funnel_stage",
    {
        "expectation": N_("Expectation"),
        "purchase": N_("Purchase"),
        "satisfied": N_("Satisfied"),
        "dissatisfied": N_("Dissatisfied"),
        "grumble": N_("Grumble"),
        "contact": N_("Contact"),
        "handled": N_("Handled"),
        "handled_satisfied": N_("Handled, satisfied"),
        "handled_not_satisfied": N_("Handled, not satisfied"),
        "formal_complaint": N_("Formal complaint"),
        "complaint_satisfied": N_("Complaint, satisfied"),
        "complaint_not_satisfied": N_("Complaint, not satisfied"),
        "leaves": N_("Leaves"),
    },
)
register_labels(
    "quadrant",
    {
        "concentrate here": N_("Concentrate here"),
        "keep up the good work": N_("Keep up the good work"),
        "low priority": N_("Low priority"),
        "possible overkill": N_("Possible overkill"),
    },
)

TEMPLATE_CHOICES = (
    ("standard", N_("Standard satisfaction survey")),
    ("ecsi", N_("ECSI satisfaction index survey")),
    ("blank", N_("Blank survey")),
)
SCALES = {
    "rating": ("1-5", "1-7", "1-10"),
    "expectation_perception": ("1-5", "1-7", "1-10"),
    "ces": ("1-5", "1-7"),
}
QUESTION_FIELDS = (
    "code", "text", "help_text", "qtype", "scale_min", "scale_max", "options", "required",
    "satisfaction_dimension", "value_dimension", "csi_latent", "csi_item",
)  # fmt: skip
VALUE_CLASSES = ("vip", "major", "ordinary", "small")
ENTRY_ROWS = 5
MAX_ENTRY_ROWS = 200
SAVED_FOR_LATER = N_("Your answers were saved. Open this link again to finish later.")


def _opts(
    request: Request, group: str, codes: tuple[str, ...] | list[str]
) -> list[tuple[str, str]]:
    """``(code, translated label)`` pairs for a select."""
    return [(c, tr(request, label_msgid(group, c))) for c in codes]


def _text(form: Any, key: str) -> str:
    """One form value as a stripped string."""
    return str(form.get(key) or "").strip()


def _survey_url(survey_id: DbId, tail: str = "") -> str:
    """The builder page of a survey, or one of its sub-pages."""
    return f"/surveys/{survey_id}{tail}"


# ---------------------------------------------------------------------------------------------
# List and creation
# ---------------------------------------------------------------------------------------------


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
        rows=rows,
        total=total,
        f=f,
        form=form,
        errors=errors or {},
        statuses=_opts(request, "survey_status", SURVEY_STATUSES),
        templates=[(c, tr(request, m)) for c, m in TEMPLATE_CHOICES],
        languages_opts=[(c, LANGUAGE_NAMES[c]) for c in LOCALES],
    )


@router.post("/surveys/new")
def survey_create(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    """Create a draft survey from the standard or ECSI template, or a blank one."""
    shown = {k: _text(form, k) for k in ("template", "name", "language")}
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
    flash(request, tr(request, "Survey %(name)s was created.", name=survey.name))
    return redirect(request, _survey_url(survey.id))


# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------


def _question_dict(q: SurveyQuestion) -> dict[str, Any]:
    """A stored question as builder input."""
    return {k: getattr(q, k) for k in QUESTION_FIELDS}


def _sections_data(survey: Survey) -> list[dict[str, Any]]:
    """The survey's sections and questions as builder input (to change and save back)."""
    return [
        {
            "code": s.code,
            "title": s.title,
            "description": s.description,
            "questions": [_question_dict(q) for q in s.questions],
        }
        for s in survey.sections
    ]


def _save_sections(
    session: Session, survey_id: DbId, sections: list[dict[str, Any]], user: User
) -> None:
    """Replace the survey's questionnaire (refused by the service once answers exist)."""
    service.update_survey(
        session, survey_id, SurveyUpdate(sections=[SectionIn(**s) for s in sections]), actor=user
    )


def _builder(
    request: Request,
    session: Session,
    user: User,
    survey: Survey,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    section_form: dict[str, Any] | None = None,
    section_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The builder page: settings, sections and questions."""
    answered = service.has_responses(session, survey.id)
    return render(
        request,
        "surveys/builder.html",
        status_code=status_code,
        survey=survey,
        answered=answered,
        may_edit=can(user, "survey:manage") and not answered,
        form=form
        or {
            "name": survey.name,
            "description": survey.description or "",
            "language": survey.language,
            "status": survey.status,
            "expectation_tolerance": str(survey.expectation_tolerance),
            "token_days": str(survey.token_days),
            "version": str(survey.version),
        },
        errors=errors or {},
        section_form=section_form or {},
        section_errors=section_errors or {},
        statuses=_opts(request, "survey_status", SURVEY_STATUSES),
        languages_opts=[(c, LANGUAGE_NAMES[c]) for c in LOCALES],
    )


@router.get("/surveys/{survey_id:int}")
def survey_builder(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """The survey builder (read-only for roles that cannot manage surveys)."""
    survey = service.get_survey(session, survey_id, actor=user)
    return _builder(request, session, user, survey)


# Settings fields → labels, for the stale-edit page (web.conflict).
SETTINGS_LABELS = {
    "name": N_("Name"),
    "description": N_("Description"),
    "language": N_("Language of the questions"),
    "status": N_("Status"),
    "expectation_tolerance": N_("Tolerance of c = b/a"),
    "token_days": N_("Links valid for (days)"),
}


@router.post("/surveys/{survey_id:int}/settings")
def survey_settings(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Save name, description, language, status, tolerance and link lifetime."""
    keys = ("name", "description", "language", "status", "expectation_tolerance", "token_days")
    shown = {k: _text(form, k) for k in keys}
    expected = form_version(form)
    shown["version"] = str(expected or "")
    try:
        update = SurveyUpdate(
            name=shown["name"],
            description=shown["description"] or None,
            language=shown["language"] or None,
            status=shown["status"] or None,
            expectation_tolerance=shown["expectation_tolerance"] or None,
            token_days=shown["token_days"] or None,
        )
        service.update_survey(session, survey_id, update, actor=user, expected_version=expected)
    except STALE:
        # Someone saved the survey after this form was loaded: show both values, revert nothing.
        session.rollback()
        current = service.get_survey(session, survey_id, actor=user)
        return conflict_page(
            request,
            session,
            entity="survey",
            record=current,
            title=current.name,
            submitted=update.model_dump(exclude_unset=True, exclude={"version", "sections"}),
            current={k: getattr(current, k) for k in SETTINGS_LABELS},
            labels=SETTINGS_LABELS,
            form=form,
            action=_survey_url(survey_id, "/settings"),
            reload_url=_survey_url(survey_id),
            cancel_url=_survey_url(survey_id),
            expected=expected,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        survey = service.get_survey(session, survey_id, actor=user)
        errors = form_errors(request, exc)
        return _builder(request, session, user, survey, form=shown, errors=errors, status_code=422)
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, _survey_url(survey_id))


@router.post("/surveys/{survey_id:int}/delete")
def survey_delete(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Delete a survey without responses."""
    survey = service.get_survey(session, survey_id, actor=user)
    name = survey.name
    service.delete_survey(session, survey_id, actor=user)
    flash(request, tr(request, "Survey %(name)s was deleted.", name=name))
    return redirect(request, "/surveys")


@router.post("/surveys/{survey_id:int}/sections")
def section_add(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Add a section at the end (or change one, when ``original`` names it)."""
    survey = service.get_survey(session, survey_id, actor=user)
    shown = {k: _text(form, k) for k in ("code", "title", "description", "original")}
    sections = _sections_data(survey)
    try:
        data = SectionIn(
            code=shown["code"], title=shown["title"], description=shown["description"] or None
        ).model_dump(exclude={"questions"})
        if shown["original"]:
            target = next((s for s in sections if s["code"] == shown["original"]), None)
            if target is None:
                raise NotFound("Section", shown["original"], field="code")
            target.update(data)
        else:
            sections.append({**data, "questions": []})
        _save_sections(session, survey_id, sections, user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403):
            raise
        errors = _model_errors(request, exc, default="code")
        survey = service.get_survey(session, survey_id, actor=user)
        return _builder(
            request,
            session,
            user,
            survey,
            section_form=shown,
            section_errors=errors,
            status_code=422,
        )
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, _survey_url(survey_id))


@router.post("/surveys/{survey_id:int}/sections/{code}/delete")
def section_delete(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, code: str
) -> Response:
    """Remove a section with its questions (a survey keeps at least one section)."""
    survey = service.get_survey(session, survey_id, actor=user)
    sections = [s for s in _sections_data(survey) if s["code"] != code]
    if not sections:
        raise InvalidInput(tr(request, "A survey needs at least one section."), field="code")
    _save_sections(session, survey_id, sections, user)
    flash(request, tr(request, "The section was removed."))
    return redirect(request, _survey_url(survey_id))


def _model_errors(
    request: Request, exc: ValidationError | RetentoError, default: str = ""
) -> dict[str, str]:
    """Form errors where whole-model messages are placed on the field they are about."""
    errors = form_errors(request, exc)
    if isinstance(exc, RetentoError) and exc.field == "sections":
        errors[""] = exc.message
        return errors
    general = errors.pop("", None)
    for key in list(errors):
        if key.startswith("sections.") or key in ("sections", "model"):
            general = general or errors.pop(key)
    if general:
        text = general.lower()
        if "option" in text:
            errors.setdefault("options", general)
        elif "scale" in text or "scored" in text:
            errors.setdefault("scale", general)
        elif "csi" in text:
            errors.setdefault("csi_latent", general)
        elif "delivered-value" in text:
            errors.setdefault("value_dimension", general)
        elif "code" in text:
            errors.setdefault(default or "code", general)
        else:
            errors[""] = general
    return errors


def _question_values(q: SurveyQuestion | None, section: str) -> dict[str, Any]:
    """The question form's initial values."""
    if q is None:
        return {"section": section, "qtype": "rating", "scale": "1-5", "required": False}
    return {
        "section": section,
        "code": q.code,
        "text": q.text,
        "help_text": q.help_text or "",
        "qtype": q.qtype,
        "scale": f"{q.scale_min}-{q.scale_max}" if q.scale_min is not None else "",
        "options": "\n".join(f"{o['value']}: {o['label']}" for o in q.options or []),
        "required": q.required,
        "satisfaction_dimension": q.satisfaction_dimension or "",
        "value_dimension": q.value_dimension or "",
        "csi_latent": q.csi_latent or "",
        "csi_item": q.csi_item or "",
    }


def _parse_question(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(QuestionIn payload, values to re-show)`` from the question form."""
    keys = (
        "section", "code", "text", "help_text", "qtype", "scale", "options",
        "satisfaction_dimension", "value_dimension", "csi_latent", "csi_item",
    )  # fmt: skip
    shown: dict[str, Any] = {k: _text(form, k) for k in keys}
    shown["required"] = form.get("required") == "1"
    qtype = shown["qtype"] or "rating"
    data: dict[str, Any] = {
        "code": shown["code"],
        "text": shown["text"],
        "help_text": shown["help_text"] or None,
        "qtype": qtype,
        "required": shown["required"],
    }
    for k in ("satisfaction_dimension", "value_dimension", "csi_latent", "csi_item"):
        data[k] = shown[k] or None
    if qtype in SCALES and shown["scale"] in SCALES[qtype] + ("1-10",):
        lo, hi = shown["scale"].split("-")
        data["scale_min"], data["scale_max"] = int(lo), int(hi)
    if qtype in ("single_choice", "multiple_choice"):
        options = []
        for line in shown["options"].splitlines():
            if not line.strip():
                continue
            value, sep, label = line.partition(":")
            value, label = value.strip(), label.strip()
            options.append({"value": value, "label": label if sep and label else value})
        data["options"] = options
    return data, shown


def _question_page(
    request: Request,
    survey: Survey,
    question: SurveyQuestion | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The form that adds or changes one question."""
    return render(
        request,
        "surveys/question.html",
        status_code=status_code,
        survey=survey,
        question=question,
        form=values,
        errors=errors or {},
        sections=[(s.code, s.title) for s in survey.sections],
        qtypes=_opts(request, "qtype", QUESTION_TYPES),
        scales=[(s, s.replace("-", "–")) for s in ("1-5", "1-7", "1-10")],
        dimensions=SATISFACTION_DIMENSIONS,
        value_dims=_opts(request, "value_dimension", DELIVERED_VALUE_DIMENSIONS),
        latents=_opts(request, "csi_latent", CSI_LATENTS),
    )


def _find_question(survey: Survey, code: str) -> SurveyQuestion:
    """The question with ``code``; 404 otherwise."""
    for q in survey.questions:
        if q.code == code:
            return q
    raise NotFound("Question", code, field="code")


@router.get("/surveys/{survey_id:int}/questions/new")
def question_new(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """The form for a new question in a section."""
    require(user, "survey:manage")
    survey = service.get_survey(session, survey_id, actor=user)
    # A survey may have no section yet: the form then offers none and saving says so (422).
    first = survey.sections[0].code if survey.sections else ""
    section = request.query_params.get("section") or first
    return _question_page(request, survey, None, _question_values(None, section))


@router.get("/surveys/{survey_id:int}/questions/{code}/edit")
def question_edit(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, code: str
) -> Response:
    """The form for changing a question."""
    require(user, "survey:manage")
    survey = service.get_survey(session, survey_id, actor=user)
    q = _find_question(survey, code)
    return _question_page(request, survey, q, _question_values(q, q.section.code))


def _save_question(
    request: Request,
    form: FormData,
    session: Session,
    user: User,
    survey_id: DbId,
    original: str | None,
) -> Response:
    """Add (``original`` None) or replace a question; errors come back next to the fields."""
    survey = service.get_survey(session, survey_id, actor=user)
    question = _find_question(survey, original) if original else None
    data, shown = _parse_question(form)
    sections = _sections_data(survey)
    try:
        checked = QuestionIn(**data).model_dump()
        target = next((s for s in sections if s["code"] == shown["section"]), None)
        if target is None:
            raise InvalidInput(tr(request, "Choose one of the listed values."), field="section")
        if original:
            for s in sections:
                s["questions"] = [q for q in s["questions"] if q["code"] != original]
            pos = next(
                (i for i, q in enumerate(question.section.questions) if q.code == original), None
            )
            if question.section.code == target["code"] and pos is not None:
                target["questions"].insert(pos, checked)
            else:
                target["questions"].append(checked)
        else:
            target["questions"].append(checked)
        _save_sections(session, survey_id, sections, user)
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        survey = service.get_survey(session, survey_id, actor=user)
        question = _find_question(survey, original) if original else None
        errors = _model_errors(request, exc)
        return _question_page(request, survey, question, shown, errors, 422)
    flash(request, tr(request, "The question was saved."))
    return redirect(request, _survey_url(survey_id) + f"#section-{shown['section']}")


@router.post("/surveys/{survey_id:int}/questions/new")
def question_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Add a question."""
    return _save_question(request, form, session, user, survey_id, None)


@router.post("/surveys/{survey_id:int}/questions/{code}/edit")
def question_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId, code: str
) -> Response:
    """Change a question."""
    return _save_question(request, form, session, user, survey_id, code)


@router.post("/surveys/{survey_id:int}/questions/{code}/delete")
def question_delete(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, code: str
) -> Response:
    """Remove a question."""
    survey = service.get_survey(session, survey_id, actor=user)
    _find_question(survey, code)
    sections = _sections_data(survey)
    for s in sections:
        s["questions"] = [q for q in s["questions"] if q["code"] != code]
    _save_sections(session, survey_id, sections, user)
    flash(request, tr(request, "The question was removed."))
    return redirect(request, _survey_url(survey_id))


# ---------------------------------------------------------------------------------------------
# Answer forms (public link, phone entry)
# ---------------------------------------------------------------------------------------------


def _number(raw: str) -> float:
    """A score typed or clicked in a form."""
    return float(raw.replace(",", "."))


def _tr_in(request: Request, locale: str | None, message: str) -> str:
    """``message`` in ``locale`` (the public page's language), else in the request's language."""
    return gettext(locale, message) if locale else tr(request, message)


def parse_answers(
    request: Request,
    questions: list[Any],
    form: Any,
    prefix: str = "q.",
    locale: str | None = None,
) -> tuple[list[AnswerIn], dict[str, dict[str, Any]], dict[str, str]]:
    """``(answers, values to re-show by code, parse errors by code)`` from an answer form;
    messages in ``locale`` when given (the public page), else in the request's language."""
    answers: list[AnswerIn] = []
    shown: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for q in questions:
        name = prefix + q.code
        value: dict[str, Any] = {"number": None, "expectation": None, "text": None, "choices": None}
        try:
            if q.qtype in ("rating", "nps", "ces"):
                raw = _text(form, name)
                shown[q.code] = {"number": raw}
                value["number"] = _number(raw) if raw else None
            elif q.qtype == "expectation_perception":
                a, b = _text(form, name + ".a"), _text(form, name + ".b")
                shown[q.code] = {"expectation": a, "number": b}
                value["expectation"] = _number(a) if a else None
                value["number"] = _number(b) if b else None
            elif q.qtype == "free_text":
                text = str(form.get(name) or "")
                shown[q.code] = {"text": text}
                value["text"] = text.strip() or None
            else:
                picked = [
                    p.strip() for v in form.getlist(name) for p in str(v).split("|") if p.strip()
                ]
                shown[q.code] = {"choices": picked}
                value["choices"] = picked or None
        except ValueError:
            errors[q.code] = _tr_in(request, locale, N_("Enter a number."))
            continue
        answers.append(AnswerIn(question=q.code, **value))
    return answers, shown, errors


def answer_errors(
    request: Request, exc: RetentoError, answers: list[AnswerIn], locale: str | None = None
) -> dict[str, str]:
    """Service errors on answers mapped to the question they concern (in ``locale`` if given)."""
    out: dict[str, str] = {}
    codes = {f"answers.{i}": a.question for i, a in enumerate(answers)}
    for fe in exc.errors or [FieldError(exc.field, exc.message)]:
        field = fe.field or ""
        if field in codes:
            code = codes[field]
            text = fe.message.lower()
            if "both the expectation" in text:
                out.setdefault(
                    code,
                    _tr_in(request, locale, N_("Give both the expectation and the perception.")),
                )
            elif "exactly one option" in text:
                out.setdefault(code, _tr_in(request, locale, N_("Choose one option.")))
            else:
                out.setdefault(code, _tr_in(request, locale, N_("This answer is not valid.")))
        elif "must be answered" in fe.message:
            out.setdefault(field, _tr_in(request, locale, N_("Please answer this question.")))
        else:
            out.setdefault(field, fe.message)
    return out


def _saved_answers(answers: list[Any]) -> dict[str, dict[str, Any]]:
    """Saved answers as form values, by question code."""
    out = {}
    for a in answers:
        out[a.question] = {
            "number": "" if a.number is None else f"{a.number:g}",
            "expectation": "" if a.expectation is None else f"{a.expectation:g}",
            "text": a.text or "",
            "choices": a.choices or [],
        }
    return out


# ---------------------------------------------------------------------------------------------
# Public one-time link (no login)
# ---------------------------------------------------------------------------------------------


def _public_locale(request: Request, fallback: str) -> str:
    """``?lang=`` if the respondent switched, else the survey's language."""
    lang = request.query_params.get("lang")
    return normalise_locale(lang) if lang in LOCALES else normalise_locale(fallback)


def _public(
    request: Request, template: str, locale: str, status_code: int = 200, **extra: Any
) -> Response:
    """Render a public page in ``locale`` regardless of the visitor's session."""
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
    locale = _public_locale(request, "en")
    try:
        ps = service.public_survey(session, token)
    except (NotFound, service.LinkGone) as exc:
        return _gone(request, exc, locale)
    locale = _public_locale(request, ps.language)
    if ps.status == "completed":
        return _public(request, "surveys/public_done.html", locale, survey=ps)
    return _public(
        request,
        "surveys/public.html",
        locale,
        survey=ps,
        token=token,
        values=_saved_answers(ps.answers),
        answer_errors={},
    )


@router.post("/s/{token}")
def public_submit(request: Request, form: PageForm, session: DbSession, token: str) -> Response:
    """Save the answers (``action=save``) or finish the survey (``action=complete``, once)."""
    locale = _public_locale(request, "en")
    try:
        ps = service.public_survey(session, token)
    except (NotFound, service.LinkGone) as exc:
        return _gone(request, exc, locale)
    locale = _public_locale(request, ps.language)
    if ps.status == "completed":
        return _gone(request, Conflict("used", "token"), locale)
    complete = form.get("action") == "complete"
    questions = [q for s in ps.sections for q in s.questions]
    answers, shown, errors = parse_answers(request, questions, form, locale=locale)
    lang_q = f"?lang={locale}" if request.query_params.get("lang") else ""
    try:
        if errors:
            raise InvalidInput("answers", field="answers")
        service.public_submit(
            session,
            token,
            AnswersSubmit(answers=answers, complete=complete),
        )
    except (NotFound, service.LinkGone) as exc:
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


# ---------------------------------------------------------------------------------------------
# Phone entry, bulk (paper / on-site) entry and file import
# ---------------------------------------------------------------------------------------------


def _entry_channels(request: Request) -> list[tuple[str, str]]:
    """Channels an agent enters answers for."""
    return _opts(request, "survey_channel", ("phone", "onsite", "mail"))


def _respond_page(
    request: Request,
    session: Session,
    survey: Survey,
    form: dict[str, Any],
    values: dict[str, dict[str, Any]],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The agent's answer form (phone call or on site); warns when the customer already
    answered this survey (saving then needs the "record another response" confirmation)."""
    customer = None
    earlier: list[dict[str, Any]] = []
    if is_id(str(form.get("customer_id") or "")):
        customer = session.get(Customer, int(form["customer_id"]))
        if customer is not None:
            earlier = earlier_responses(session, survey.id, customer.id)
    return render(
        request,
        "surveys/respond.html",
        status_code=status_code,
        survey=survey,
        customer=customer,
        form=form,
        values=values,
        answer_errors=errors or {},
        errors=errors or {},
        channels=_entry_channels(request),
        earlier=earlier,
    )


def _require_active(request: Request, survey: Survey) -> None:
    """Answer forms open only for active surveys."""
    if survey.status != "active":
        raise Conflict(tr(request, "This survey is not active, so it takes no answers."), "status")


@router.get("/surveys/{survey_id:int}/respond")
def respond_form(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """The form an agent fills in while calling a customer."""
    require(user, "survey:respond")
    survey = service.get_survey(session, survey_id, actor=user)
    _require_active(request, survey)
    form = {
        "customer_id": request.query_params.get("customer_id", ""),
        "channel": request.query_params.get("channel", "phone"),
    }
    return _respond_page(request, session, survey, form, {})


@router.post("/surveys/{survey_id:int}/respond")
def respond_save(
    request: Request, raw: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Save what the customer said; back to the customer's 360 page."""
    survey = service.get_survey(session, survey_id, actor=user)
    form = {k: _text(raw, k) for k in ("customer_id", "channel", "action", "allow_duplicate")}
    answers, shown, errors = parse_answers(request, survey.questions, raw)
    complete = form["action"] != "save"
    try:
        if errors:
            raise InvalidInput(tr(request, "Please correct the highlighted fields."), field="")
        if form["customer_id"] and not is_id(form["customer_id"]):
            raise InvalidInput(tr(request, "Enter a whole number."), field="customer_id")
        customer_id = int(form["customer_id"]) if form["customer_id"] else None
        service.record_response(
            session,
            survey_id,
            ResponseCreate(
                customer_id=customer_id,
                channel=form["channel"] or "phone",
                answers=answers,
                complete=complete,
                allow_duplicate=form["allow_duplicate"] == "1",
            ),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        if isinstance(exc, DuplicateResponse):
            errors = {
                "allow_duplicate": tr(
                    request,
                    "This customer already answered this survey. Tick "
                    "“Record another response” to save a second response.",
                )
            }
            return _respond_page(request, session, survey, form, shown, errors, 409)
        if not errors:
            errors = (
                answer_errors(request, exc, answers)
                if isinstance(exc, RetentoError)
                else form_errors(request, exc)
            )
        return _respond_page(request, session, survey, form, shown, errors, 422)
    flash(
        request,
        tr(request, "The answers were saved.")
        if complete
        else tr(request, "The answers were saved as unfinished."),
    )
    if form["customer_id"]:
        return redirect(request, f"/customers/{form['customer_id']}")
    return redirect(request, _survey_url(survey_id, "/results"))


def _entry_columns(survey: Survey) -> list[SurveyQuestion]:
    """The questions shown as columns of the bulk entry grid."""
    return list(survey.questions)


def _entry_page(
    request: Request,
    survey: Survey,
    rows: list[dict[str, Any]],
    channel: str,
    errors: dict[str, str] | None = None,
    problems: list[dict[str, Any]] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    """The paper / on-site entry grid."""
    return render(
        request,
        "surveys/entry.html",
        status_code=status_code,
        survey=survey,
        rows=rows,
        channel=channel,
        errors=errors or {},
        problems=problems or [],
        message=message,
        columns=_entry_columns(survey),
        channels=_entry_channels(request),
    )


@router.get("/surveys/{survey_id:int}/entry")
def entry_form(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """A grid for typing in paper or on-site questionnaires, one per row."""
    require(user, "survey:respond")
    survey = service.get_survey(session, survey_id, actor=user)
    _require_active(request, survey)
    n = request.query_params.get("rows", "")
    count = (
        min(int(n), MAX_ENTRY_ROWS) if n.isascii() and n.isdigit() and int(n) > 0 else ENTRY_ROWS
    )
    return _entry_page(request, survey, [{} for _ in range(count)], "mail")


@router.post("/surveys/{survey_id:int}/entry")
def entry_save(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Save every filled row, or none of them if any row has a problem."""
    survey = service.get_survey(session, survey_id, actor=user)
    channel = _text(form, "channel") or "mail"
    count = min(int(_text(form, "rows") or 0), MAX_ENTRY_ROWS) if is_id(_text(form, "rows")) else 0
    rows: list[dict[str, Any]] = []
    bulk: list[BulkRow] = []
    positions: list[int] = []
    errors: dict[str, str] = {}
    for i in range(count):
        prefix = f"r{i}."
        customer = _text(form, prefix + "customer")
        answers, shown, parse_errs = parse_answers(request, survey.questions, form, prefix + "q.")
        rows.append({"customer": customer, "values": shown})
        for code, msg in parse_errs.items():
            errors[f"{i}.{code}"] = msg
        filled = [
            a
            for a in answers
            if a.number is not None or a.expectation is not None or a.text or a.choices
        ]
        if not customer and not filled and not parse_errs:
            continue
        ident: dict[str, Any] = {}
        if customer.isascii() and customer.isdigit():
            ident["customer_id"] = int(customer)
        elif customer:
            ident["customer_external_id"] = customer
        bulk.append(BulkRow(answers=filled, **ident))
        positions.append(i)
    problems: list[dict[str, Any]] = []
    try:
        if errors:
            raise InvalidInput(tr(request, "Please correct the highlighted fields."), field="")
        if not bulk:
            raise InvalidInput(tr(request, "Fill in at least one row."), field="")
        report = service.bulk_responses(
            session, survey_id, BulkResponses(channel=channel, responses=bulk), actor=user
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        message = tr(request, "Please correct the highlighted fields.")
        if isinstance(exc, RetentoError):
            message = exc.message if not errors else message
            for fe in exc.errors:
                if fe.row is None or not 1 <= fe.row <= len(positions):
                    continue
                i = positions[fe.row - 1]
                field = "customer" if fe.field and fe.field.startswith("customer") else fe.field
                errors.setdefault(f"{i}.{field}", fe.message)
                problems.append({"row": i + 1, "field": fe.field, "message": fe.message})
        return _entry_page(request, survey, rows, channel, errors, problems, message, 422)
    flash(
        request,
        tr_count(
            request,
            report["created"] + report["updated"],
            N_("One questionnaire was saved."),
            N_("%(n)s questionnaires were saved."),
        ),
    )
    return redirect(request, _survey_url(survey_id, "/results"))


@router.get("/surveys/{survey_id:int}/import")
def import_form(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """Upload a CSV or XLSX file of responses."""
    require(user, "survey:import")
    survey = service.get_survey(session, survey_id, actor=user)
    return render(
        request,
        "surveys/import.html",
        survey=survey,
        report=None,
        problems=[],
        form={"channel": "mail"},
        channels=_entry_channels(request),
        columns=fileio.export_columns(survey),
    )


@router.post("/surveys/{survey_id:int}/import")
def import_upload(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Import the file: all rows or none (or only the valid rows when asked); errors per row."""
    require(user, "survey:import")
    survey = service.get_survey(session, survey_id, actor=user)
    upload = form.get("file")
    channel = _text(form, "channel") or "mail"
    skip = form.get("skip_invalid") == "1"
    shown = {"channel": channel, "skip_invalid": skip}
    report = None
    problems: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    status_code = 200
    try:
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise InvalidInput(tr(request, "Choose a CSV or XLSX file."), field="file")
        if (upload.size or 0) > 20 * 1024 * 1024:
            raise InvalidInput(tr(request, "The file is larger than 20 MB."), field="file")
        report = fileio.import_responses(
            session,
            survey_id,
            upload.file,  # spooled to a temporary file by the upload parser
            upload.filename,
            actor=user,
            skip_invalid=skip,
            channel=channel,
        )
        problems = report["errors"]
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        problems = [e.as_dict() for e in exc.errors]
        errors = {"": exc.message}
        if exc.field == "file" or not problems:
            errors = {"file": exc.message}
        status_code = 422
    survey = service.get_survey(session, survey_id, actor=user)
    return render(
        request,
        "surveys/import.html",
        status_code=status_code,
        survey=survey,
        report=report,
        problems=problems,
        errors=errors,
        form=shown,
        channels=_entry_channels(request),
        columns=fileio.export_columns(survey),
    )


# ---------------------------------------------------------------------------------------------
# Distribution
# ---------------------------------------------------------------------------------------------


def _distribute_page(
    request: Request,
    session: Session,
    user: User,
    survey: Survey,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """Send form, past distributions and response rates per channel."""
    return render(
        request,
        "surveys/distribute.html",
        status_code=status_code,
        survey=survey,
        distributions=service.list_distributions(session, survey.id, actor=user),
        rates=reports.response_rates(session, survey.id),
        form=form or {"channel": "online", "segment_kind": "all"},
        errors=errors or {},
        channels=_opts(request, "survey_channel", CHANNELS),
        segment_kinds=_opts(
            request, "segment_kind", ("all", "value_class", "tag", "complaint_closed")
        ),
        value_classes=_opts(request, "segment", VALUE_CLASSES),
        mail_enabled=request.app.state.settings.mail_enabled,
    )


@router.get("/surveys/{survey_id:int}/distribute")
def distribute_form(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Send the survey to a segment; see who answered per channel."""
    survey = service.get_survey(session, survey_id, actor=user)
    return _distribute_page(request, session, user, survey)


@router.post("/surveys/{survey_id:int}/distribute")
def distribute_send(
    request: Request, raw: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Create the invitations of one segment on one channel."""
    survey = service.get_survey(session, survey_id, actor=user)
    keys = (
        "name",
        "channel",
        "segment_kind",
        "value_class",
        "tag",
        "closed_since",
        "expires_in_days",
    )
    form = {k: _text(raw, k) for k in keys}
    try:
        kind = form["segment_kind"] or "all"
        value = (
            form["value_class"] if kind == "value_class" else form["tag"] if kind == "tag" else None
        )
        since = None
        if kind == "complaint_closed" and form["closed_since"]:
            try:
                since = datetime.fromisoformat(form["closed_since"]).replace(tzinfo=UTC)
            except ValueError:
                raise InvalidInput(
                    tr(request, "Enter a date (YYYY-MM-DD)."), field="closed_since"
                ) from None
        try:
            segment = SegmentIn(kind=kind, value=value or None, closed_since=since)
        except ValidationError:
            field = "value_class" if kind == "value_class" else "tag"
            raise InvalidInput(tr(request, "This field is required."), field=field) from None
        dist, _ = service.create_distribution(
            session,
            survey_id,
            DistributionCreate(
                channel=form["channel"] or "online",
                segment=segment,
                name=form["name"],
                expires_in_days=form["expires_in_days"] or None,
            ),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        errors = form_errors(request, exc)
        if "segment.value" in errors:
            errors["value_class" if form["segment_kind"] == "value_class" else "tag"] = errors.pop(
                "segment.value"
            )
        if "segment.kind" in errors:
            errors["segment_kind"] = errors.pop("segment.kind")
        if "status" in errors:
            errors[""] = errors.pop("status")
        survey = service.get_survey(session, survey_id, actor=user)
        return _distribute_page(request, session, user, survey, form, errors, 422)
    flash(
        request,
        tr_count(
            request,
            dist.invited,
            N_("One customer was invited."),
            N_("%(n)s customers were invited."),
        ),
    )
    return redirect(request, _survey_url(survey_id, f"/distributions/{dist.id}"))


def _links(
    request: Request, session: Session, user: User, survey_id: DbId, distribution_id: DbId
) -> tuple[SurveyDistribution, list[dict[str, Any]]]:
    """A distribution's open invitations with the customer and the full link, which opens in
    the customer's language like the e-mailed links (``customer_locale``)."""
    from retento.mail.compose import customer_locale

    dist = session.get(SurveyDistribution, distribution_id)
    if dist is None or dist.survey_id != survey_id:
        raise NotFound("Distribution", distribution_id, field="distribution_id")
    links = service.invitation_links(session, distribution_id, actor=user)
    ids = [link.customer_id for link in links]
    customers = (
        {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
        if ids
        else {}
    )
    base = str(request.base_url).rstrip("/")
    language = service.get_survey(session, survey_id, actor=user).language
    rows = []
    for link in links:
        c = customers.get(link.customer_id)
        lang = f"?lang={customer_locale(c, language)}" if c is not None else ""
        rows.append({"link": link, "customer": c, "url": base + link.path + lang})
    return dist, rows


@router.get("/surveys/{survey_id:int}/distributions/{distribution_id:int}")
def distribution_detail(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, distribution_id: DbId
) -> Response:
    """The open invitations of one distribution with their links (for mail merge)."""
    survey = service.get_survey(session, survey_id, actor=user)
    dist, rows = _links(request, session, user, survey_id, distribution_id)
    return render(
        request,
        "surveys/distribution.html",
        survey=survey,
        dist=dist,
        rows=rows,
        emails=service.distribution_emails(session, dist),
        mail_enabled=request.app.state.settings.mail_enabled,
    )


@router.get("/surveys/{survey_id:int}/distributions/{distribution_id:int}/links.csv")
def distribution_csv(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, distribution_id: DbId
) -> Response:
    """The invitation links as CSV for a mail merge."""
    _, rows = _links(request, session, user, survey_id, distribution_id)
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["customer_id", "external_id", "name", "email", "phone", "channel", "url"])
    for r in rows:
        c = r["customer"]
        out.writerow(
            neutralise_row(  # names and e-mails are customer data: never a live formula
                [
                    r["link"].customer_id,
                    c.external_id if c else "",
                    c.name if c else "",
                    (c.email or "") if c else "",
                    (c.phone or "") if c else "",
                    r["link"].channel,
                    r["url"],
                ]
            )
        )
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="survey-{survey_id}-links-{distribution_id}.csv"'
        },
    )


# ---------------------------------------------------------------------------------------------
# Customer 360 panel
# ---------------------------------------------------------------------------------------------


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict[str, Any]:
    """The customer's survey history and, for agents, the surveys to run on the phone."""
    history = reports.customer_history(session, customer.id, actor=user)
    active: list[Survey] = []
    if can(user, "survey:respond"):
        active = list(
            session.scalars(select(Survey).where(Survey.status == "active").order_by(Survey.name))
        )
    return {"history": history, "active": active, "customer": customer}


# The results screen (results_pages) and its charts (results_charts) live in their own modules;
# driver_matrix_option stays importable from here.
router.include_router(results_router)

register_panel(
    Panel(
        key="surveys",
        title=N_("Surveys"),
        template="surveys/_panel.html",
        load=_panel,
        permission="survey:read",
        order=40,
        slot="main",
    )
)
