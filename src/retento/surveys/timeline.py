"""Survey responses on the customer timeline: which survey (its name in the reader's language
where translated), answered or left unfinished, with the overall satisfaction score and the NPS
score and class. Registered with ``retento.customers.timeline`` when the package is imported.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import Session

from retento.customers.timeline import (
    TimelineEntry,
    TimelineSource,
    TimelineWindow,
    register_timeline_source,
)
from retento.surveys.languages import survey_text
from retento.surveys.models import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from retento.web.i18n import N_, translate

# Promoters score 9–10, passives 7–8, detractors 0–6 (metrics.nps).
NPS_TEXTS = {
    "promoter": N_("NPS %(score)s: promoter"),
    "passive": N_("NPS %(score)s: passive"),
    "detractor": N_("NPS %(score)s: detractor"),
}


def nps_class(score: float) -> str:
    """Promoter (9–10), passive (7–8) or detractor (0–6)."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _number(value: float) -> str:
    return f"{value:g}"


@cache
def _statements() -> tuple[Any, Any, Any]:
    """The responses (bounded), then their answers and their surveys' scored questions (one
    ``IN`` query each), built once."""
    at = func.coalesce(SurveyResponse.completed_at, SurveyResponse.started_at)
    responses = (
        select(
            SurveyResponse.id,
            SurveyResponse.status,
            at.label("at"),
            Survey,
        )
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(
            SurveyResponse.customer_id
            == bindparam("customer_id", type_=SurveyResponse.customer_id.type)
        )
        .order_by(at.desc(), SurveyResponse.id.desc())
        .limit(bindparam("limit", type_=Integer()))
    )
    bounded = responses.where(at <= bindparam("until", type_=SurveyResponse.started_at.type))
    answers = select(SurveyAnswer.response_id, SurveyAnswer.question_id, SurveyAnswer.number).where(
        SurveyAnswer.response_id.in_(bindparam("ids", expanding=True)),
        SurveyAnswer.number.is_not(None),
    )
    questions = (
        select(SurveyQuestion)
        .where(
            SurveyQuestion.survey_id.in_(bindparam("ids", expanding=True)),
            SurveyQuestion.qtype.in_(("rating", "nps")),
        )
        .order_by(
            SurveyQuestion.survey_id, SurveyQuestion.section_position, SurveyQuestion.position
        )
    )
    return (responses, bounded), answers, questions


def survey_entries(
    session: Session, customer_id: int, window: TimelineWindow
) -> list[TimelineEntry]:
    """The customer's survey responses, newest first (three queries whatever the count)."""
    from retento.surveys.reports import headline_csat_question

    (plain, bounded), answers_stmt, questions_stmt = _statements()
    values: dict[str, Any] = {"customer_id": customer_id, "limit": window.limit}
    if window.until is not None:
        values["until"] = window.until
    rows = session.execute(bounded if window.until is not None else plain, values).all()
    if not rows:
        return []
    answers: dict[int, dict[int, float]] = defaultdict(dict)
    for rid, qid, number in session.execute(answers_stmt, {"ids": sorted({r.id for r in rows})}):
        answers[rid][qid] = number
    questions: dict[int, list[SurveyQuestion]] = defaultdict(list)
    for q in session.scalars(questions_stmt, {"ids": sorted({r.Survey.id for r in rows})}):
        questions[q.survey_id].append(q)
    loc = window.locale
    out = []
    for r in rows:
        survey = r.Survey
        qs = questions.get(survey.id, [])
        given = answers.get(r.id, {})
        facts = []
        # headline_csat_question reads only ``.questions`` (in questionnaire order).
        headline = headline_csat_question(SimpleNamespace(questions=qs))  # type: ignore[arg-type]
        if headline is not None and headline.id in given:
            facts.append(
                translate(
                    loc,
                    N_("Satisfaction %(score)s of %(max)s"),
                    score=_number(given[headline.id]),
                    max=headline.scale_max,
                )
            )
        nps_q = next((q for q in qs if q.qtype == "nps"), None)
        if nps_q is not None and nps_q.id in given:
            score = given[nps_q.id]
            facts.append(translate(loc, NPS_TEXTS[nps_class(score)], score=_number(score)))
        name = survey_text(survey, "name", loc) or survey.name
        if r.status == "completed":
            text = translate(loc, N_("Answered the survey “%(survey)s”"), survey=name)
        else:
            text = translate(loc, N_("Started the survey “%(survey)s” (unfinished)"), survey=name)
        href = f"/surveys/{survey.id}/results"
        out.append(TimelineEntry(r.at, "survey", text, href, tuple(facts), None, r.status))
    return out


register_timeline_source(
    TimelineSource(
        kind="survey",
        label=N_("Surveys"),
        load=survey_entries,
        permission="survey:read",
        icon="★",
        order=20,
    )
)
