"""Survey state changes: the builder (create, edit, translate, delete) and looking a survey up.

Sending a survey is in ``surveys.distributions``, answering it in ``surveys.responses``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.pagination import apply_sort, paginate
from retento.core.versioning import lock_for_edit
from retento.surveys import languages
from retento.surveys.models import (
    Survey,
    SurveyQuestion,
    SurveyResponse,
    SurveySection,
)
from retento.surveys.schemas import (
    SectionIn,
    SurveyCreate,
    SurveyFromTemplate,
    SurveyUpdate,
    TranslationIn,
)
from retento.surveys.templates import (
    template_sections,
    template_title,
    template_title_translations,
)

SORTABLE = {
    "id": Survey.id,
    "name": Survey.name,
    "status": Survey.status,
    "created_at": Survey.created_at,
}


# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------


def survey_snapshot(s: Survey) -> dict[str, Any]:
    return snapshot(
        s,
        {
            "sections": [
                {"code": sec.code, "title": sec.title, "questions": [q.code for q in sec.questions]}
                for sec in s.sections
            ]
        },
    )


def _survey(session: Session, survey_id: int) -> Survey:
    s = session.get(Survey, survey_id)
    if s is None:
        raise NotFound("Survey", survey_id, field="survey_id")
    return s


def get_survey(session: Session, survey_id: int, *, actor: User) -> Survey:
    """One survey with its sections and questions."""
    require(actor, "survey:read")
    return _survey(session, survey_id)


def list_surveys(
    session: Session,
    *,
    actor: User,
    status: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """A filtered, sorted page of surveys."""
    require(actor, "survey:read")
    stmt = select(Survey)
    if status:
        stmt = stmt.where(Survey.status == status)
    if q:
        stmt = stmt.where(func.lower(Survey.name).contains(q.strip().lower()))
    stmt = apply_sort(stmt, sort, SORTABLE, Survey.id.desc())
    return paginate(session, stmt, limit=limit, offset=offset)


def survey_names(
    session: Session, lang: str | None, *, status: str | None = None
) -> list[tuple[int, str]]:
    """``(id, name)`` of every survey (with ``status``, if given) by id, each name in ``lang``
    where the survey has it (the pickers of other pages)."""
    stmt = select(Survey.id, Survey.name, Survey.language, Survey.translations)
    if status:
        stmt = stmt.where(Survey.status == status)
    return [
        (i, languages.name_in(name, own, texts, lang))
        for i, name, own, texts in session.execute(stmt.order_by(Survey.id))
    ]


def _build_sections(session: Session, survey: Survey, sections: list[SectionIn]) -> None:
    """Replace the questionnaire; the old rows are deleted first so codes can be reused."""
    if survey.sections or survey.questions:
        survey.questions = []
        survey.sections = []
        session.flush()
    for si, sec in enumerate(sections):
        section = SurveySection(
            position=si,
            code=sec.code,
            title=sec.title,
            description=sec.description,
            translations=languages.clean(sec.model_dump()["translations"]),
        )
        survey.sections.append(section)
        for qi, q in enumerate(sec.questions):
            data = q.model_dump()
            data["translations"] = languages.clean(data["translations"])
            question = SurveyQuestion(
                **data, position=qi, section_position=si, survey=survey, section=section
            )
            section.questions.append(question)


def _check_external_id(session: Session, external_id: str | None, own_id: int | None = None):
    if external_id is None:
        return
    other = session.scalar(select(Survey.id).where(Survey.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            Msg(
                "external_id '%(value)s' is already used by survey %(id)s.",
                value=external_id,
                id=other,
            ),
            "external_id",
        )


def create_survey(session: Session, data: SurveyCreate, *, actor: User) -> Survey:
    """Create a draft survey with its sections and questions."""
    require(actor, "survey:manage")
    _check_external_id(session, data.external_id)
    fields = data.model_dump(exclude={"sections"})
    fields["translations"] = languages.clean(fields["translations"])
    s = Survey(**fields, created_by_id=actor.id, status="draft")
    _build_sections(session, s, data.sections)
    session.add(s)
    session.flush()
    record(session, actor, "create", "survey", s.id, None, survey_snapshot(s))
    return s


def create_from_template(session: Session, data: SurveyFromTemplate, *, actor: User) -> Survey:
    """Create a draft survey from the standard or the ECSI template, in its language."""
    sections = template_sections(data.template, data.language)
    fields = data.model_dump(exclude={"template", "name"})
    if not data.name:  # the template's own name, then in its other language too
        texts = fields["translations"] or {}
        for lang, title in template_title_translations(data.template, data.language).items():
            given = texts.get(lang) or {}
            texts[lang] = {**given, "name": given.get("name") or title}
        fields["translations"] = texts
    s = create_survey(
        session,
        SurveyCreate(
            **fields,
            name=data.name or template_title(data.template, data.language),
            sections=sections,
        ),
        actor=actor,
    )
    s.template = data.template
    session.flush()
    return s


def has_responses(session: Session, survey_id: int) -> bool:
    return bool(session.scalar(select(exists().where(SurveyResponse.survey_id == survey_id))))


def update_survey(
    session: Session,
    survey_id: int,
    data: SurveyUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Survey:
    """Change settings or status; the questions can be replaced only until answers exist.

    A stale ``version``/If-Match gets 409 (core.versioning); a new question list bumps it."""
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    lock_for_edit(session, s, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if "name" in changes and changes["name"] is None:
        raise InvalidInput("name cannot be empty.", field="name")
    before = survey_snapshot(s)
    answered = has_responses(session, s.id)
    if "sections" in changes:
        if answered:
            # No copy of a survey exists to point to: say what can be done instead.
            raise Conflict(
                "The survey already has responses: its questions can no longer be changed. "
                "Create a new survey for other questions.",
                "sections",
            )
        _build_sections(session, s, data.sections or [])
        changes.pop("sections")
        s.updated_at = utcnow()  # new questions are a new version of the survey
    if changes.get("status") == "draft" and s.status != "draft" and answered:
        raise Conflict("A survey with responses cannot go back to draft.", "status")
    if changes.get("status") == "active" and not s.questions:
        raise InvalidInput("A survey needs at least one question to be activated.", "status")
    if "translations" in changes:
        changes["translations"] = languages.clean(changes["translations"])
    for key, value in changes.items():
        if value is None and key not in ("description", "thank_you", "translations"):
            continue
        setattr(s, key, value)
    session.flush()
    record(session, actor, "update", "survey", s.id, before, survey_snapshot(s))
    return s


def set_translation(
    session: Session,
    survey_id: int,
    lang: str,
    data: TranslationIn,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Survey:
    """Replace the survey's texts in ``lang`` (not its own language); blank texts are removed.

    Allowed after answers exist: translations change no question, only how it reads."""
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    lock_for_edit(session, s, data.version, expected_version)
    if lang not in languages.other_languages(s):
        raise InvalidInput(
            Msg("'%(lang)s' is not a second language of survey %(id)s.", lang=lang, id=s.id),
            "language",
        )
    sections = {sec.code: sec for sec in s.sections}
    questions = {q.code: q for q in s.questions}
    for code in data.sections:
        if code not in sections:
            raise InvalidInput(
                Msg("Survey %(id)s has no section '%(code)s'.", id=s.id, code=code),
                f"sections.{code}",
            )
    for code, t in data.questions.items():
        q = questions.get(code)
        if q is None:
            raise InvalidInput(
                Msg("Survey %(id)s has no question '%(code)s'.", id=s.id, code=code),
                f"questions.{code}",
            )
        values = {o["value"] for o in q.options or []}
        unknown = sorted(set(t.options or {}) - values)
        if unknown:
            raise InvalidInput(
                Msg(
                    "Question '%(code)s' has no option '%(option)s'.", code=code, option=unknown[0]
                ),
                f"questions.{code}.options",
            )
    before = {"language": lang, "missing": len(languages.missing_texts(s, lang))}

    def put(obj: Any, texts: dict[str, Any] | None) -> None:
        rest = {k: v for k, v in (obj.translations or {}).items() if k != lang}
        kept = languages.clean({lang: texts or {}}) or {}
        obj.translations = {**rest, **kept} or None

    put(s, data.survey.model_dump())
    for code, sec in sections.items():
        t = data.sections.get(code)
        put(sec, t.model_dump() if t else None)
    for code, q in questions.items():
        t = data.questions.get(code)
        put(q, t.model_dump() if t else None)
    s.updated_at = utcnow()  # a new version of the survey's texts (bumps ``version``)
    session.flush()
    after = {"language": lang, "missing": len(languages.missing_texts(s, lang))}
    record(session, actor, "update", "survey", s.id, before, after)
    return s


def delete_survey(
    session: Session, survey_id: int, *, actor: User, version: int | None = None
) -> None:
    """Delete a survey that has no responses (close it otherwise); a stale ``version``/If-Match
    gets 409 and deletes nothing."""
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    lock_for_edit(session, s, version)
    # FOR UPDATE (not lock_for_edit's NO KEY UPDATE): waits for a transaction that is recording
    # a response to the survey (its FOR KEY SHARE, ``responses._answered_survey``, or the one
    # its insert's foreign-key check takes), so the look-up below sees that response; one that
    # starts later waits for this delete and then finds no survey. Without it the response
    # committed meanwhile was deleted with the survey (its foreign key cascades).
    session.execute(select(Survey.id).where(Survey.id == s.id).with_for_update())
    if has_responses(session, s.id):
        raise Conflict("The survey has responses; close it instead of deleting it.", "survey_id")
    before = survey_snapshot(s)
    session.delete(s)
    session.flush()
    record(session, actor, "delete", "survey", survey_id, before, None)
