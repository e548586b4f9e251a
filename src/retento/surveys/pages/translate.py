"""The survey's second language, entered side by side with its own texts.

Every text a customer sees is one row: the survey's own text on the left, the other language's
on the right, marked when it is still missing. The survey is shown to customers in the other
language only once nothing is missing (``surveys.languages``), so the page says how many are.
Saving is allowed after answers exist: a translation changes no question.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.core.validation import DbId
from retento.surveys import service
from retento.surveys.languages import missing_texts, other_languages
from retento.surveys.models import Survey
from retento.surveys.pages.common import in_reader_language, language_name, survey_url
from retento.surveys.schemas import QuestionText, SectionText, SurveyText, TranslationIn
from retento.web.conflict import (
    BASE_PREFIX,
    STALE,
    conflict_page,
    form_base,
    form_version,
    read_base,
)
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import PageUser, flash, form_errors, page_router, redirect, render, tr

router = page_router()

# What each text is, shown in the first column.
KINDS = {
    "name": N_("Name"),
    "description": N_("Description"),
    "thank_you": N_("Thank-you text"),
    "title": N_("Section title"),
    "text": N_("Question"),
    "help_text": N_("Help text"),
    "option": N_("Option"),
}


def _lang(request: Request, survey: Survey, raw: str | None) -> str:
    """The language being entered: ``?lang=`` if it is one the survey can take, else the first."""
    others = other_languages(survey)
    if raw and raw not in others:
        raise InvalidInput(tr(request, "Choose one of the listed values."), field="lang")
    return raw or others[0]


def _rows(survey: Survey, lang: str, values: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per text: field name, what it is, the own text, the translation, missing?"""
    missing = {(m.where, m.code, m.key) for m in missing_texts(survey, lang)}
    rows: list[dict[str, Any]] = []

    def add(name: str, kind: str, group: str, original: str | None, current: str | None, key):
        if not original:
            return
        value = values.get(name, "") if values is not None else (current or "")
        rows.append(
            {
                "name": name,
                "kind": KINDS[kind],
                "group": group,
                "original": original,
                "value": value,
                "missing": key in missing if values is None else not value.strip(),
                "long": kind in ("description", "thank_you", "help_text") or len(original) > 80,
            }
        )

    st = (survey.translations or {}).get(lang) or {}
    for key in ("name", "description", "thank_you"):
        add(f"s||{key}", key, "", getattr(survey, key), st.get(key), ("survey", "", key))
    for sec in survey.sections:
        if not sec.questions:
            continue
        t = (sec.translations or {}).get(lang) or {}
        for key in ("title", "description"):
            add(
                f"c|{sec.code}|{key}",
                "title" if key == "title" else "description",
                sec.title,
                getattr(sec, key),
                t.get(key),
                ("section", sec.code, key),
            )
        for q in sec.questions:
            qt = (q.translations or {}).get(lang) or {}
            for key in ("text", "help_text"):
                add(
                    f"q|{q.code}|{key}",
                    key,
                    sec.title,
                    getattr(q, key),
                    qt.get(key),
                    ("question", q.code, key),
                )
            labels = qt.get("options") or {}
            for o in q.options or []:
                add(
                    f"q|{q.code}|opt|{o['value']}",
                    "option",
                    sec.title,
                    o["label"],
                    labels.get(o["value"]),
                    ("question", q.code, f"option:{o['value']}"),
                )
    return rows


