"""Answering a survey: one validation for every channel, the public one-time link and an agent's
entry (phone, on site). Bulk entry of paper questionnaires and file import write through
``surveys.ingest``, which uses the same validation."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    Msg,
    NotFound,
    RetentoError,
    Term,
)
from retento.core.hooks import emit
from retento.core.locking import key_share_row, lock_row
from retento.core.pagination import paginate
from retento.customers.guard import lock_customer, refuse_merged
from retento.customers.models import Customer
from retento.surveys import languages
from retento.surveys.duplicates import check_duplicate
from retento.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)
from retento.surveys.schemas import (
    AnswerIn,
    AnswersSubmit,
    PublicAnswer,
    PublicSection,
    PublicSurvey,
    ResponseCreate,
)
from retento.surveys.service import _survey
from retento.surveys.tokens import hash_token
from retento.web.labels import label_msgid

# ---------------------------------------------------------------------------------------------
# Answers: one validation for every channel
# ---------------------------------------------------------------------------------------------


def _scaled(q: SurveyQuestion, value: float, what: str) -> float:
    # JSON bodies may carry NaN / Infinity: reject them here, never store a non-finite score.
    if not math.isfinite(value) or value != int(value) or not (q.scale_min <= value <= q.scale_max):
        raise ValueError(
            Msg(
                "%(field)s must be a whole number from %(low)s to %(top)s",
                field=what,
                low=q.scale_min,
                top=q.scale_max,
            )
        )
    return float(value)


def check_answer(q: SurveyQuestion, a: AnswerIn) -> dict[str, Any] | None:
    """The stored form of one answer, or None if it is empty; ValueError names the problem."""
    number, expectation, text, choices = a.number, a.expectation, a.text, a.choices
    if number is None and expectation is None and not text and not choices:
        return None
    out: dict[str, Any] = {"number": None, "expectation": None, "text": None, "choices": None}
    if q.qtype in ("rating", "nps", "ces"):
        if number is None:
            raise ValueError("a score is required (number)")
        if expectation is not None or text or choices:
            raise ValueError("only a number is allowed")
        out["number"] = _scaled(q, number, Msg("the score"))
    elif q.qtype == "expectation_perception":
        if number is None or expectation is None:
            raise ValueError("both the expectation (a) and the perception (number, b) are needed")
        out["expectation"] = _scaled(q, expectation, Msg("the expectation"))
        out["number"] = _scaled(q, number, Msg("the perception"))
    elif q.qtype == "free_text":
        if number is not None or expectation is not None or choices:
            raise ValueError("only text is allowed")
        out["text"] = (text or "").strip() or None
        if out["text"] is None:
            return None
    else:
        picked = list(choices or ([] if text is None else [text]))
        allowed = [o["value"] for o in q.options or []]
        bad = [c for c in picked if c not in allowed]
        if bad:
            raise ValueError(
                Msg(
                    "'%(value)s' is not an option; options: %(choices)s",
                    value=bad[0],
                    choices=", ".join(allowed),
                )
            )
        if q.qtype == "single_choice" and len(picked) != 1:
            raise ValueError("exactly one option must be chosen")
        out["choices"] = list(dict.fromkeys(picked))
    return out


def _answers_by_code(survey: Survey) -> dict[str, SurveyQuestion]:
    return {q.code: q for q in survey.questions}


def validate_answers(
    survey: Survey, answers: list[AnswerIn], *, row: int | None = None, prefix: str = "answers"
) -> tuple[dict[int, dict[str, Any] | None], list[FieldError]]:
    """Check answers against the questions: ``{question_id: stored form}`` and the errors."""
    questions = _answers_by_code(survey)
    out: dict[int, dict[str, Any] | None] = {}
    errors: list[FieldError] = []
    for i, a in enumerate(answers):
        where = a.question if row is not None else f"{prefix}.{i}"
        q = questions.get(a.question)
        if q is None:
            errors.append(
                FieldError(where, Msg("Unknown question '%(question)s'.", question=a.question), row)
            )
            continue
        if q.id in out:
            # Two answers to one question: keeping the last would drop the other unsaid.
            errors.append(
                FieldError(
                    where,
                    Msg("Question '%(question)s' is answered twice.", question=a.question),
                    row,
                )
            )
            continue
        try:
            out[q.id] = check_answer(q, a)
        except ValueError as exc:
            reason = exc.args[0] if exc.args else str(exc)
            reason = reason if isinstance(reason, Msg) else Msg(str(reason))
            errors.append(
                FieldError(
                    where, Msg("%(question)s: %(reason)s", question=a.question, reason=reason), row
                )
            )
    return out, errors


def _apply(response: SurveyResponse, checked: dict[int, dict[str, Any] | None]) -> None:
    current = {a.question_id: a for a in response.answers}
    for qid, value in checked.items():
        existing = current.get(qid)
        if value is None:
            if existing is not None:
                response.answers.remove(existing)
            continue
        if existing is None:
            response.answers.append(SurveyAnswer(question_id=qid, **value))
        else:
            for k, v in value.items():
                setattr(existing, k, v)


def _missing_required(survey: Survey, response: SurveyResponse) -> list[FieldError]:
    answered = {a.question_id for a in response.answers}
    return [
        FieldError(q.code, Msg("Question '%(code)s' must be answered.", code=q.code))
        for q in survey.questions
        if q.required and q.id not in answered
    ]


def response_snapshot(r: SurveyResponse) -> dict[str, Any]:
    codes = {q.id: q.code for q in r.survey.questions} if r.survey else {}
    return snapshot(
        r,
        {
            "answers": {
                codes.get(a.question_id, str(a.question_id)): {
                    k: v
                    for k, v in (
                        ("number", a.number),
                        ("expectation", a.expectation),
                        ("text", a.text),
                        ("choices", a.choices),
                    )
                    if v is not None
                }
                for a in r.answers
            }
        },
    )


def _complete(
    survey: Survey, response: SurveyResponse, when: datetime, *, row: int | None = None
) -> None:
    missing = _missing_required(survey, response)
    if missing:
        for e in missing:
            e.row = row
        raise InvalidInput(
            Msg(
                "%(n)s required question(s) are not answered: %(fields)s",
                n=len(missing),
                fields=", ".join(e.field or "" for e in missing),
            ),
            field=missing[0].field,
            errors=missing,
        )
    response.status = "completed"
    response.completed_at = when


def _answered_survey(session: Session, survey_id: int) -> Survey | None:
    """The survey a response is about to be written to, read ``FOR KEY SHARE`` before any
    other lock: a delete of the survey (``service.delete_survey``, ``FOR UPDATE``) then waits
    for this transaction and sees its response, or this one waits for the delete and finds no
    survey (``None``), never a response deleted with the survey after it was recorded."""
    return key_share_row(session, Survey, survey_id)


def _require_open(survey: Survey) -> None:
    if survey.status != "active":
        raise Conflict(
            Msg(
                "Survey %(id)s is %(status)s and takes no answers.",
                id=survey.id,
                status=Term(survey.status, label_msgid("survey_status", survey.status)),
            ),
            "status",
        )


# ---------------------------------------------------------------------------------------------
# Online: the public one-time link
# ---------------------------------------------------------------------------------------------


class LinkGone(RetentoError):
    """A link that was valid but can no longer be used (expired, or the survey closed)."""

    def __init__(self, message: str):
        super().__init__(410, "link_gone", message, "token")


def invitation_for_token(
    session: Session, token: str, now: datetime | None = None
) -> SurveyInvitation:
    """The invitation behind a link; 404 unknown, 410 expired or survey closed."""
    now = now or utcnow()
    inv = None
    if 20 <= len(token) <= 100:
        inv = session.scalar(
            select(SurveyInvitation).where(SurveyInvitation.token_hash == hash_token(token))
        )
    if inv is None:
        raise NotFound("Survey link", "", field="token")
    if inv.expires_at <= now and inv.completed_at is None:
        raise LinkGone(f"This survey link expired on {inv.expires_at:%Y-%m-%d}.")
    survey = session.get(Survey, inv.survey_id)
    if survey is None or survey.status == "closed":
        raise LinkGone("This survey is closed.")
    return inv


def _invitation_response(session: Session, inv: SurveyInvitation) -> SurveyResponse | None:
    return session.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.invitation_id == inv.id)
        .options(selectinload(SurveyResponse.answers))
    )


def public_survey(
    session: Session,
    token: str,
    *,
    lang: str | None = None,
    fallback: str | None = None,
    now: datetime | None = None,
) -> PublicSurvey:
    """What the respondent sees: the questions and the answers saved so far; marks it opened.

    The language is ``lang`` (chosen on the page or carried by the e-mailed link), else the
    customer's own, else ``fallback`` (the browser's) — used only when the survey has it
    complete, otherwise the survey's own language (``surveys.languages``)."""
    now = now or utcnow()
    inv = invitation_for_token(session, token, now)
    survey = _survey(session, inv.survey_id)
    if not lang:
        customer = session.get(Customer, inv.customer_id)
        lang = (languages.customer_language(customer) if customer else None) or fallback
    shown = languages.pick_language(survey, lang)
    if inv.opened_at is None:
        inv.opened_at = now
        session.flush()
    response = _invitation_response(session, inv)
    codes = {q.id: q.code for q in survey.questions}
    answers = [
        PublicAnswer(
            question=codes[a.question_id],
            number=a.number,
            expectation=a.expectation,
            text=a.text,
            choices=a.choices,
        )
        for a in (response.answers if response else [])
    ]
    return PublicSurvey(
        name=languages.survey_text(survey, "name", shown) or survey.name,
        description=languages.survey_text(survey, "description", shown),
        thank_you=languages.survey_text(survey, "thank_you", shown),
        language=shown,
        languages=languages.complete_languages(survey),
        status="new" if response is None else response.status,  # type: ignore[arg-type]
        expires_at=inv.expires_at,
        sections=[
            PublicSection.model_validate(s) for s in languages.localised_sections(survey, shown)
        ],
        answers=answers,
    )


