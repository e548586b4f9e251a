"""Survey questions carry an experience mode: API round trip, the editor form, validation, and
their answers in the experience summary (scaled onto 1–5, at the stage of the customer's
latest touchpoint before answering)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from retento.journey.dashboard import experience_summary
from retento.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse
from tests.factories import make_customer, make_touchpoint
from tests.web.conftest import Browser


def _survey_body(mode="feel", qtype="rating"):
    return {
        "name": "Delivery experience",
        "sections": [
            {
                "code": "main",
                "title": "Main",
                "questions": [
                    {
                        "code": "mood",
                        "text": "How did the delivery feel?",
                        "qtype": qtype,
                        "scale_min": 1,
                        "scale_max": 7,
                        "experience_mode": mode,
                    },
                    {"code": "plain", "text": "Overall?", "qtype": "rating"},
                ],  # fmt: skip
            }
        ],
    }


def test_api_round_trip_and_validation(client, tokens):
    r = client.post("/api/v1/surveys", json=_survey_body(), headers=tokens["manager"])
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.get(f"/api/v1/surveys/{sid}", headers=tokens["manager"])
    qs = {q["code"]: q for s in r.json()["sections"] for q in s["questions"]}
    assert qs["mood"]["experience_mode"] == "feel" and qs["plain"]["experience_mode"] is None
    r = client.post("/api/v1/surveys", json=_survey_body(mode="smell"), headers=tokens["manager"])
    assert r.status_code == 422 and "experience_mode" in r.text
    body = _survey_body()
    q = body["sections"][0]["questions"][0]
    q.update(qtype="free_text", scale_min=None, scale_max=None)
    r = client.post("/api/v1/surveys", json=body, headers=tokens["manager"])
    assert r.status_code == 422 and "experience mode" in r.text


def test_editor_form_sets_the_mode(client, users, db, tokens):
    r = client.post("/api/v1/surveys", json=_survey_body(mode=None), headers=tokens["manager"])
    sid = r.json()["id"]
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/surveys/{sid}/questions/mood/edit")
    assert page.status_code == 200 and 'id="f-experience_mode"' in page.text
    form = {"section": "main", "code": "mood", "text": "How did the delivery feel?",
            "qtype": "rating", "scale": "1-7", "experience_mode": "relate"}  # fmt: skip
    r = web.post(f"/surveys/{sid}/questions/mood/edit", form)
    assert r.status_code == 303, r.text
    db.expire_all()
    q = db.query(SurveyQuestion).filter_by(survey_id=sid, code="mood").one()
    assert q.experience_mode == "relate"
    page = web.get(f"/surveys/{sid}/questions/mood/edit")
    assert '<option value="relate" selected' in page.text
    # A free-text question cannot measure a mode: the error sits next to the field.
    r = web.post(f"/surveys/{sid}/questions/mood/edit", dict(form, qtype="free_text", scale=""))
    assert r.status_code == 422
    assert re.search(r'has-error[^>]*>\s*<label for="f-experience_mode"', r.text)


import re  # noqa: E402


def test_answers_feed_the_summary(client, tokens, db):
    r = client.post("/api/v1/surveys", json=_survey_body(), headers=tokens["manager"])
    sid = r.json()["id"]
    mood = db.query(SurveyQuestion).filter_by(survey_id=sid, code="mood").one()
    plain = db.query(SurveyQuestion).filter_by(survey_id=sid, code="plain").one()
    ada, bob = make_customer(db, name="Ada"), make_customer(db, name="Bob")
    make_touchpoint(db, ada, stage="order", occurred_at=datetime(2025, 1, 1, tzinfo=UTC))
    make_touchpoint(db, ada, stage="receipt", occurred_at=datetime(2025, 1, 10, tzinfo=UTC))
    # After the answer: does not set the stage.
    make_touchpoint(db, ada, stage="after_sales", occurred_at=datetime(2025, 3, 1, tzinfo=UTC))
    for customer, number, when in ((ada, 7.0, datetime(2025, 1, 15, tzinfo=UTC)),
                                   (bob, 1.0, datetime(2025, 1, 16, tzinfo=UTC))):  # fmt: skip
        resp = SurveyResponse(survey_id=sid, customer_id=customer.id, channel="phone",
                              status="completed", completed_at=when)  # fmt: skip
        resp.answers.append(SurveyAnswer(question_id=mood.id, number=number))
        resp.answers.append(SurveyAnswer(question_id=plain.id, number=2.0))  # no mode: left out
        db.add(resp)
    db.flush()
    summary = experience_summary(db)
    cells = {(c["mode"], c["stage"]): (c["n"], c["mean"]) for c in summary.cells}
    # 7 on 1–7 → 5; 1 → 1. Ada answered after her receipt touchpoint; Bob has no touchpoint.
    assert cells == {("feel", "receipt"): (1, pytest.approx(5.0)),
                     ("feel", "unknown"): (1, pytest.approx(1.0))}  # fmt: skip
    feel = next(m for m in summary.by_mode if m["mode"] == "feel")
    assert feel["answers"] == 2 and feel["records"] == 0 and feel["mean"] == pytest.approx(3.0)
    assert experience_summary(db, source="record").n == 0
    in_period = experience_summary(
        db, start=datetime(2025, 1, 16, tzinfo=UTC), end=datetime(2025, 2, 1, tzinfo=UTC)
    )
    assert in_period.n == 1 and in_period.mean == pytest.approx(1.0)
