"""Survey web pages through the ASGI app (SQLite and PostgreSQL): builder, distribution, the
public link, phone, paper and file entry, results and the customer 360 panel."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import openpyxl
import pytest
from sqlalchemy import func, select, update

from retento.customers.models import CustomerTag
from retento.surveys import csi_report, distributions, service
from retento.surveys import responses as survey_responses
from retento.surveys.models import Survey, SurveyInvitation, SurveyResponse
from retento.surveys.schemas import (
    DistributionCreate,
    ResponseCreate,
    SegmentIn,
    SurveyCreate,
    SurveyUpdate,
)
from tests.factories import make_customer
from tests.surveys.conftest import ECSI_LATENTS, translate
from tests.web.conftest import Browser, csrf_of


@pytest.fixture
def web(client, users) -> Browser:
    """A browser-like client; log in with ``web.login(role)``."""
    return Browser(client)


def responses(db, survey_id: int, status: str | None = None) -> int:
    """How many responses the survey has (optionally of one status)."""
    db.expire_all()
    stmt = (
        select(func.count())
        .select_from(SurveyResponse)
        .where(SurveyResponse.survey_id == survey_id)
    )
    if status:
        stmt = stmt.where(SurveyResponse.status == status)
    return db.scalar(stmt)


def survey_id_from(location: str) -> int:
    """The survey id of a redirect to its builder."""
    m = re.match(r"^/surveys/(\d+)", location)
    assert m, location
    return int(m.group(1))


def invite(db, survey, users, customers) -> list:
    """Invite ``customers`` online; the plain links."""
    _, links = distributions.create_distribution(
        db,
        survey.id,
        DistributionCreate(
            segment=SegmentIn(kind="customers", customer_ids=[c.id for c in customers])
        ),
        actor=users["manager"],
    )
    db.commit()
    return links


# --- list and builder ------------------------------------------------------------------------


def test_list_and_create_from_template(web, db):
    web.login("manager")
    page = web.get("/surveys")
    assert page.status_code == 200 and 'id="survey-new-form"' in page.text
    r = web.post("/surveys/new", {"template": "ecsi", "name": "", "language": "zh_CN"})
    assert r.status_code == 303
    sid = survey_id_from(r.headers["location"])
    survey = db.get(Survey, sid)
    assert survey.template == "ecsi" and survey.language == "zh_CN" and survey.questions
    builder = web.get(f"/surveys/{sid}")
    assert builder.status_code == 200
    assert survey.questions[0].code in builder.text and "CSI" in builder.text
    listed = web.get("/surveys?status=draft")
    # written in Chinese, listed in the reader's language (the template has both names)
    shown = "Customer satisfaction index (ECSI)"
    assert shown in listed.text and survey.name not in listed.text
    assert shown not in web.get("/surveys?status=closed").text


def test_agent_sees_surveys_but_cannot_build(web, small_survey):
    web.login("agent")
    page = web.get("/surveys")
    assert page.status_code == 200 and "Small survey" in page.text
    assert 'id="survey-new-form"' not in page.text
    assert 'href="/surveys"' in page.text  # the navigation entry
    builder = web.get(f"/surveys/{small_survey.id}")
    assert 'id="settings-form"' not in builder.text
    assert web.post("/surveys/new", {"template": "standard"}).status_code == 403


def test_builder_sections_questions_and_settings(web, db):
    web.login("manager")
    r = web.post("/surveys/new", {"template": "blank", "name": "Store visit", "language": "en"})
    sid = survey_id_from(r.headers["location"])

    r = web.post(f"/surveys/{sid}/sections", {"code": "visit", "title": "The visit"})
    assert r.status_code == 303
    r = web.post(f"/surveys/{sid}/sections", {"code": "bad code", "title": "X"})
    assert r.status_code == 422 and "field-error" in r.text

    form = web.get(f"/surveys/{sid}/questions/new?section=visit")
    assert form.status_code == 200 and 'id="question-form"' in form.text
    r = web.post(
        f"/surveys/{sid}/questions/new",
        {
            "section": "visit",
            "code": "sat",
            "text": "How satisfied are you?",
            "qtype": "rating",
            "scale": "1-7",
            "required": "1",
            "satisfaction_dimension": "overall",
            "csi_latent": "Satisfaction",
        },
    )
    assert r.status_code == 303
    r = web.post(
        f"/surveys/{sid}/questions/new",
        {
            "section": "visit",
            "code": "where",
            "text": "Where?",
            "qtype": "single_choice",
            "options": "store: Store",
        },
    )
    assert r.status_code == 422
    assert re.search(r'has-error">\s*<label for="f-options"', r.text)
    assert "at least two options" in r.text and 'value="where"' in r.text
    r = web.post(
        f"/surveys/{sid}/questions/new",
        {
            "section": "visit",
            "code": "where",
            "text": "Where?",
            "qtype": "single_choice",
            "options": "store: Store\nweb: Web shop",
        },
    )
    assert r.status_code == 303
    r = web.post(
        f"/surveys/{sid}/questions/new",
        {
            "section": "main",
            "code": "speed",
            "text": "Speed",
            "qtype": "expectation_perception",
            "value_dimension": "time",
        },
    )
    assert r.status_code == 303
    db.expire_all()
    survey = db.get(Survey, sid)
    by_code = {q.code: q for q in survey.questions}
    assert (by_code["sat"].scale_min, by_code["sat"].scale_max, by_code["sat"].required) == (
        1,
        7,
        True,
    )
    assert [o["value"] for o in by_code["where"].options] == ["store", "web"]
    assert by_code["speed"].value_dimension == "time"

    edit = web.get(f"/surveys/{sid}/questions/sat/edit")
    assert "How satisfied are you?" in edit.text
    r = web.post(
        f"/surveys/{sid}/questions/sat/edit",
        {
            "section": "visit",
            "code": "sat",
            "text": "Overall, how satisfied?",
            "qtype": "rating",
            "scale": "1-10",
        },
    )
    assert r.status_code == 303
    assert web.post(f"/surveys/{sid}/questions/where/delete").status_code == 303
    assert web.post(f"/surveys/{sid}/sections/main/delete").status_code == 303

    r = web.post(f"/surveys/{sid}/settings", {"name": "", "language": "en", "status": "draft"})
    assert r.status_code == 422 and 'aria-describedby="e-name"' in r.text
    r = web.post(
        f"/surveys/{sid}/settings",
        {
            "name": "Store visit 2026",
            "language": "zh_CN",
            "status": "active",
            "description": "Hi",
            "expectation_tolerance": "0.1",
            "token_days": "14",
        },
    )
    assert r.status_code == 303
    db.expire_all()
    survey = db.get(Survey, sid)
    assert [q.code for q in survey.questions] == ["sat"]
    assert (
        survey.questions[0].text == "Overall, how satisfied?"
        and survey.questions[0].scale_max == 10
    )
    assert (survey.name, survey.status, survey.language, survey.token_days) == (
        "Store visit 2026",
        "active",
        "zh_CN",
        14,
    )


# --- distribution ----------------------------------------------------------------------------


def test_distribution_links_and_response_rates(web, db, small_survey):
    for n in range(3):
        c = make_customer(db, name=f"Tagged {n}", email=f"t{n}@example.com")
        c.tag_rows.append(CustomerTag(tag="panel"))
    make_customer(db, name="Untagged")
    db.commit()
    web.login("manager")
    r = web.post(
        f"/surveys/{small_survey.id}/distribute",
        {"channel": "online", "segment_kind": "tag", "tag": ""},
    )
    assert r.status_code == 422 and "field-error" in r.text
    r = web.post(
        f"/surveys/{small_survey.id}/distribute",
        {"channel": "online", "segment_kind": "tag", "tag": "panel", "name": "Panel wave 1"},
    )
    assert r.status_code == 303
    links_page = web.get(r.headers["location"])
    assert links_page.status_code == 200
    urls = re.findall(r'href="(http://testserver/s/[^"]+)"', links_page.text)
    assert len(urls) == 3 and "Tagged 0" in links_page.text and "Untagged" not in links_page.text
    csv_text = web.get(r.headers["location"] + "/links.csv").text
    assert csv_text.count("/s/") == 3 and "t1@example.com" in csv_text

    public = web.client.get(urls[0].replace("http://testserver", ""))
    assert public.status_code == 200
    page = web.get(f"/surveys/{small_survey.id}/distribute")
    assert "Panel wave 1" in page.text
    row = re.search(r'id="rates-table".*?<tbody>(.*?)</tbody>', page.text, re.S).group(1)
    assert "Online link" in row and "<td>3</td><td>1</td><td>0</td>" in row


def test_distribution_message_counts_in_good_english(web, db, small_survey):
    c = make_customer(db, name="Only One", email="one@example.com")
    c.tag_rows.append(CustomerTag(tag="solo"))
    db.commit()
    web.login("manager")
    r = web.post(
        f"/surveys/{small_survey.id}/distribute",
        {"channel": "online", "segment_kind": "tag", "tag": "solo"},
    )
    assert r.status_code == 303
    html = web.get(r.headers["location"]).text
    assert "One customer was invited." in html and "1 customers" not in html


def test_distribute_page_says_when_email_sending_is_off(app, web, small_survey):
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/distribute").text
    assert 'id="smtp-off"' in page and "RETENTO_SMTP_HOST is not set" in page
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"smtp_host": "mail.example.com"})
    try:
        assert 'id="smtp-off"' not in web.get(f"/surveys/{small_survey.id}/distribute").text
    finally:
        app.state.settings = settings


def test_draft_survey_cannot_be_sent(web, db, users):
    web.login("manager")
    r = web.post("/surveys/new", {"template": "standard", "language": "en"})
    sid = survey_id_from(r.headers["location"])
    r = web.post(f"/surveys/{sid}/distribute", {"channel": "online", "segment_kind": "all"})
    assert r.status_code == 422 and "activate it before sending it" in r.text


# --- the public link ---------------------------------------------------------------------------


def answers_form(token: str, **values) -> dict:
    """A public form submission."""
    return {"csrf_token": token, **values}


def test_public_link_resume_complete_and_refuse_a_second_time(web, db, users, small_survey):
    customer = make_customer(db)
    link = invite(db, small_survey, users, [customer])[0]
    url = link.path
    page = web.client.get(url)
    assert page.status_code == 200 and "Small survey" in page.text
    assert 'name="viewport"' in page.text and 'lang="en"' in page.text
    token = csrf_of(page.text)
    forged = web.client.post(url, data={"q.rec": "1", "action": "complete"})
    assert forged.status_code == 403 and responses(db, small_survey.id) == 0

    r = web.client.post(
        url,
        data=answers_form(token, **{"q.rec": "9", "q.what": ["a", "c"], "action": "save"}),
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == url
    assert responses(db, small_survey.id, "partial") == 1
    resumed = web.client.get(url)
    assert "Your answers were saved" in resumed.text
    assert re.search(r'name="q.rec" value="9" checked', resumed.text)
    assert re.search(r'name="q.what" value="c" checked', resumed.text)

    r = web.client.post(
        url, data=answers_form(token, **{"q.rec": "9", "q.speed.a": "4", "action": "complete"})
    )
    assert r.status_code == 422 and "Give both the expectation and the perception." in r.text
    assert 'name="q.speed.a" value="4" checked' in r.text
    r = web.client.post(url, data=answers_form(token, **{"q.rec": "9", "action": "complete"}))
    assert r.status_code == 422
    assert re.search(r'id="sq-qsat">.*?Please answer this question.', r.text, re.S)
    assert responses(db, small_survey.id, "completed") == 0

    r = web.client.post(
        url,
        data=answers_form(
            token,
            **{
                "q.sat": "5",
                "q.rec": "10",
                "q.speed.a": "4",
                "q.speed.b": "5",
                "q.note": "Great",
                "action": "complete",
            },
        ),
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert responses(db, small_survey.id, "completed") == 1
    done = web.client.get(url)
    assert done.status_code == 200 and 'id="public-done"' in done.text
    again = web.client.post(url, data=answers_form(token, **{"q.sat": "1", "action": "complete"}))
    assert again.status_code == 409 and "already been answered" in again.text
    db.expire_all()
    r = db.scalar(select(SurveyResponse).where(SurveyResponse.survey_id == small_survey.id))
    assert {a.question_id for a in r.answers} and r.channel == "online"
    sat = next(q for q in small_survey.questions if q.code == "sat")
    assert next(a.number for a in r.answers if a.question_id == sat.id) == 5


def scale_ends(page: str) -> dict[str, tuple[str, str]]:
    """Question code -> the words under the two ends of its scale, as rendered."""
    out = {}
    for m in re.finditer(
        r'id="sq-q(\w+)">.*?class="sq-ends muted"[^>]*><span>([^<]*)</span><span>([^<]*)</span>',
        page,
        re.S,
    ):
        out[m.group(1)] = (html.unescape(m.group(2)), html.unescape(m.group(3)))
    return out


def test_cost_questions_name_the_cost_at_the_scale_ends(web, db, users):
    """A cost rating asks how heavy a cost was (higher = heavier, counted against the value in
    delivered value), so its ends must not read dissatisfied … satisfied."""
    questions = [
        {"code": "sat", "text": "How satisfied are you?", "qtype": "rating"},
        {"code": "rec", "text": "Recommend us?", "qtype": "nps"},
        {"code": "easy", "text": "Was it easy?", "qtype": "ces"},
        {"code": "price", "text": "How heavy was the price?", "qtype": "rating"},
        {"code": "wait", "text": "How much time did it take?", "qtype": "rating"},
        {"code": "worry", "text": "How much effort did it take?", "qtype": "rating"},
        {"code": "trip", "text": "How far did you travel?", "qtype": "rating"},
        {"code": "staff", "text": "Our staff", "qtype": "rating", "value_dimension": "personnel"},
    ]
    for q, dim in zip(questions[3:7], ("money", "time", "energy", "physical"), strict=True):
        q["value_dimension"] = dim
    s = service.create_survey(
        db,
        SurveyCreate(name="Costs", sections=[{"code": "s", "title": "S", "questions": questions}]),
        actor=users["manager"],
    )
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    # Chinese texts for every question, so the page can be shown in Chinese at all.
    translate(
        db,
        s,
        users,
        {"survey": {"name": "成本"}, "sections": {"s": {"title": "S"}},
         "questions": {q["code"]: {"text": "问题 " + q["code"]} for q in questions}},
    )  # fmt: skip
    customer = make_customer(db)
    link = invite(db, s, users, [customer])[0]
    expected = {
        "sat": ("Very dissatisfied", "Very satisfied"),
        "rec": ("Not likely at all", "Extremely likely"),
        "easy": ("Very difficult", "Very easy"),
        "price": ("Very light", "Very heavy"),
        "wait": ("Very little time", "A lot of time"),
        "worry": ("Very little effort", "A lot of effort"),
        "trip": ("Very little physical effort", "A lot of physical effort"),
        "staff": ("Very dissatisfied", "Very satisfied"),
    }
    public = web.client.get(link.path + "?lang=en")
    assert public.status_code == 200
    assert scale_ends(public.text) == expected
    zh = scale_ends(web.client.get(link.path + "?lang=zh_CN").text)
    assert zh["price"] == ("负担很轻", "负担很重")
    assert zh["wait"] == ("花费时间很少", "花费时间很多")
    assert zh["worry"] == ("花费精力很少", "花费精力很多")
    assert zh["trip"] == ("花费体力很少", "花费体力很多")
    assert zh["sat"] == ("非常不满意", "非常满意")

    web.login("agent")
    phone = web.get(f"/surveys/{s.id}/respond?customer_id={customer.id}")
    assert phone.status_code == 200
    assert scale_ends(phone.text) == expected

    api = web.client.get(f"/api/v1/public/surveys/{link.path.rsplit('/', 1)[1]}").json()
    assert {q["code"]: q["scale_ends"] for q in api["sections"][0]["questions"]} == {
        "sat": "satisfaction",
        "rec": "likelihood",
        "easy": "ease",
        "price": "money",
        "wait": "time",
        "worry": "energy",
        "trip": "physical",
        "staff": "satisfaction",
    }


def test_public_link_language_and_friendly_errors(web, db, users, small_survey):
    service.update_survey(
        db, small_survey.id, SurveyUpdate(language="zh_CN"), actor=users["manager"]
    )
    # Its texts are now Chinese; with English ones beside them the link can switch to English.
    en_texts = {
        "survey": {"name": "Small survey"},
        "sections": {"main": {"title": "Main"}},
        "questions": {
            q.code: {
                "text": q.text,
                "options": {o["value"]: o["label"] for o in q.options or []} or None,
            }
            for q in small_survey.questions
        },
    }
    translate(db, small_survey, users, en_texts, lang="en")
    customer = make_customer(db)
    link = invite(db, small_survey, users, [customer])[0]
    zh = web.client.get(link.path)
    assert 'lang="zh-CN"' in zh.text and "稍后继续" in zh.text
    en = web.client.get(link.path + "?lang=en")
    assert 'lang="en"' in en.text and "Save for later" in en.text

    unknown = web.client.get("/s/" + "x" * 40)
    assert (
        unknown.status_code == 404
        and "not valid" in unknown.text
        and "Traceback" not in unknown.text
    )
    db.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == link.invitation_id)
        .values(expires_at=datetime.now(UTC) - timedelta(days=1))
    )
    db.commit()
    expired = web.client.get(link.path + "?lang=en")
    assert expired.status_code == 410 and "expired" in expired.text


# --- phone, paper and file entry ---------------------------------------------------------------


def test_phone_entry_from_the_customer_360_page(web, db, users, small_survey):
    customer = make_customer(db, name="Caller Co")
    db.commit()
    web.login("manager")
    page = web.get(f"/customers/{customer.id}")
    assert page.status_code == 200 and 'id="phone-survey-form"' in page.text
    assert "has not answered a survey yet" in page.text
    form = web.get(f"/surveys/{small_survey.id}/respond?customer_id={customer.id}")
    assert form.status_code == 200 and "Caller Co" in form.text

    bad = web.post(
        f"/surveys/{small_survey.id}/respond",
        {"customer_id": str(customer.id), "channel": "phone", "q.rec": "8"},
    )
    assert bad.status_code == 422 and "Please answer this question." in bad.text
    assert responses(db, small_survey.id) == 0
    r = web.post(
        f"/surveys/{small_survey.id}/respond",
        {
            "customer_id": str(customer.id),
            "channel": "phone",
            "q.sat": "2",
            "q.rec": "3",
            "q.where": "web",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{customer.id}"
    db.expire_all()
    resp = db.scalar(select(SurveyResponse).where(SurveyResponse.customer_id == customer.id))
    assert (
        resp.channel == "phone"
        and resp.status == "completed"
        and resp.entered_by_id == users["manager"].id
    )
    history = web.get(f"/customers/{customer.id}")
    table = re.search(r'id="survey-history".*?</table>', history.text, re.S).group(0)
    assert "Small survey" in table and "2/5" in table and "Dissatisfied" in table


def test_bulk_entry_saves_all_rows_or_none(web, db, small_survey):
    a = make_customer(db, external_id="PAPER-1")
    b = make_customer(db)
    db.commit()
    web.login("agent")
    grid = web.get(f"/surveys/{small_survey.id}/entry?rows=3")
    assert grid.status_code == 200 and 'name="r2.q.sat"' in grid.text
    rows = {
        "rows": "3",
        "channel": "onsite",
        "r0.customer": "PAPER-1",
        "r0.q.sat": "4",
        "r0.q.what": "a|b",
        "r1.customer": str(b.id),
        "r1.q.sat": "9",
    }
    r = web.post(f"/surveys/{small_survey.id}/entry", rows)
    assert r.status_code == 422 and 'id="entry-problems"' in r.text
    assert "nothing was saved" in r.text and 'value="PAPER-1"' in r.text
    assert responses(db, small_survey.id) == 0
    r = web.post(f"/surveys/{small_survey.id}/entry", {**rows, "r1.q.sat": "5"})
    assert r.status_code == 303
    assert responses(db, small_survey.id, "completed") == 2
    db.expire_all()
    channels = set(
        db.scalars(
            select(SurveyResponse.channel).where(SurveyResponse.customer_id.in_([a.id, b.id]))
        )
    )
    assert channels == {"onsite"}


@pytest.mark.parametrize("typed", ["0", "9223372036854775808", "9" * 25, "A" * 65])
def test_bulk_entry_customer_that_is_no_id_marks_the_cell(web, db, small_survey, typed):
    """A customer cell of 0, a number past 2^63 or 65 letters was a 500 (the row model refused
    it outside the form's error handling); the cell is marked and nothing is saved."""
    b = make_customer(db)
    db.commit()
    web.login("agent")
    rows = {
        "rows": "2",
        "channel": "onsite",
        "r0.customer": str(b.id),
        "r0.q.sat": "4",
        "r1.customer": typed,
        "r1.q.sat": "5",
    }
    r = web.post(f"/surveys/{small_survey.id}/entry", rows)
    assert r.status_code == 422, r.text[-500:]
    cell = re.search(r'<td class="has-error"><input name="r1.customer".*?</td>', r.text, re.S)
    assert cell is not None and "field-error" in cell.group(0)
    assert responses(db, small_survey.id) == 0


def test_import_a_broken_file_shows_errors_and_saves_nothing(web, db, small_survey):
    make_customer(db, external_id="IMP-1")
    db.commit()
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/import")
    assert page.status_code == 200 and "speed.expectation" in page.text
    broken = "customer_external_id,sat,rec\nIMP-1,4,9\nNOBODY,12,3\n"
    r = web.post(
        f"/surveys/{small_survey.id}/import",
        {"channel": "mail"},
        files={"file": ("answers.csv", broken.encode(), "text/csv")},
    )
    assert r.status_code == 422
    problems = re.search(r'id="import-problems".*?</table>', r.text, re.S).group(0)
    assert "<td>3</td>" in problems and "NOBODY" in problems
    assert responses(db, small_survey.id) == 0
    r = web.post(
        f"/surveys/{small_survey.id}/import",
        {"channel": "mail"},
        files={"file": ("answers.csv", b"customer_external_id,sat,rec\nIMP-1,4,9\n", "text/csv")},
    )
    assert r.status_code == 200 and "Created: 1" in r.text
    assert responses(db, small_survey.id, "completed") == 1
    book = openpyxl.Workbook()
    book.active.append(["customer_external_id", "sat", "speed.expectation", "speed.perception"])
    book.active.append(["IMP-1", 5, 4, 5])
    buf = io.BytesIO()
    book.save(buf)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = web.post(
        f"/surveys/{small_survey.id}/import",
        {"channel": "onsite"},
        files={"file": ("answers.xlsx", buf.getvalue(), xlsx)},
    )
    assert r.status_code == 200 and "Created: 1" in r.text
    assert responses(db, small_survey.id, "completed") == 2
    empty = web.post(f"/surveys/{small_survey.id}/import", {"channel": "mail"})
    assert empty.status_code == 422 and "Choose a CSV or XLSX file." in empty.text


# --- results -----------------------------------------------------------------------------------


def test_results_dashboard_with_answers(web, db, users, small_survey):
    scores = [(5, 10, 5, 4), (4, 9, 4, 4), (2, 3, 2, 5), (3, 7, 4, 4), (5, 10, 5, 3)]
    for sat, rec, b, a in scores:
        c = make_customer(db)
        survey_responses.record_response(
            db,
            small_survey.id,
            ResponseCreate(
                customer_id=c.id,
                answers=[
                    {"question": "sat", "number": sat},
                    {"question": "rec", "number": rec},
                    {"question": "easy", "number": 6},
                    {"question": "speed", "number": b, "expectation": a},
                    {"question": "cost", "number": 2},
                ],
            ),
            actor=users["agent"],
        )
    db.commit()
    web.login("analyst")
    page = web.get(f"/surveys/{small_survey.id}/results")
    assert page.status_code == 200
    nps = re.search(r'id="kpi-nps">([^<]*)<', page.text).group(1)
    assert nps == "40"  # 3 promoters, 1 passive, 1 detractor of 5
    assert re.search(r'id="kpi-promoters">3<', page.text)
    for chart in (
        "nps-chart",
        "nps-trend-chart",
        "csat-chart",
        "ratio-chart",
        "value-chart",
        "funnel-chart",
    ):
        assert f'id="{chart}"' in page.text, chart
    assert 'id="weakest"' in page.text
    assert "service.response_time" in page.text
    assert 'id="csi-note"' in page.text and "needs questions for Image" in page.text


def test_export_links_only_for_roles_that_may_export(web, small_survey):
    # Agents read results but may not export: no link that would answer with a JSON 403.
    web.login("agent")
    for tail in ("/results", "/import"):
        page = web.get(f"/surveys/{small_survey.id}{tail}")
        if page.status_code == 200:
            assert "/export?format=xlsx" not in page.text, tail
    web.login("manager")
    page = web.get(f"/surveys/{small_survey.id}/results")
    assert "/export?format=xlsx" in page.text
    assert web.get(f"/api/v1/surveys/{small_survey.id}/export?format=xlsx").status_code == 200


def test_results_dashboard_shows_the_csi(web, db, users):
    from retento.surveys.demo import generate_survey_responses

    rng = np.random.default_rng(5)
    ids = np.array([make_customer(db).id for _ in range(60)])
    days = np.where(np.arange(60) % 2 == 0, 20.0, 500.0)
    generate_survey_responses(
        db, rng, ids, days, datetime(2026, 6, 1, tzinfo=UTC), manager=users["manager"]
    )
    db.commit()
    ecsi = db.scalars(select(Survey).where(Survey.template == "ecsi")).one()
    web.login("manager")
    page = web.get(f"/surveys/{ecsi.id}/results")
    assert page.status_code == 200
    assert 'id="csi-chart"' in page.text and 'id="drivers-chart"' in page.text
    assert "&#34;type&#34;: &#34;graph&#34;" in page.text
    table = re.search(r'id="csi-table".*?</table>', page.text, re.S).group(0)
    assert "Loyalty" in table and "Perceived quality" in table
    # the driver matrix: one point per driver of Satisfaction, labels kept apart
    drivers = csi_report.csi_report(db, ecsi.id, actor=users["manager"])["drivers"]["Satisfaction"]
    series = chart_option(page.text, "drivers-chart")["series"][0]
    assert [p["value"] for p in series["data"]] == [
        [round(d["importance"], 3), round(d["performance"], 1)] for d in drivers
    ]
    assert series["labelLayout"] == {"x": "74%", "moveOverlap": "shiftY"}
    assert series["labelLine"]["show"] is True
    assert series["markLine"]["data"] == [
        {"xAxis": round(sum(d["importance"] for d in drivers) / len(drivers), 3)},
        {"yAxis": round(sum(d["performance"] for d in drivers) / len(drivers), 1)},
    ]
    heads = re.search(r'id="drivers-table".*?</thead>', page.text, re.S).group(0)
    assert "Importance" in heads and "Quadrant" in heads
    assert 'id="trap-table"' in page.text and 'id="funnel-chart"' in page.text


def chart_option(page: str, chart_id: str) -> dict:
    """The ECharts option of ``data-chart`` on the element ``chart_id``, parsed as strict JSON."""
    raw = re.search(rf'id="{chart_id}"[^>]*data-chart="([^"]*)"', page).group(1)

    def no_constant(name: str):
        raise AssertionError(f"{chart_id} holds {name}, which JSON.parse refuses")

    return json.loads(html.unescape(raw), parse_constant=no_constant)


def test_results_page_with_single_item_csi_blocks_shows_no_gof(web, single_item_csi_survey):
    web.login("analyst")
    page = web.get(f"/surveys/{single_item_csi_survey.id}/results")
    assert page.status_code == 200
    summary = re.search(r'id="csi-summary">(.*?)</p>', page.text, re.S).group(1)
    assert "ECSI · n = 24 · GoF —" in summary
    # Without the random CSRF tokens of the page's forms, which once held the letters "nan".
    token = re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)
    text = page.text.replace(token, "")
    assert "nan" not in text.lower()
    graph = chart_option(page.text, "csi-chart")
    assert {n["name"] for n in graph["series"][0]["data"]} == set(ECSI_LATENTS)
    drivers = chart_option(page.text, "drivers-chart")
    assert {d["value"][1] > 0 for d in drivers["series"][0]["data"]} == {True}


def test_pages_render_in_chinese_and_without_answers(web, db, small_survey):
    web.login("manager")
    assert web.post("/locale", {"lang": "zh_CN", "next": "/surveys"}).status_code == 303
    listing = web.get("/surveys")
    assert 'lang="zh-CN"' in listing.text and "新建问卷" in listing.text
    results = web.get(f"/surveys/{small_survey.id}/results")
    assert results.status_code == 200 and "尚无已完成的答卷" in results.text
    assert "顾客满意度指数" in results.text and "客户让渡价值" in results.text
    for tail in ("", "/distribute", "/respond", "/entry", "/import"):
        page = web.get(f"/surveys/{small_survey.id}{tail}")
        assert page.status_code == 200, tail
        assert "问卷" in page.text and "Traceback" not in page.text


def test_answer_pages_refuse_a_draft_survey_kindly(web, db, users):
    web.login("manager")
    r = web.post("/surveys/new", {"template": "standard", "language": "en"})
    sid = survey_id_from(r.headers["location"])
    page = web.get(f"/surveys/{sid}/respond")
    assert page.status_code == 409 and "This survey is not active" in page.text