def _page(
    request: Request,
    survey: Survey,
    lang: str,
    *,
    values: dict[str, str] | None = None,
    version: int | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The texts side by side; the form carries the version and the texts it was loaded with
    (``base``, for the stale-edit page), both kept when it comes back with errors."""
    rows = _rows(survey, lang, values)
    return render(
        request,
        "surveys/translate.html",
        status_code=status_code,
        # The page's title and breadcrumb in the reader's language; the rows show the texts.
        survey=in_reader_language(request, survey),
        lang=lang,
        lang_name=language_name(request, lang),
        own_name=language_name(request, survey.language),
        rows=rows,
        missing=sum(1 for r in rows if r["missing"]),
        version=survey.version if version is None else version,
        base=base if base is not None else _posted(survey, lang),
        errors=errors or {},
    )


def _posted(survey: Survey, lang: str) -> dict[str, str]:
    """The stored texts in ``lang`` as the form posts them unchanged (input name → text): the
    form's hidden base of a three-way stale-edit page (``web.conflict``)."""
    return {r["name"]: r["value"] for r in _rows(survey, lang)}


def _texts(form: Any) -> dict[str, str]:
    """The posted texts (input name → text, as saved: blank removes one), compared one by one
    on the stale-edit page."""
    return {
        name: raw.strip()
        for name, raw in form.multi_items()
        if isinstance(raw, str) and "|" in name and not name.startswith(BASE_PREFIX)
    }


def _labels(survey: Survey, lang: str, locale_tr: Any) -> dict[str, str]:
    """Each text's name on the stale-edit page: what it is and the own text it translates."""
    return {r["name"]: f"{locale_tr(r['kind'])} · {r['original']}" for r in _rows(survey, lang)}


@router.get("/surveys/{survey_id:int}/translate")
def translate_form(
    request: Request, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Every text of the survey beside a field for the other language; missing ones marked."""
    require(user, "survey:manage")
    survey = service.get_survey(session, survey_id, actor=user)
    lang = _lang(request, survey, request.query_params.get("lang"))
    return _page(request, survey, lang)


def _parse(form: Any) -> tuple[TranslationIn, dict[str, str]]:
    """The posted fields as the service's input, and the values to show again."""
    values: dict[str, str] = {}
    survey: dict[str, str] = {}
    sections: dict[str, dict[str, str]] = {}
    questions: dict[str, dict[str, Any]] = {}
    for name, raw in form.multi_items():
        if not isinstance(raw, str) or "|" not in name or name.startswith(BASE_PREFIX):
            continue  # the texts the form was loaded with (base.…) are no texts to save
        value = raw.strip()
        values[name] = raw
        kind, code, rest = (name.split("|", 2) + ["", ""])[:3]
        if kind == "s" and rest in ("name", "description", "thank_you"):
            survey[rest] = value
        elif kind == "c" and rest in ("title", "description"):
            sections.setdefault(code, {})[rest] = value
        elif kind == "q" and rest in ("text", "help_text"):
            questions.setdefault(code, {})[rest] = value
        elif kind == "q" and rest.startswith("opt|"):
            questions.setdefault(code, {}).setdefault("options", {})[rest[4:]] = value
    data = TranslationIn(
        version=form_version(form),
        survey=SurveyText(**{k: v or None for k, v in survey.items()}),
        sections={
            c: SectionText(**{k: v or None for k, v in t.items()}) for c, t in sections.items()
        },
        questions={c: QuestionText(**t) for c, t in questions.items()},
    )
    return data, values


def _save(request: Request, form: Any, session: Session, user: User, survey_id: int) -> Response:
    survey = service.get_survey(session, survey_id, actor=user)
    lang = _lang(request, survey, str(form.get("lang") or "") or None)
    values: dict[str, str] = {}
    try:
        data, values = _parse(form)
        survey = service.set_translation(
            session, survey_id, lang, data, actor=user, expected_version=data.version
        )
    except STALE:
        session.rollback()
        current = service.get_survey(session, survey_id, actor=user)
        current_form = _posted(current, lang)
        return conflict_page(
            request,
            session,
            entity="survey",
            record=current,
            title=f"{current.name} · {language_name(request, lang)}",
            submitted=_texts(form),
            current=current_form,
            labels=_labels(current, lang, lambda m: tr(request, m)),
            form=form,
            action=survey_url(survey_id, "/translate"),
            reload_url=survey_url(survey_id, f"/translate?lang={lang}"),
            cancel_url=survey_url(survey_id),
            expected=form_version(form),
            base=read_base(form, _texts),
            current_form=current_form,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        survey = service.get_survey(session, survey_id, actor=user)
        errors = form_errors(request, exc)
        return _page(
            request, survey, lang, values=values, version=form_version(form), errors=errors,
            status_code=422, base=form_base(form),
        )  # fmt: skip
    left = len(missing_texts(survey, lang))
    if left:
        flash(request, tr(request, "The texts were saved; %(n)s are still missing.", n=left))
    else:
        flash(
            request,
            tr(
                request,
                "The texts were saved. Customers who read %(language)s now get the survey in it.",
                language=language_name(request, lang),
            ),
        )
    return redirect(request, survey_url(survey_id, f"/translate?lang={lang}"))


@router.post("/surveys/{survey_id:int}/translate")
def translate_save(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Save the other language's texts (blank fields remove a text)."""
    return _save(request, form, session, user, survey_id)
