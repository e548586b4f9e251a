"""A survey in two languages: which texts a language still lacks and which language a reader gets.

A survey is written in its own language (``Survey.language``); the texts of the other language
(English or Chinese) sit beside them in ``translations``. A language is *complete* when every
text the survey shows has it: the name, the description and the thank-you text when the survey
has them, every section title (and description), every question (and help text) and every
option label. Scale ends ("Very dissatisfied" … "Very satisfied") are product words translated
by the catalogues, so they follow the page's language by themselves.

The rule for customers (public form, invitation and reminder e-mails): the customer's language
only when the survey has it complete, otherwise the survey's own language, for the questions and
the buttons alike — never Chinese buttons around English questions. Staff pages (phone and
paper entry, results, distributions, the editor's overview, lists and pickers) show each text in
the reader's language where it exists and fall back text by text (:func:`shown_survey`,
:func:`name_in`); the editor's forms and the translation page edit the stored texts as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retento.mail.compose import customer_locale
from retento.surveys.models import Survey, SurveyQuestion, SurveySection
from retento.web.i18n import LOCALES, accept_language, normalise_locale

SURVEY_KEYS = ("name", "description", "thank_you")
SECTION_KEYS = ("title", "description")
QUESTION_KEYS = ("text", "help_text")


def _texts(obj: Survey | SurveySection | SurveyQuestion, lang: str) -> dict[str, Any]:
    return (obj.translations or {}).get(lang) or {}


def _own(survey: Survey) -> str:
    return normalise_locale(survey.language)


def other_languages(survey: Survey) -> list[str]:
    """The languages a survey can be translated into (all we speak but its own)."""
    return [lang for lang in LOCALES if lang != _own(survey)]


@dataclass(frozen=True)
class Missing:
    """One text a language lacks: where (``survey``, a section or question code) and which."""

    where: str
    code: str
    key: str  # name / description / thank_you / title / text / help_text / option:<value>


def missing_texts(survey: Survey, lang: str) -> list[Missing]:
    """Every text ``survey`` shows that has no ``lang`` version yet (none for its own language)."""
    lang = normalise_locale(lang)
    if lang == _own(survey):
        return []
    out: list[Missing] = []
    mine = _texts(survey, lang)
    for key in SURVEY_KEYS:
        if getattr(survey, key) and not mine.get(key):
            out.append(Missing("survey", "", key))
    for sec in survey.sections:
        # Empty sections are not shown on the form, so they need no translation.
        if not sec.questions:
            continue
        st = _texts(sec, lang)
        for key in SECTION_KEYS:
            if getattr(sec, key) and not st.get(key):
                out.append(Missing("section", sec.code, key))
        for q in sec.questions:
            qt = _texts(q, lang)
            for key in QUESTION_KEYS:
                if getattr(q, key) and not qt.get(key):
                    out.append(Missing("question", q.code, key))
            labels = qt.get("options") or {}
            for o in q.options or []:
                if not labels.get(o["value"]):
                    out.append(Missing("question", q.code, f"option:{o['value']}"))
    return out


def is_complete(survey: Survey, lang: str) -> bool:
    """``survey`` can be shown wholly in ``lang``."""
    return not missing_texts(survey, lang)


def complete_languages(survey: Survey) -> list[str]:
    """The survey's own language first, then every other language it has complete."""
    return [_own(survey)] + [lang for lang in other_languages(survey) if is_complete(survey, lang)]


def browser_language(header: str | None) -> str | None:
    """The language we speak that an ``Accept-Language`` header prefers by its ``q`` weights,
    if any (``web.i18n.accept_language``, as the pages and the API weigh it)."""
    return accept_language(header)


def customer_language(customer: Any) -> str | None:
    """The language a customer stated (custom field ``language``, or living in China), if any."""
    own = customer_locale(customer, "en")
    return own if own == customer_locale(customer, "zh_CN") else None


def pick_language(survey: Survey, wanted: str | None) -> str:
    """``wanted`` if the survey has it complete, else the survey's own language."""
    if wanted:
        lang = normalise_locale(wanted)
        if lang == _own(survey) or is_complete(survey, lang):
            return lang
    return _own(survey)


# ---------------------------------------------------------------------------------------------
# Texts in one language (falling back text by text to the survey's own language)
# ---------------------------------------------------------------------------------------------


def survey_text(survey: Survey, key: str, lang: str | None) -> str | None:
    """The survey's ``name``, ``description`` or ``thank_you`` in ``lang`` where given."""
    own = getattr(survey, key)
    if not lang or normalise_locale(lang) == _own(survey):
        return own
    return _texts(survey, normalise_locale(lang)).get(key) or own