def public_submit(
    session: Session, token: str, data: AnswersSubmit, *, now: datetime | None = None
) -> SurveyResponse:
    """Save answers behind a link (resumable); ``complete`` finishes it — only once per link.

    The invitation row is locked before anything is read from it: submissions through one link
    (a double click, two tabs) run one after the other, so they share one response and only the
    first completion counts.
    """
    now = now or utcnow()
    found = invitation_for_token(session, token, now)
    # The survey before the invitation, in the order its delete takes them (the delete removes
    # the survey's invitations with it).
    survey = _answered_survey(session, found.survey_id)
    inv = lock_row(session, SurveyInvitation, found.id)
    if survey is None or inv is None:  # deleted meanwhile
        raise LinkGone("This survey is closed.")
    if inv.completed_at is not None:
        raise Conflict("This survey was already answered with this link. Thank you!", "token")
    _require_open(survey)
    checked, errors = validate_answers(survey, data.answers)
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)
    response = _invitation_response(session, inv)
    created = response is None
    if response is None:
        response = SurveyResponse(
            survey_id=survey.id,
            customer_id=inv.customer_id,
            invitation_id=inv.id,
            channel=inv.channel,
            source="token",
            status="partial",
            started_at=now,
        )
        session.add(response)
    before = None if created else response_snapshot(response)
    _apply(response, checked)
    if inv.opened_at is None:
        inv.opened_at = now
    if data.complete:
        _complete(survey, response, now)
        inv.completed_at = now
    session.flush()
    record(
        session,
        None,
        "create" if created else "update",
        "survey_response",
        response.id,
        before,
        response_snapshot(response),
    )
    if response.status == "completed":
        emit("survey.answered", session, response=response, actor=None)
    return response


