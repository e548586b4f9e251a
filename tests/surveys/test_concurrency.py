"""The public one-time survey link under concurrency (PostgreSQL, real commits).

A double click, a second tab or a retrying phone must not complete a link twice nor give the
respondent a 500: one response per link, one completion, the others 409 like a late submit.
"""

from __future__ import annotations

from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, post_each, statuses

N = 20


def _link(live_pg) -> tuple[str, int]:
    """An active standard survey sent to one customer: the link token and the invitation id."""
    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        cust = make_customer(s)
        (h,) = bearer_headers(s, mgr, 1)
        s.commit()
        customer_id = cust.id
    with live_pg.client() as c:
        r = c.post("/api/v1/surveys/from-template", json={"template": "standard"}, headers=h)
        sid = r.json()["id"]
        assert c.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=h).is_success
        r = c.post(
            f"/api/v1/surveys/{sid}/distributions",
            json={
                "channel": "online",
                "segment": {"kind": "customers", "customer_ids": [customer_id]},
            },
            headers=h,
        )
        assert r.status_code == 202, r.text  # queued; this app runs it after the response
        token = c.get(r.json()["url"], headers=h).json()["links"][0]["token"]
    with live_pg.session() as s:
        inv_id = s.scalar(
            select(SurveyInvitation.id).where(SurveyInvitation.customer_id == customer_id)
        )
    return token, inv_id


def _responses(live_pg, inv_id: int) -> list[SurveyResponse]:
    with live_pg.session() as s:
        return s.scalars(select(SurveyResponse).where(SurveyResponse.invitation_id == inv_id)).all()


def test_parallel_completions_of_one_link_complete_it_once(live_pg):
    """The respondent saved part of it earlier, then "finish" is sent 20 times at once."""
    token, inv_id = _link(live_pg)
    url = f"/api/v1/public/surveys/{token}/answers"
    with live_pg.client() as c:
        saved = c.post(url, json={"answers": [{"question": "intent_recommend", "number": 7}]})
        assert saved.json() == {"status": "partial", "answered": 1}
    answers = [
        {"question": "overall_satisfaction", "number": 4},
        {"question": "intent_recommend", "number": 9},
    ]
    body = {"answers": answers, "complete": True}
    codes = statuses(run_parallel(N, post_each(live_pg, url, lambda i: {"json": body})))
    assert codes == {200: 1, 409: N - 1}, codes
    (response,) = _responses(live_pg, inv_id)
    assert response.status == "completed"
    with live_pg.session() as s:
        assert s.get(SurveyInvitation, inv_id).completed_at == response.completed_at
        # The partial save and the one accepted completion.
        n_logged = s.scalar(
            select(func.count()).where(
                AuditEntry.entity == "survey_response", AuditEntry.entity_id == str(response.id)
            )
        )
        assert n_logged == 2


def test_parallel_partial_saves_share_one_response(live_pg):
    """Saves without ``complete`` from several tabs: all accepted, one response, one answer each."""
    token, inv_id = _link(live_pg)
    url = f"/api/v1/public/surveys/{token}/answers"

    def body(i: int) -> dict:
        return {"json": {"answers": [{"question": "intent_recommend", "number": i % 11}]}}

    codes = statuses(run_parallel(N, post_each(live_pg, url, body)))
    assert codes == {200: N}, codes
    (response,) = _responses(live_pg, inv_id)
    with live_pg.session() as s:
        answers = s.scalars(
            select(SurveyAnswer).where(SurveyAnswer.response_id == response.id)
        ).all()
    assert len(answers) == 1 and response.status == "partial"