def name_in(
    name: str, language: str | None, translations: dict[str, Any] | None, lang: str | None
) -> str:
    """A survey's name in ``lang`` from its stored columns (``name``, ``language``,
    ``translations``): for lists and pickers that select only those."""
    if not lang or normalise_locale(lang) == normalise_locale(language):
        return name
    return ((translations or {}).get(normalise_locale(lang)) or {}).get("name") or name


def section_texts(sec: SurveySection, lang: str | None) -> dict[str, Any]:
    """A section's title and description in ``lang`` where given."""
    t = _texts(sec, normalise_locale(lang)) if lang else {}
    return {k: t.get(k) or getattr(sec, k) for k in SECTION_KEYS}


def option_labels(q: SurveyQuestion, lang: str | None) -> dict[str, str]:
    """``{option value: label}`` in ``lang`` where given."""
    t = (_texts(q, normalise_locale(lang)).get("options") or {}) if lang else {}
    return {o["value"]: t.get(o["value"]) or o["label"] for o in q.options or []}


def question_texts(q: SurveyQuestion, lang: str | None) -> dict[str, Any]:
    """A question's text, help text and options (value + label) in ``lang`` where given."""
    t = _texts(q, normalise_locale(lang)) if lang else {}
    labels = option_labels(q, lang)
    return {
        "text": t.get("text") or q.text,
        "help_text": t.get("help_text") or q.help_text,
        "options": [{"value": v, "label": label} for v, label in labels.items()]
        if q.options
        else None,
    }


def localised_sections(survey: Survey, lang: str | None) -> list[dict[str, Any]]:
    """The questionnaire as plain data in ``lang`` (what ``PublicSection`` validates)."""
    out = []
    for sec in survey.sections:
        questions = []
        for q in sec.questions:
            questions.append(
                {
                    "code": q.code,
                    "qtype": q.qtype,
                    "scale_min": q.scale_min,
                    "scale_max": q.scale_max,
                    "required": q.required,
                    "scale_ends": q.scale_ends,
                    **question_texts(q, lang),
                }
            )
        out.append({"code": sec.code, **section_texts(sec, lang), "questions": questions})
    return out


def clean(translations: dict[str, Any] | None) -> dict[str, Any] | None:
    """Translations without blank texts or empty languages (what is stored)."""
    if not translations:
        return None
    out: dict[str, Any] = {}
    for lang, texts in translations.items():
        if not texts:
            continue
        kept: dict[str, Any] = {}
        for key, value in dict(texts).items():
            if isinstance(value, dict):
                value = {k: v.strip() for k, v in value.items() if v and v.strip()}
            elif isinstance(value, str):
                value = value.strip()
            if value:
                kept[key] = value
        if kept:
            out[lang] = kept
    return out or None


# ---------------------------------------------------------------------------------------------
# A stored survey as a staff reader sees it
# ---------------------------------------------------------------------------------------------


class Shown:
    """A stored survey, section or question read in one language: its texts (name, title,
    question text, option labels …) in that language where the survey has them, text by text,
    every other attribute as stored. ``own`` is the stored object (what the editor's forms
    edit). Only for showing: services take the stored objects."""

    def __init__(self, own: Any, texts: dict[str, Any]) -> None:
        self.own = own
        self._texts = texts

    def __getattr__(self, name: str) -> Any:
        texts = self.__dict__.get("_texts") or {}
        if name in texts:
            return texts[name]
        return getattr(self.__dict__["own"], name)


def named(survey: Survey, lang: str | None) -> Shown:
    """``survey`` with its name in ``lang`` where it has it (lists: no questions loaded)."""
    return Shown(survey, {"name": survey_text(survey, "name", lang) or survey.name})


def shown_survey(survey: Survey, lang: str | None) -> Shown:
    """``survey`` with its sections and questions in ``lang`` where it has them (staff pages:
    the reader's language, falling back text by text to the survey's own)."""
    if lang and normalise_locale(lang) == _own(survey):
        lang = None
    questions = {id(q): Shown(q, question_texts(q, lang)) for q in survey.questions}

    def question(q: SurveyQuestion) -> Shown:
        return questions.get(id(q)) or Shown(q, question_texts(q, lang))

    sections = [
        Shown(sec, {**section_texts(sec, lang), "questions": [question(q) for q in sec.questions]})
        for sec in survey.sections
    ]
    texts = {key: survey_text(survey, key, lang) for key in SURVEY_KEYS}
    return Shown(
        survey,
        {**texts, "sections": sections, "questions": [question(q) for q in survey.questions]},
    )
