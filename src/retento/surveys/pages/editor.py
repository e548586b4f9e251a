"""The survey editor: settings, sections and questions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, NotFound, RetentoError
from retento.core.locking import lock_row
from retento.core.validation import DbId
from retento.surveys import service
from retento.surveys.languages import missing_texts, other_languages
from retento.surveys.models import (
    CSI_LATENTS,
    DELIVERED_VALUE_DIMENSIONS,
    EXPERIENCE_MODES,
    QUESTION_TYPES,
    SATISFACTION_DIMENSIONS,
    SURVEY_STATUSES,
    Survey,
    SurveyQuestion,
)
from retento.surveys.pages.common import (
    QUESTION_FIELDS,
    form_text,
    in_reader_language,
    language_name,
    language_opts,
    opts,
    survey_url,
)
from retento.surveys.pages.question_form import (
    QUESTION_LABELS,
    find_question,
    parse_question,
    question_values,
)
from retento.surveys.schemas import (
    QuestionIn,
    SectionIn,
    SurveyUpdate,
)
from retento.web.conflict import (
    STALE,
    ConflictRow,
    as_posted,
    base_inputs,
    changed_rows,
    conflict_page,
    delete_conflict_page,
    form_base,
    form_version,
    read_base,
    same_value,
)
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()


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
            "translations": s.translations,
            "questions": [_question_dict(q) for q in s.questions],
        }
        for s in survey.sections
    ]


def _locked_survey(session: Session, survey_id: DbId, user: User) -> Survey:
    """The survey, its row locked until the save commits, read fresh under the lock.

    Every save of the questionnaire rewrites the whole list from what it read, so the read must
    come after the lock: two editors saving at once then run one after the other, the second on
    what the first committed, and neither loses the other's question."""
    service.get_survey(session, survey_id, actor=user)  # 404 / access, before taking the lock
    require(user, "survey:manage")
    survey = lock_row(session, Survey, survey_id)
    if survey is None:
        raise NotFound("Survey", survey_id)
    return survey


def _stale_part(
    request: Request,
    session: Session,
    survey: Survey,
    form: FormData,
    *,
    submitted: dict[str, Any],
    current: dict[str, Any],
    read: Any,
    labels: dict[str, str],
    action: str,
) -> Response | None:
    """The stale-edit page (409) when the question or section this form edits was changed by
    someone else since the form was loaded, else ``None``.

    Only that part is compared (its values now against the form's ``base.*`` inputs): a change
    elsewhere in the survey is no conflict, since the save rewrites this part alone. A form
    without base values (loaded before forms carried them) is saved as it is."""
    base = read_base(form, read)
    if base is None or all(
        same_value(current.get(k), base.get(k)) for k in set(current) | set(base)
    ):
        return None
    return conflict_page(
        request,
        session,
        entity="survey",
        record=survey,
        title=survey.name,
        submitted=submitted,
        current=current,
        labels=labels,
        form=form,
        action=action,
        reload_url=survey_url(survey.id),
        cancel_url=survey_url(survey.id),
        expected=form_version(form),
        base=base,
        current_form=as_posted(current),
    )