# ---------------------------------------------------------------------------------------------
# Phone (an agent), paper / on-site (bulk entry) and file import
# ---------------------------------------------------------------------------------------------


def _customer(
    session: Session, customer_id: int, field: str = "customer_id", *, lock: bool = False
) -> Customer:
    """The customer a response names, guarded against a merge (``customers.guard``): locked
    ``FOR SHARE``, or ``FOR NO KEY UPDATE`` with ``lock`` (taken at once rather than raised
    later, when two shared holders would deadlock); 409 if it was merged."""
    if lock:
        c = lock_row(session, Customer, customer_id)
        if c is not None:
            refuse_merged(c, field)
    else:
        c = lock_customer(session, customer_id, field)
    if c is None:
        raise InvalidInput(Msg("Customer %(id)s does not exist.", id=customer_id), field=field)
    return c


def _open_invitation(
    session: Session, survey_id: int, customer_id: int, now: datetime
) -> SurveyInvitation | None:
    return session.scalar(
        select(SurveyInvitation)
        .where(
            SurveyInvitation.survey_id == survey_id,
            SurveyInvitation.customer_id == customer_id,
            SurveyInvitation.completed_at.is_(None),
            SurveyInvitation.expires_at > now,
        )
        .order_by(SurveyInvitation.id.desc())
        .limit(1)
    )


