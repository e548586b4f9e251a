"""The follow-up step (跟踪): the agent records whether the customer was won back, and the
customer answers the satisfaction question behind the follow-up link (a low score reopens)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints import workflow
from retento.complaints.models import Complaint
from retento.complaints.schemas import FollowUpIn, SurveyAnswerIn, TransitionIn
from retento.complaints.service import (
    _event,
    apply_transition,
    complaint_snapshot,
    lock_complaint,
    require_work,
)
from retento.core.db import utcnow
from retento.core.errors import Conflict, Msg, NotFound, RetentoError, Term
from retento.web.i18n import N_, system_text

LOW_CSAT = 2  # a follow-up answer at or below this reopens the complaint


def record_follow_up(
    session: Session, complaint_id: int, data: FollowUpIn, *, actor: User
) -> Complaint:
    """The follow-up step (跟踪): was the customer won back? Moves resolved → follow_up."""
    require(actor, "complaint:read")
    c = lock_complaint(session, complaint_id)
    require_work(actor, c)
    if c.status == "resolved":
        apply_transition(session, c.id, TransitionIn(action="follow_up"), actor=actor)
    elif c.status != "follow_up":
        from retento.web.labels import label_msgid

        raise Conflict(
            Msg(
                "Follow-up is recorded after resolution; complaint %(id)s is %(status)s.",
                id=c.id,
                status=Term(c.status, label_msgid("complaint_status", c.status)),
            ),
            field="status",
        )
    before = complaint_snapshot(c)
    c.won_back = data.won_back
    _event(session, c, "note", actor, data.note, data={"won_back": data.won_back})
    session.flush()
    record(session, actor, "update", "complaint", c.id, before, complaint_snapshot(c))
    return c


def followup_question(session: Session, token: str) -> Complaint:
    c = session.scalar(select(Complaint).where(Complaint.followup_token == token))
    if c is None:
        raise NotFound("Follow-up link", "given", field="token")
    return c


class FollowUpAnswered(RetentoError):
    """410: the follow-up link was used (each link takes one answer)."""

    def __init__(self) -> None:
        super().__init__(410, "link_gone", "This question was already answered.", "token")


def answer_survey(session: Session, token: str, data: SurveyAnswerIn) -> Complaint:
    """The customer's resolution CSAT (1–5) and "would buy again"; a low score reopens.

    One answer per link, decided by the database: a conditional ``UPDATE ... WHERE
    survey_answered_at IS NULL`` claims the link, and only the request whose update changed
    the row goes on; every other one (sequential or parallel) gets 410.
    """
    c = followup_question(session, token)
    now = utcnow()
    claimed = session.execute(
        update(Complaint)
        .where(
            Complaint.id == c.id,
            Complaint.followup_token == token,
            Complaint.survey_answered_at.is_(None),
        )
        .values(survey_answered_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise FollowUpAnswered()
    # The UPDATE holds the row lock; read the row as it is now (the claim included).
    c = lock_complaint(session, c.id)
    before = {**complaint_snapshot(c), "survey_answered_at": None}
    c.csat = data.csat
    c.would_buy_again = data.would_buy_again
    _event(
        session,
        c,
        "customer_reply",
        None,
        data.comment,
        internal=False,
        data={"csat": data.csat, "would_buy_again": data.would_buy_again},
    )
    session.flush()
    record(session, None, "update", "complaint", c.id, before, complaint_snapshot(c))
    if data.csat <= LOW_CSAT and c.status in workflow.DONE_STATES:
        apply_transition(
            session,
            c.id,
            TransitionIn(
                action="reopen",
                note=system_text(N_("Customer not satisfied (CSAT %(csat)s)."), csat=data.csat),
            ),
            actor=None,
        )
    return c
