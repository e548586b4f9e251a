"""Survey notifications: a detractor (NPS 0–6) or a low rating in a completed response.

Subscribes to ``survey.answered`` (emitted once per completed response on every completion
path); keyed by the response, so a re-emitted event notifies nobody twice. Goes to the survey's
creator and the managers. Responses loaded from a file (``source == "import"``) are history and
raise nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.roles import users_working_like
from retento.core.hooks import subscribe
from retento.notifications.kinds import register_kind
from retento.notifications.service import notify
from retento.surveys.models import SurveyAnswer, SurveyResponse
from retento.web.i18n import N_

register_kind(
    "survey_low_answer",
    label=N_("A detractor or a low survey answer"),
    description=N_(
        "A customer scored 0–6 on an NPS question or in the bottom quarter of a rating scale; "
        "for the survey's author and the managers."
    ),
    text=N_("Low answer on %(survey)s: %(answer)s"),
    defaults={"manager": "in_app", "admin": "digest", "*": "in_app"},
    group=N_("Surveys"),
    roles=("admin", "manager"),
)


def low_answers(answers: list[SurveyAnswer]) -> list[str]:
    """``score/max`` of each answer that counts as low (NPS 0–6; a satisfaction rating in the
    bottom quarter of its scale; cost ratings, where high is bad, are left out)."""
    out = []
    for a in answers:
        q = a.question
        if a.number is None or q is None:
            continue
        if q.qtype == "nps":
            if a.number <= 6:
                out.append(f"NPS {a.number:g}/10")
        elif q.qtype == "rating" and q.scale_ends == "satisfaction":
            lo = q.scale_min if q.scale_min is not None else 1
            hi = q.scale_max if q.scale_max is not None else 5
            if hi > lo and a.number <= lo + (hi - lo) * 0.25:
                out.append(f"{a.number:g}/{hi:g} ({q.code})")
    return out


def on_answered(session: Session, response: SurveyResponse, actor: User | None = None, **_):
    if response.status != "completed" or response.source == "import":
        return
    low = low_answers(list(response.answers))
    if not low:
        return
    survey = response.survey
    # The managers (and custom roles working like one that may read surveys).
    users: list[User | None] = list(users_working_like(session, "manager", verb="survey:read"))
    if survey.created_by_id is not None:
        users.append(session.get(User, survey.created_by_id))
    customer = response.customer
    notify(
        session,
        "survey_low_answer",
        users,
        key=str(response.id),
        params={
            "survey": survey.name[:120],
            "answer": ", ".join(low)[:200],
        },
        link=f"/customers/{customer.id}"
        if customer is not None
        else f"/surveys/{survey.id}/results",
        subject_type="survey_response",
        subject_id=response.id,
        actor=actor,
    )


subscribe("survey.answered", on_answered)