def _fingerprint(values: dict[str, Any]) -> str:
    """A short digest of a question's form values (``question_values``)."""
    text = json.dumps(as_posted(values), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _section_delete_values(section: Any) -> dict[str, str]:
    """What a section's delete form carries as loaded (hidden ``base.*`` inputs): its stored
    texts and, in ``questions``, each of its questions as ``code:fingerprint``, space-separated
    (a question code has no space or colon), so that removing the section refuses when one of
    its questions was added, changed or removed since the page was loaded."""
    questions = " ".join(
        f"{q.code}:{_fingerprint(question_values(q, section.code))}" for q in section.questions
    )
    return {**_section_values(section), "questions": questions}


def _question_rows(request: Request, loaded: Any, current: str) -> list[ConflictRow]:
    """The row of the stale-delete page saying which questions of a section changed: the codes
    as loaded, and as now with each added or changed one marked (a removed one is missing)."""
    then = dict(p.partition(":")[::2] for p in str(loaded or "").split())
    now = dict(p.partition(":")[::2] for p in current.split())
    if then == now:
        return []

    def mark(code: str, fingerprint: str) -> str:
        if code not in then:
            return tr(request, "%(code)s (new)", code=code)
        if then[code] != fingerprint:
            return tr(request, "%(code)s (changed)", code=code)
        return code

    marked = [mark(c, fp) for c, fp in now.items()]
    return [
        ConflictRow(
            field="questions",
            label=tr(request, "Questions"),
            yours=", ".join(then) or "—",
            current=", ".join(marked) or "—",
        )
    ]


def _stale_delete(
    request: Request,
    session: Session,
    survey: Survey,
    form: FormData,
    rows: list[ConflictRow],
    *,
    title: str,
    action: str,
    current: dict[str, Any],
) -> Response:
    """The stale-delete page (409) of a question or section that changed since the page was
    loaded; its "delete anyway" button carries the part as it is now."""
    return delete_conflict_page(
        request,
        session,
        entity="survey",
        record_id=survey.id,
        title=title,
        expected=form_version(form),
        version=survey.version,
        action=action,
        reload_url=survey_url(survey.id),
        cancel_url=survey_url(survey.id),
        rows=rows,
        hidden=base_inputs(current),
        part=True,
    )


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
    base: dict[str, Any] | None = None,
    section_base: dict[str, Any] | None = None,
) -> Response:
    """The builder page: settings, sections and questions. The settings form carries the
    values it was loaded with (``base``, for the stale-edit page), kept when it comes back
    with errors."""
    answered = service.has_responses(session, survey.id)
    may_edit = can(user, "survey:manage") and not answered
    return render(
        request,
        "surveys/builder.html",
        status_code=status_code,
        # Shown in the reader's language where translated; the forms edit the stored texts
        # (the settings ``form`` below, ``sec.own`` in the template).
        survey=in_reader_language(request, survey),
        answered=answered,
        may_edit=may_edit,
        # What each question's and section's delete form carries as loaded (stored texts).
        question_bases={
            q.code: as_posted(question_values(q, s.code))
            for s in (survey.sections if may_edit else [])
            for q in s.questions
        },
        section_bases={
            s.code: _section_delete_values(s) for s in (survey.sections if may_edit else [])
        },
        form=form or _settings_values(survey),
        base=base if base is not None else as_posted(_settings_values(survey)),
        errors=errors or {},
        section_form=section_form or {},
        section_errors=section_errors or {},
        section_base=section_base,
        statuses=opts(request, "survey_status", SURVEY_STATUSES),
        languages_opts=language_opts(request),
        second_languages=[
            {
                "code": lang,
                "name": language_name(request, lang),
                "missing": len(missing_texts(survey, lang)),
            }
            for lang in other_languages(survey)
        ],
    )


def _settings_values(survey: Survey) -> dict[str, str]:
    """The settings form's initial values."""
    return {
        "name": survey.name,
        "description": survey.description or "",
        "thank_you": survey.thank_you or "",
        "language": survey.language,
        "status": survey.status,
        "expectation_tolerance": str(survey.expectation_tolerance),
        "token_days": str(survey.token_days),
        "version": str(survey.version),
    }


def _settings_update(shown: dict[str, str]) -> SurveyUpdate:
    """The settings form's values as the service's input."""
    return SurveyUpdate(
        name=shown["name"],
        description=shown["description"] or None,
        thank_you=shown["thank_you"] or None,
        language=shown["language"] or None,
        status=shown["status"] or None,
        expectation_tolerance=shown["expectation_tolerance"] or None,
        token_days=shown["token_days"] or None,
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
    "thank_you": N_("Thank-you text"),
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
    shown = {k: form_text(form, k) for k in SETTINGS_LABELS}
    expected = form_version(form)
    shown["version"] = str(expected or "")
    try:
        update = _settings_update(shown)
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
            action=survey_url(survey_id, "/settings"),
            reload_url=survey_url(survey_id),
            cancel_url=survey_url(survey_id),
            expected=expected,
            base=read_base(
                form,
                lambda v: _settings_update(
                    {k: form_text(v, k) for k in SETTINGS_LABELS}
                ).model_dump(exclude_unset=True, exclude={"version", "sections"}),
            ),
            current_form=as_posted(_settings_values(current)),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        survey = service.get_survey(session, survey_id, actor=user)
        errors = form_errors(request, exc)
        return _builder(
            request, session, user, survey, form=shown, errors=errors, status_code=422,
            base=form_base(form),
        )  # fmt: skip
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, survey_url(survey_id))


