"""A free-text answer past 10,000 characters gave HTTP 500 on the public survey page, phone entry
and paper entry (the answer model refused it and nothing caught that), losing everything typed:
it is now refused at its question, the page coming back with the answers as typed, in the
page's language. And the survey API read ``true``/``false`` as the scores 1 and 0: refused
naming the answer's field. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.factories import make_customer
from tests.surveys.test_pages import answers_form, invite, responses
from tests.web.conftest import Browser, csrf_of

LONG = "长" * 10_001
SAID = {"en": "Write at most 10000 characters.", "zh_CN": "最多填写 10000 个字符。"}


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_public_page_refuses_a_long_answer_at_its_question(
    client, db, users, bilingual_survey, lang
):
    customer = make_customer(db)
    link = invite(db, bilingual_survey, users, [customer])[0]
    url = f"{link.path}?lang={lang}"
    page = client.get(url)
    assert page.status_code == 200
    r = client.post(
        url,
        data=answers_form(csrf_of(page.text), **{"q.note": LONG, "q.rec": "9", "action": "save"}),
    )
    assert r.status_code == 422, r.text[:300]
    assert SAID[lang] in r.text
    assert LONG in r.text  # what was typed comes back
    assert 'name="q.rec" value="9" checked' in r.text
    assert responses(db, bilingual_survey.id) == 0


def test_phone_and_paper_entry_refuse_a_long_answer(client, db, users, small_survey):
    customer = make_customer(db)
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    r = web.post(
        f"/surveys/{small_survey.id}/respond",
        {"customer_id": str(customer.id), "channel": "phone", "q.sat": "4", "q.note": LONG},
    )
    assert r.status_code == 422 and SAID["zh_CN"] in r.text
    r = web.post(
        f"/surveys/{small_survey.id}/entry",
        {"rows": "1", "channel": "paper", "r0.customer": str(customer.id), "r0.q.sat": "4",
         "r0.q.note": LONG},
    )  # fmt: skip
    assert r.status_code == 422 and SAID["zh_CN"] in r.text
    assert responses(db, small_survey.id) == 0


def test_an_answer_of_exactly_the_limit_is_kept(client, db, users, small_survey):
    customer = make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("agent")
    r = web.post(
        f"/surveys/{small_survey.id}/respond",
        {"customer_id": str(customer.id), "channel": "phone", "q.sat": "4",
         "q.note": LONG[:10_000]},
    )  # fmt: skip
    assert r.status_code == 303, r.text[:300]
    assert responses(db, small_survey.id) == 1


@pytest.mark.parametrize("field", ["number", "expectation"])
def test_the_public_api_refuses_true_and_false_as_scores(client, db, users, small_survey, field):
    customer = make_customer(db)
    link = invite(db, small_survey, users, [customer])[0]
    token = link.path.rsplit("/", 1)[1]
    for value in (True, False):
        answer = {"question": "speed", "number": 4, "expectation": 4, field: value}
        r = client.post(
            f"/api/v1/public/surveys/{token}/answers",
            json={"answers": [{"question": "rec", "number": 9}, answer], "complete": False},
        )
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [f"answers.1.{field}"]
    r = client.post(
        f"/api/v1/public/surveys/{token}/answers",
        json={"answers": [{"question": "rec", "number": "9"}], "complete": False},
    )
    assert r.status_code == 200, r.text  # a number sent as text still reads
    assert responses(db, small_survey.id) == 1