def record_response(
    session: Session,
    survey_id: int,
    data: ResponseCreate,
    *,
    actor: User,
    now: datetime | None = None,
) -> SurveyResponse:
    """An agent enters answers (phone, or on site); it completes the customer's open invitation
    and resumes its partial response, if any."""
    require(actor, "survey:respond")
    now = now or utcnow()
    survey = _answered_survey(session, survey_id)
    if survey is None:
        raise NotFound("Survey", survey_id, field="survey_id")
    _require_open(survey)
    if data.customer_id is not None:
        # The customer first (as a merge locks it first), before the invitation; the row lock
        # the duplicate check below needs, taken now.
        _customer(session, data.customer_id, lock=not data.allow_duplicate)
    if data.external_id is not None and session.scalar(
        select(SurveyResponse.id).where(SurveyResponse.external_id == data.external_id)
    ):
        raise Conflict(
            Msg("Response '%(value)s' already exists.", value=data.external_id), "external_id"
        )
    checked, errors = validate_answers(survey, data.answers)
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)
    inv = (
        _open_invitation(session, survey.id, data.customer_id, now)
        if data.customer_id is not None
        else None
    )
    if inv is not None:
        # The customer may answer through the link at this moment: take the invitation's lock
        # and look again, so a response is not attached to an invitation completed meanwhile.
        inv = lock_row(session, SurveyInvitation, inv.id)
        if inv.completed_at is not None:
            inv = None
    response = _invitation_response(session, inv) if inv is not None else None
    created = response is None
    if created and data.customer_id is not None and not data.allow_duplicate:
        # The customer's row lock serialises two agents recording the same customer at once.
        lock_row(session, Customer, data.customer_id)
        check_duplicate(session, survey.id, data.customer_id)
    if response is None:
        response = SurveyResponse(
            survey_id=survey.id,
            customer_id=data.customer_id,
            invitation_id=inv.id if inv else None,
            channel=data.channel,
            source="agent",
            status="partial",
            started_at=now,
            external_id=data.external_id,
        )
        session.add(response)
    before = None if created else response_snapshot(response)
    response.entered_by_id = actor.id
    _apply(response, checked)
    if data.complete:
        _complete(survey, response, now)
        if inv is not None:
            inv.completed_at = now
    session.flush()
    record(
        session,
        actor,
        "create" if created else "update",
        "survey_response",
        response.id,
        before,
        response_snapshot(response),
    )
    if response.status == "completed":
        emit("survey.answered", session, response=response, actor=actor)
    return response


def get_response(session: Session, response_id: int, *, actor: User) -> SurveyResponse:
    require(actor, "survey:read")
    r = session.get(SurveyResponse, response_id)
    if r is None:
        raise NotFound("Survey response", response_id, field="response_id")
    return r


def update_response(
    session: Session,
    response_id: int,
    data: AnswersSubmit,
    *,
    actor: User,
    now: datetime | None = None,
) -> SurveyResponse:
    """Continue a partial response (a call that was interrupted), optionally completing it."""
    require(actor, "survey:respond")
    now = now or utcnow()
    get_response(session, response_id, actor=actor)
    # Locked: two agents finishing the same interrupted call complete it once.
    response = lock_row(session, SurveyResponse, response_id)
    if response.status == "completed":
        raise Conflict(Msg("Response %(id)s is already completed.", id=response.id), "response_id")
    survey = _survey(session, response.survey_id)
    _require_open(survey)
    checked, errors = validate_answers(survey, data.answers)
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)
    before = response_snapshot(response)
    _apply(response, checked)
    response.entered_by_id = actor.id
    if data.complete:
        _complete(survey, response, now)
        if response.invitation_id is not None:
            inv = session.get(SurveyInvitation, response.invitation_id)
            if inv is not None:
                inv.completed_at = now
    session.flush()
    record(
        session,
        actor,
        "update",
        "survey_response",
        response.id,
        before,
        response_snapshot(response),
    )
    if response.status == "completed":
        emit("survey.answered", session, response=response, actor=actor)
    return response


def list_responses(
    session: Session,
    survey_id: int,
    *,
    actor: User,
    status: str | None = None,
    channel: str | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """A page of a survey's responses with their answers."""
    require(actor, "survey:read")
    _survey(session, survey_id)
    stmt = select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)
    if status:
        stmt = stmt.where(SurveyResponse.status == status)
    if channel:
        stmt = stmt.where(SurveyResponse.channel == channel)
    if customer_id is not None:
        stmt = stmt.where(SurveyResponse.customer_id == customer_id)
    stmt = stmt.order_by(SurveyResponse.id.desc()).options(selectinload(SurveyResponse.answers))
    return paginate(session, stmt, limit=limit, offset=offset)


# Subscribes the survey notifications (a detractor or a low answer) to survey.answered wherever
# answers are recorded (web, API, CLI, worker): every completion path is in this module or in
# ``surveys.ingest``, which imports it.
from retento.surveys import notifications as _notifications  # noqa: E402, F401