@router.post("/surveys/{survey_id:int}/delete")
def survey_delete(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Delete a survey without responses. A delete from a page loaded before someone else
    saved the survey (its settings, a section or a question) deletes nothing: 409 saying what
    changed (a form without a version, from a page older than this check, deletes as before)."""
    survey = service.get_survey(session, survey_id, actor=user)
    name = survey.name
    expected = form_version(form)  # a version that is no number: 422, nothing deleted
    try:
        service.delete_survey(session, survey_id, actor=user, version=expected)
    except STALE:
        session.rollback()
        current = service.get_survey(session, survey_id, actor=user)
        return delete_conflict_page(
            request,
            session,
            entity="survey",
            record_id=current.id,
            title=current.name,
            expected=expected,
            version=current.version,
            action=survey_url(survey_id, "/delete"),
            reload_url=survey_url(survey_id),
            cancel_url=survey_url(survey_id),
            labels=SETTINGS_LABELS,
        )
    flash(request, tr(request, "Survey %(name)s was deleted.", name=name))
    return redirect(request, "/surveys")


@router.post("/surveys/{survey_id:int}/sections")
def section_add(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Add a section at the end (or change one, when ``original`` names it)."""
    survey = _locked_survey(session, survey_id, user)
    shown = {k: form_text(form, k) for k in ("code", "title", "description", "original")}
    if shown["original"]:
        own = next((sec for sec in survey.sections if sec.code == shown["original"]), None)
        if own is None:
            raise NotFound("Section", shown["original"], field="code")
        stale = _stale_part(
            request,
            session,
            survey,
            form,
            submitted={k: shown[k] for k in SECTION_LABELS},
            current=_section_values(own),
            read=lambda v: {k: form_text(v, k) for k in SECTION_LABELS},
            labels=SECTION_LABELS,
            action=survey_url(survey_id, "/sections"),
        )
        if stale is not None:
            session.rollback()
            return stale
    sections = _sections_data(survey)
    try:
        data = SectionIn(
            code=shown["code"], title=shown["title"], description=shown["description"] or None
        ).model_dump(exclude={"questions", "translations"})
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
            section_form={**shown, "version": str(form_version(form) or "")},
            section_errors=errors,
            status_code=422,
            section_base=form_base(form),
        )
    flash(request, tr(request, "The changes were saved."))
    return redirect(request, survey_url(survey_id))


@router.post("/surveys/{survey_id:int}/sections/{code}/delete")
def section_delete(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId, code: str
) -> Response:
    """Remove a section with its questions (a survey keeps at least one section).

    The form carries the section as loaded (its texts and a fingerprint of each of its
    questions, ``_section_delete_values``): when someone else changed the section, or added,
    changed or removed one of its questions since, nothing is removed (409 saying what
    changed). A change elsewhere in the survey is no conflict; a form without those values
    (a page older than this check) removes the section as before."""
    survey = _locked_survey(session, survey_id, user)
    own = next((sec for sec in survey.sections if sec.code == code), None)
    if own is None:  # renamed or removed meanwhile: nothing to remove
        raise NotFound("Section", code, field="code")
    loaded = form_base(form)
    if loaded is not None:
        current = _section_delete_values(own)
        rows = changed_rows(request, loaded, current, SECTION_LABELS)
        if "questions" in loaded:
            rows += _question_rows(request, loaded["questions"], current["questions"])
        if rows:
            page = _stale_delete(
                request,
                session,
                survey,
                form,
                rows,
                title=tr(request, "Section %(code)s", code=code),
                action=survey_url(survey_id, f"/sections/{code}/delete"),
                current=current,
            )
            session.rollback()
            return page
    sections = [s for s in _sections_data(survey) if s["code"] != code]
    if not sections:
        raise InvalidInput(tr(request, "A survey needs at least one section."), field="code")
    _save_sections(session, survey_id, sections, user)
    flash(request, tr(request, "The section was removed."))
    return redirect(request, survey_url(survey_id))


def _model_errors(
    request: Request, exc: ValidationError | RetentoError, default: str = ""
) -> dict[str, str]:
    """Form errors where whole-model messages are placed on the field they are about."""
    errors = form_errors(request, exc)
    if isinstance(exc, RetentoError) and exc.field == "sections":
        errors[""] = error_text(request, exc.message)
        return errors
    # The field is told by the English message: the reader's (Chinese) names none of them.
    english = form_errors(request, exc, locale="en")
    general = errors.pop("", None)
    text = english.get("", "") if general else ""
    for key in list(errors):
        if key.startswith("sections.") or key in ("sections", "model"):
            if not general:
                general, text = errors.pop(key), english.get(key, "")
    if general:
        text = text.lower()
        if "option" in text:
            errors.setdefault("options", general)
        elif "scale" in text or "scored" in text:
            errors.setdefault("scale", general)
        elif "csi" in text:
            errors.setdefault("csi_latent", general)
        elif "delivered-value" in text:
            errors.setdefault("value_dimension", general)
        elif "experience mode" in text:
            errors.setdefault("experience_mode", general)
        elif "code" in text:
            errors.setdefault(default or "code", general)
        else:
            errors[""] = general
    return errors


# Section form fields → labels.
SECTION_LABELS = {"code": N_("Code"), "title": N_("Title"), "description": N_("Description")}


def _section_values(section: Any) -> dict[str, str]:
    """A section's edit form values (its stored texts, not a translation)."""
    return {
        "code": section.code,
        "title": section.title or "",
        "description": section.description or "",
    }


