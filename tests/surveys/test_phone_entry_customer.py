"""Phone entry: the agent picks the customer by name or by customer number (external id), not only
by the database id; text that matches nobody, or several, is refused on the field, the answers
kept and nothing saved (SQLite and PostgreSQL; English and Chinese)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from retento.surveys.models import SurveyResponse
from tests.factories import make_customer
from tests.web.conftest import Browser

ANSWERS = {"channel": "phone", "q.sat": "4", "q.rec": "9", "q.where": "web"}


def _saved(db, survey_id: int) -> list[int | None]:
    db.expire_all()
    return list(
        db.scalars(
            select(SurveyResponse.customer_id)
            .where(SurveyResponse.survey_id == survey_id)
            .order_by(SurveyResponse.id)
        )
    )


def _login(web, lang: str) -> None:
    web.login("agent")
    web.post("/locale", data={"lang": lang, "next": "/"})


@pytest.fixture
def web(client, users) -> Browser:
    """A browser-like client; log in with ``web.login(role)``."""
    return Browser(client)


@pytest.fixture
def callers(db):
    people = {
        "rossi": make_customer(db, name="Maria Rossi", external_id="CUST-0042"),
        "lin": make_customer(db, name="林涛", external_id="CUST-0043"),
        "twin1": make_customer(db, name="Sam Twin", external_id="CUST-0044"),
        "twin2": make_customer(db, name="Sam Twin", external_id="CUST-0045"),
    }
    db.commit()
    return people


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
@pytest.mark.parametrize(
    ("typed", "who"),
    [("CUST-0042", "rossi"), ("cust-0043", "lin"), ("Maria Rossi", "rossi"), ("林 涛", "lin")],
)
def test_the_customer_is_picked_by_external_id_or_name(
    web, db, small_survey, callers, lang, typed, who
):
    _login(web, lang)
    r = web.post(f"/surveys/{small_survey.id}/respond", {"customer_id": typed, **ANSWERS})
    cid = callers[who].id
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/customers/{cid}"
    assert _saved(db, small_survey.id) == [cid]


def test_the_database_id_still_works(web, db, small_survey, callers):
    _login(web, "en")
    cid = callers["rossi"].id
    r = web.post(f"/surveys/{small_survey.id}/respond", {"customer_id": str(cid), **ANSWERS})
    assert r.status_code == 303 and _saved(db, small_survey.id) == [cid]


@pytest.mark.parametrize(
    ("lang", "none", "several"),
    [
        ("en", "No customer matches “Nobody Here”.", "2 customers match “Sam Twin”"),
        ("zh_CN", "没有与“Nobody Here”匹配的客户。", "有 2 位客户与“Sam Twin”匹配"),
    ],
)
def test_no_match_or_several_is_refused_on_the_field(
    web, db, small_survey, callers, lang, none, several
):
    _login(web, lang)
    for typed, message in (("Nobody Here", none), ("Sam Twin", several)):
        r = web.post(f"/surveys/{small_survey.id}/respond", {"customer_id": typed, **ANSWERS})
        assert r.status_code == 422
        assert message in r.text
        assert 'id="e-customer_id"' in r.text  # the message stands under the customer field
        # what was typed and answered is still there
        assert f'class="picker-value" value="{typed}"' in r.text
        assert re.search(r'name="q\.rec" value="9"\s+checked', r.text)
    assert db.scalar(select(func.count()).select_from(SurveyResponse)) == 0


@pytest.mark.parametrize(
    ("lang", "label", "placeholder"),
    [
        ("en", "Customer", "Name, phone, email or customer number"),
        ("zh_CN", "客户", "姓名、电话、邮箱或客户编号"),
    ],
)
def test_the_form_shows_a_customer_picker_with_the_chosen_one(
    web, db, small_survey, callers, lang, label, placeholder
):
    _login(web, lang)
    cid = callers["rossi"].id
    page = web.get(f"/surveys/{small_survey.id}/respond", params={"customer_id": str(cid)})
    assert page.status_code == 200
    assert 'data-picker="customer"' in page.text and "/static/js/pickers.js" in page.text
    assert f'<label for="f-customer_id">{label}</label>' in page.text
    assert f'placeholder="{placeholder}"' in page.text
    # the chosen customer is shown with the number the agent can read back
    assert '<span class="picker-chosen-label">Maria Rossi</span>' in page.text
    assert "CUST-0042" in page.text
    # the picker finds the customer by the external id
    options = web.get("/pickers/customer", params={"q": "CUST-0042", "field": "customer_id"})
    assert f'data-id="{cid}"' in options.text
