"""What the survey screens share: labels of codes, form helpers and answer-form parsing."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from retento.core.errors import FieldError, RetentoError
from retento.core.validation import DbId
from retento.surveys.languages import Shown, shown_survey
from retento.surveys.models import Survey
from retento.surveys.schemas import (
    MAX_ANSWER_TEXT,
    AnswerIn,
)
from retento.web.i18n import LOCALES, N_, message_text, translate
from retento.web.labels import (
    label_msgid,
    register_field_labels,
    register_labels,
    register_value_labels,
)
from retento.web.nav import NavItem, register_nav
from retento.web.render import (
    request_locale,
    tr,
)

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
        "Complaints": N_("Customer complaints"),
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
# A survey's ``template`` (the one it was made from) and ``language`` on the staff pages; the
# public form names each language in itself (``LANGUAGE_NAMES``), as a language switch does.
register_labels("survey_template", dict(TEMPLATE_CHOICES))
register_labels("survey_language", {"en": N_("English"), "zh_CN": N_("Simplified Chinese")})
# Which of these groups names the values of a record's coded fields in the audit log and on
# the stale-edit page.
register_value_labels(
    "survey",
    {"status": "survey_status", "template": "survey_template", "language": "survey_language"},
)
register_value_labels(
    "survey_distribution", {"channel": "survey_channel", "segment_kind": "segment_kind"}
)
register_value_labels("survey_response", {"channel": "survey_channel"})

# The fields of a survey and of a response in the audit log's before/after view.
register_field_labels(
    "survey",
    {
        "description": N_("Description"),
        "language": N_("Language of the questions"),
        "thank_you": N_("Thank-you text"),
        "translations": N_("Texts in other languages"),
        "template": N_("Template"),
        "expectation_tolerance": N_("Tolerance of c = b/a"),
        "token_days": N_("Links valid for (days)"),
        "reminder_after_days": N_("Remind after (days)"),
        "max_reminders": N_("Reminders at most"),
        "sections": N_("Sections"),
    },
)
register_field_labels(
    "survey_response",
    {
        "survey_id": N_("Survey"),
        "invitation_id": N_("Invitation"),
        "source": N_("Source"),
        "entered_by_id": N_("Entered by"),
        "started_at": N_("Started at"),
        "completed_at": N_("Completed at"),
        "answers": N_("Answers given"),
    },
)
SCALES = {
    "rating": ("1-5", "1-7", "1-10"),
    "expectation_perception": ("1-5", "1-7", "1-10"),
    "ces": ("1-5", "1-7"),
}
QUESTION_FIELDS = (
    "code", "text", "help_text", "qtype", "scale_min", "scale_max", "options", "required",
    "satisfaction_dimension", "value_dimension", "csi_latent", "csi_item", "experience_mode",
    "translations",
)  # fmt: skip
VALUE_CLASSES = ("vip", "major", "ordinary", "small")
ENTRY_ROWS = 5
MAX_ENTRY_ROWS = 200
SAVED_FOR_LATER = N_("Your answers were saved. Open this link again to finish later.")


def opts(request: Request, group: str, codes: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """``(code, translated label)`` pairs for a select."""
    return [(c, tr(request, label_msgid(group, c))) for c in codes]


def language_name(request: Request, code: str) -> str:
    """The name of a survey language in the reader's language."""
    return tr(request, label_msgid("survey_language", code))


def language_opts(request: Request) -> list[tuple[str, str]]:
    """``(code, name in the reader's language)`` of every language a survey may be written in."""
    return [(c, language_name(request, c)) for c in LOCALES]


def in_reader_language(request: Request, survey: Survey) -> Shown:
    """``survey`` as the reader sees it: its texts in the reader's language where it has them."""
    return shown_survey(survey, request_locale(request))


def form_text(form: Any, key: str) -> str:
    """One form value as a stripped string."""
    return str(form.get(key) or "").strip()


def survey_url(survey_id: DbId, tail: str = "") -> str:
    """The builder page of a survey, or one of its sub-pages."""
    return f"/surveys/{survey_id}{tail}"


def _number(raw: str) -> float:
    """A score typed or clicked in a form."""
    return float(raw.replace(",", "."))


def _tr_in(request: Request, locale: str | None, message: str, **params: Any) -> str:
    """``message`` in ``locale`` (the public page's language), else in the request's language."""
    return translate(locale, message, **params) if locale else tr(request, message, **params)


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
                raw = form_text(form, name)
                shown[q.code] = {"number": raw}
                value["number"] = _number(raw) if raw else None
            elif q.qtype == "expectation_perception":
                a, b = form_text(form, name + ".a"), form_text(form, name + ".b")
                shown[q.code] = {"expectation": a, "number": b}
                value["expectation"] = _number(a) if a else None
                value["number"] = _number(b) if b else None
            elif q.qtype == "free_text":
                text = str(form.get(name) or "")
                shown[q.code] = {"text": text}
                value["text"] = text.strip() or None
                if value["text"] and len(value["text"]) > MAX_ANSWER_TEXT:
                    # Refused here, kept on the page: the answer model would refuse it too.
                    errors[q.code] = _tr_in(
                        request, locale, N_("Write at most %(n)s characters."), n=MAX_ANSWER_TEXT
                    )
                    continue
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
            # A service's English message (a customer who does not exist …) in the page's language.
            out.setdefault(field, message_text(locale or request_locale(request), fe.message))
    return out


def saved_answers(answers: list[Any]) -> dict[str, dict[str, Any]]:
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


def entry_channels(request: Request) -> list[tuple[str, str]]:
    """Channels an agent enters answers for."""
    return opts(request, "survey_channel", ("phone", "onsite", "mail"))