def _question_page(
    request: Request,
    survey: Survey,
    question: SurveyQuestion | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    *,
    base: dict[str, Any] | None = None,
    version: int | None = None,
) -> Response:
    """The form that adds or changes one question (its fields hold the stored texts).

    A form for an existing question carries the values it was loaded with (``base``, hidden
    ``base.*`` inputs) and the survey's version then, for the stale-edit page (web.conflict);
    by default those of the question as stored now."""
    seen = in_reader_language(request, survey)
    if question is not None and base is None:
        base = as_posted(question_values(question, question.section.code))
        version = survey.version
    return render(
        request,
        "surveys/question.html",
        status_code=status_code,
        survey=seen,
        question=question,
        form=values,
        base=base if question is not None else None,
        version=version,
        errors=errors or {},
        sections=[(s.code, s.title) for s in seen.sections],
        qtypes=opts(request, "qtype", QUESTION_TYPES),
        scales=[(s, s.replace("-", "–")) for s in ("1-5", "1-7", "1-10")],
        dimensions=SATISFACTION_DIMENSIONS,
        value_dims=opts(request, "value_dimension", DELIVERED_VALUE_DIMENSIONS),
        latents=opts(request, "csi_latent", CSI_LATENTS),
        experience_modes=opts(request, "experience_mode", EXPERIENCE_MODES),
    )


@router.get("/surveys/{survey_id:int}/questions/new")
def question_new(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """The form for a new question in a section."""
    require(user, "survey:manage")
    survey = service.get_survey(session, survey_id, actor=user)
    # A survey may have no section yet: the form then offers none and saving says so (422).
    first = survey.sections[0].code if survey.sections else ""
    section = request.query_params.get("section") or first
    return _question_page(request, survey, None, question_values(None, section))


@router.get("/surveys/{survey_id:int}/questions/{code}/edit")
def question_edit(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId, code: str
) -> Response:
    """The form for changing a question."""
    require(user, "survey:manage")
    survey = service.get_survey(session, survey_id, actor=user)
    q = find_question(survey, code)
    return _question_page(request, survey, q, question_values(q, q.section.code))


def _save_question(
    request: Request,
    form: FormData,
    session: Session,
    user: User,
    survey_id: DbId,
    original: str | None,
) -> Response:
    """Add (``original`` None) or replace a question; errors come back next to the fields.

    A question changed by someone else since its form was loaded gets the stale-edit page."""
    survey = _locked_survey(session, survey_id, user)
    question = find_question(survey, original) if original else None
    data, shown = parse_question(form)
    if question is not None and original:
        stale = _stale_part(
            request,
            session,
            survey,
            form,
            submitted=shown,
            current=question_values(question, question.section.code),
            read=lambda v: parse_question(v)[1],
            labels=QUESTION_LABELS,
            action=survey_url(survey_id, f"/questions/{original}/edit"),
        )
        if stale is not None:
            session.rollback()
            return stale
    if question is not None and question.translations:
        # The form holds the survey's own language: the other language's texts stay, minus
        # the labels of options that were removed.
        values = {o["value"] for o in data.get("options") or []}
        data["translations"] = {
            lang: {
                **t,
                "options": {v: x for v, x in (t.get("options") or {}).items() if v in values},
            }
            for lang, t in question.translations.items()
        }
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
        question = find_question(survey, original) if original else None
        errors = _model_errors(request, exc)
        return _question_page(
            request, survey, question, shown, errors, 422, base=form_base(form),
            version=form_version(form),
        )  # fmt: skip
    flash(request, tr(request, "The question was saved."))
    return redirect(request, survey_url(survey_id) + f"#section-{shown['section']}")


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
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId, code: str
) -> Response:
    """Remove a question. The form carries the question as loaded (hidden ``base.*`` inputs,
    as its edit form does): when someone else changed *this* question since, nothing is
    removed (409 saying what changed); a change elsewhere in the survey is no conflict. A form
    without those values (a page older than this check) removes the question as before."""
    survey = _locked_survey(session, survey_id, user)
    question = find_question(survey, code)
    current = question_values(question, question.section.code)
    loaded = read_base(form, lambda v: parse_question(v)[1])
    if loaded is not None:
        rows = changed_rows(request, loaded, current, QUESTION_LABELS)
        if rows:
            page = _stale_delete(
                request,
                session,
                survey,
                form,
                rows,
                title=tr(request, "Question %(code)s", code=code),
                action=survey_url(survey_id, f"/questions/{code}/delete"),
                current=current,
            )
            session.rollback()
            return page
    sections = _sections_data(survey)
    for s in sections:
        s["questions"] = [q for q in s["questions"] if q["code"] != code]
    _save_sections(session, survey_id, sections, user)
    flash(request, tr(request, "The question was removed."))
    return redirect(request, survey_url(survey_id))
