"""A survey deleted while a response to it is being recorded (PostgreSQL, real commits, two
threads released together by a barrier).

The delete checked "the survey has no responses" and then deleted, without a lock that a
response waits for: a response committed between the check and the delete was deleted with the
survey (its foreign key cascades), the respondent told it was saved. Now the delete locks the
survey ``FOR UPDATE`` before it looks, and a response reads the survey ``FOR KEY SHARE`` before
any other lock: either the response wins (the delete is refused, 409) or the delete wins (the
response finds no survey: 404 for an agent, 410 behind a link), never both."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from retento.auth.models import User
from retento.core.errors import Conflict, NotFound
from retento.surveys import responses, service
from retento.surveys.models import Survey, SurveyInvitation, SurveyResponse
from retento.surveys.responses import LinkGone
from retento.surveys.schemas import AnswerIn, AnswersSubmit, ResponseCreate, SurveyUpdate
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.surveys.conftest import small_survey_data
from tests.surveys.test_concurrency import _link

# How long the first transaction stays open after its write: the other one is waiting for its
# lock meanwhile (before the fix it was not, and went on).
HOLD = 1.5


def _survey(live_pg) -> dict[str, int]:
    """An active survey without responses, a manager and a customer."""
    with live_pg.session() as s:
        manager = make_user(s, role="manager")
        customer = make_customer(s)
        survey = service.create_survey(s, small_survey_data(), actor=manager)
        service.update_survey(s, survey.id, SurveyUpdate(status="active"), actor=manager)
        s.commit()
        return {"manager": manager.id, "customer": customer.id, "survey": survey.id}


def _state(live_pg, survey_id: int) -> tuple[bool, int]:
    """(the survey exists, how many responses it has)."""
    with live_pg.session() as s:
        n = s.scalar(select(func.count()).where(SurveyResponse.survey_id == survey_id))
        return s.get(Survey, survey_id) is not None, n


def _record(s, w: dict[str, int]) -> SurveyResponse:
    answer = AnswerIn(question="sat", number=4)
    data = ResponseCreate(customer_id=w["customer"], answers=[answer], complete=True)
    return responses.record_response(s, w["survey"], data, actor=s.get(User, w["manager"]))


def _race(live_pg, first, second, refused: tuple[type[Exception], ...]) -> list:
    """``first`` writes and keeps its transaction open while ``second`` runs into its lock."""
    wrote, tried = threading.Event(), threading.Event()

    def run(i: int):
        with live_pg.session() as s:
            if i == 0:
                out = first(s)
                wrote.set()
                tried.wait(HOLD)  # the other transaction is waiting for this one meanwhile
                s.commit()
                return out
            assert wrote.wait(10)
            try:
                out = second(s)
                s.commit()
                return out
            except refused as exc:
                return type(exc).__name__
            finally:
                tried.set()

    return run_parallel(2, run)


def _delete(w: dict[str, int]):
    def delete(s) -> str:
        service.delete_survey(s, w["survey"], actor=s.get(User, w["manager"]))
        return "deleted"

    return delete


def test_a_response_first_makes_the_delete_wait_and_refuse(live_pg):
    w = _survey(live_pg)
    response, refused = _race(
        live_pg, lambda s: _record(s, w).id, _delete(w), (Conflict,)
    )  # fmt: skip
    assert isinstance(response, int) and refused == "Conflict"
    assert _state(live_pg, w["survey"]) == (True, 1)


def test_a_delete_first_makes_the_response_wait_and_find_no_survey(live_pg):
    w = _survey(live_pg)
    assert _race(live_pg, _delete(w), lambda s: _record(s, w).id, (NotFound,)) == [
        "deleted",
        "NotFound",
    ]
    assert _state(live_pg, w["survey"]) == (False, 0)


def test_behind_a_link_either_the_answer_or_the_delete_wins(live_pg):
    """Through the one-time link the invitation is locked too, and the delete removes it with
    the survey: the survey is locked first on both sides, so neither deadlocks, and an answer
    sent while the delete runs gets 410 (it was a 500: the invitation was gone)."""
    token, inv_id = _link(live_pg)
    with live_pg.session() as s:
        survey_id = s.get(SurveyInvitation, inv_id).survey_id
        manager = make_user(s, role="manager")
        s.commit()
    w = {"survey": survey_id, "manager": manager.id}
    answer = AnswersSubmit(answers=[AnswerIn(question="intent_recommend", number=9)])

    def submit(s) -> int:
        return responses.public_submit(s, token, answer).id

    response, refused = _race(live_pg, submit, _delete(w), (Conflict,))
    assert isinstance(response, int) and refused == "Conflict"
    assert _state(live_pg, survey_id) == (True, 1)

    with live_pg.session() as s:  # the survey without its response, for the other order
        s.delete(s.get(SurveyResponse, response))
        s.commit()
    assert _race(live_pg, _delete(w), submit, (LinkGone,)) == ["deleted", "LinkGone"]
    assert _state(live_pg, survey_id) == (False, 0)


def test_responses_and_a_delete_released_together_never_both_win(live_pg):
    """Four agents record responses and a manager deletes the survey, all at once."""
    w = _survey(live_pg)
    with live_pg.session() as s:
        customers = [w["customer"], *(make_customer(s).id for _ in range(3))]
        s.commit()

    def run(i: int):
        with live_pg.session() as s:
            try:
                if i == len(customers):
                    out = _delete(w)(s)
                else:
                    out = _record(s, {**w, "customer": customers[i]}).id
                s.commit()
                return out
            except (Conflict, NotFound) as exc:
                return type(exc).__name__

    *recorded, delete = run_parallel(len(customers) + 1, run)
    exists, n = _state(live_pg, w["survey"])
    if delete == "deleted":
        assert not exists and n == 0
        assert recorded == ["NotFound"] * len(customers)
    else:
        assert delete == "Conflict" and exists
        assert all(isinstance(r, int) for r in recorded), recorded
        assert n == len(customers)
