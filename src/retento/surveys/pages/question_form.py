"""The question form of the survey editor: a stored question as the form's values, the
posted form read back (``QuestionIn`` payload and the values to show again), and the labels of
its fields for the stale-edit pages (web.conflict)."""

from __future__ import annotations

from typing import Any

from retento.core.errors import NotFound
from retento.surveys.models import Survey, SurveyQuestion
from retento.surveys.pages.common import SCALES, form_text
from retento.web.i18n import N_


def question_values(q: SurveyQuestion | None, section: str) -> dict[str, Any]:
    """The question form's initial values."""
    if q is None:
        return {"section": section, "qtype": "rating", "scale": "1-5", "required": False}
    return {
        "section": section,
        "code": q.code,
        "text": q.text,
        "help_text": q.help_text or "",
        "qtype": q.qtype,
        # A type without a choice of scale (NPS: 0-10) posts none: the form has no such option.
        "scale": f"{q.scale_min}-{q.scale_max}"
        if q.scale_min is not None and q.qtype in SCALES
        else "",
        "options": "\n".join(f"{o['value']}: {o['label']}" for o in q.options or []),
        "required": q.required,
        "satisfaction_dimension": q.satisfaction_dimension or "",
        "value_dimension": q.value_dimension or "",
        "csi_latent": q.csi_latent or "",
        "csi_item": q.csi_item or "",
        "experience_mode": q.experience_mode or "",
    }


# Question form fields → labels, for the stale-edit page (web.conflict).
QUESTION_LABELS = {
    "section": N_("Section"),
    "code": N_("Code"),
    "text": N_("Question"),
    "help_text": N_("Help text"),
    "qtype": N_("Type"),
    "scale": N_("Scale"),
    "options": N_("Options"),
    "required": N_("An answer is required"),
    "satisfaction_dimension": N_("Satisfaction dimension"),
    "value_dimension": N_("Delivered-value dimension"),
    "csi_latent": N_("CSI latent variable"),
    "csi_item": N_("CSI item"),
    "experience_mode": N_("Experience mode"),
}


def parse_question(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(QuestionIn payload, values to re-show)`` from the question form."""
    keys = (
        "section", "code", "text", "help_text", "qtype", "scale", "options",
        "satisfaction_dimension", "value_dimension", "csi_latent", "csi_item", "experience_mode",
    )  # fmt: skip
    shown: dict[str, Any] = {k: form_text(form, k) for k in keys}
    shown["options"] = shown["options"].replace("\r\n", "\n")  # as a browser posts a textarea
    shown["required"] = form.get("required") == "1"
    qtype = shown["qtype"] or "rating"
    data: dict[str, Any] = {
        "code": shown["code"],
        "text": shown["text"],
        "help_text": shown["help_text"] or None,
        "qtype": qtype,
        "required": shown["required"],
    }
    for k in (
        "satisfaction_dimension", "value_dimension", "csi_latent", "csi_item", "experience_mode",
    ):  # fmt: skip
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


def find_question(survey: Survey, code: str) -> SurveyQuestion:
    """The question with ``code``; 404 otherwise."""
    for q in survey.questions:
        if q.code == code:
            return q
    raise NotFound("Question", code, field="code")
