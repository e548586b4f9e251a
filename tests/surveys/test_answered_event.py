"""Every way a response is completed emits ``survey.answered`` once per response, so the
loyalty "survey answered" rule awards points on each path, never twice."""

from __future__ import annotations

from sqlalchemy import func, select

from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyRule
from retento.surveys import bulk_entry, responses
from retento.surveys.schemas import AnswerIn, AnswersSubmit, BulkResponses, ResponseCreate
from tests.factories import make_customer
from tests.factories.loyalty import make_programme


def _rule(db):
    make_programme(db)
    db.add(LoyaltyRule(name="Answered", kind="event", event="survey_answered", fixed_points=25))
    db.flush()


def _events(db):
    return db.scalar(
        select(func.count()).select_from(LoyaltyJournal).where(LoyaltyJournal.kind == "event")
    )


def test_update_response_completion_awards_once(db, users, small_survey):
    _rule(db)
    c = make_customer(db)
    partial = responses.record_response(
        db,
        small_survey.id,
        ResponseCreate(
            customer_id=c.id, answers=[AnswerIn(question="sat", number=4)], complete=False
        ),
        actor=users["agent"],
    )
    assert ledger.get_wallet(db, c.id) is None
    responses.update_response(
        db,
        partial.id,
        AnswersSubmit(answers=[AnswerIn(question="sat", number=5)], complete=True),
        actor=users["agent"],
    )
    assert ledger.get_wallet(db, c.id).balance == 25 and _events(db) == 1


def test_bulk_entry_and_reimport_award_once_per_response(db, users, small_survey):
    _rule(db)
    a, b = make_customer(db), make_customer(db)
    rows = [
        {"customer_id": a.id, "external_id": "P-1", "answers": [{"question": "sat", "number": 4}]},
        {"customer_id": b.id, "external_id": "P-2", "answers": [{"question": "sat", "number": 5}]},
    ]
    # Scores that open no retention case: a low score would add a win-back offer's points.
    data = BulkResponses(responses=rows)
    bulk_entry.bulk_responses(db, small_survey.id, data, actor=users["agent"])
    assert _events(db) == 2
    bulk_entry.bulk_responses(db, small_survey.id, data, actor=users["agent"])  # typed in twice
    assert ledger.get_wallet(db, a.id).balance == 25
    assert ledger.get_wallet(db, b.id).balance == 25
    assert _events(db) == 2
