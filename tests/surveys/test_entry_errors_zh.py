"""Paper entry (the survey's bulk entry grid) for a Chinese agent: QA saw the problems listed in
English ("overall_quality: the score must be a whole number from 1 to 5", "No customer has
external id …", "This question must be answered.") under a Chinese banner, and a row with a bad
score and an unanswered required question listed only the score."""

from __future__ import annotations

import re

from tests.factories import make_customer
from tests.surveys.test_pages import responses
from tests.web.conftest import Browser


def _problems(html: str) -> str:
    m = re.search(r'id="entry-problems".*?</table>', html, re.S)
    assert m is not None, html[-800:]
    return m.group(0)


def test_problems_are_listed_in_chinese_and_all_at_once(client, db, users, small_survey):
    b = make_customer(db)
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    rows = {
        "rows": "2",
        "channel": "onsite",
        "r0.customer": str(b.id),
        "r0.q.rec": "15",  # NPS is 0–10; "sat" (required) left empty
        "r1.customer": "NO-SUCH-CUSTOMER",
        "r1.q.sat": "4",
    }
    r = web.post(f"/surveys/{small_survey.id}/entry", rows)
    assert r.status_code == 422
    table = _problems(r.text)
    assert "rec：分数 必须是 0 到 10 之间的整数" in table
    assert "此题必须作答。" in table  # row 1's "sat", beside its bad score
    assert "没有外部编号为“NO-SUCH-CUSTOMER”的客户。" in table
    for english in ("must be a whole number", "must be answered", "No customer has"):
        assert english not in table
    assert responses(db, small_survey.id) == 0


def test_the_api_keeps_english_and_names_every_problem(client, tokens, db, small_survey):
    b = make_customer(db)
    db.commit()
    body = {
        "channel": "onsite",
        "responses": [{"customer_id": b.id, "answers": [{"question": "rec", "number": 15}]}],
    }
    r = client.post(
        f"/api/v1/surveys/{small_survey.id}/responses/bulk", json=body, headers=tokens["agent"]
    )
    assert r.status_code == 422, r.text
    messages = {(e["field"], e["message"]) for e in r.json()["errors"]}
    assert ("rec", "rec: the score must be a whole number from 0 to 10") in messages
    assert ("sat", "This question must be answered.") in messages
