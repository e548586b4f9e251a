"""The survey results page (issue 14 point 11): per-question distributions with labels,
comments (paginated, newest first, CSV neutralised), metric cards only for what the survey
measures, delivered value with a missing side explained, the duplicate phone response
warning / 409, and the results cache (recomputed after each write, never stale)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from retento.auth.models import User
from retento.surveys import responses, results_cache, service
from retento.surveys.models import Survey, SurveyAnswer, SurveyResponse
from retento.surveys.schemas import (
    AnswersSubmit,
    ResponseCreate,
    SurveyCreate,
    SurveyUpdate,
)
from tests.factories import make_customer
from tests.surveys.conftest import small_survey_data
from tests.web.conftest import Browser

LOCALES = ("en", "zh_CN")


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture(autouse=True)
def _fresh_cache():
    results_cache.clear()
    yield
    results_cache.clear()


def login(web, db, users, role: str, locale: str):
    users[role].locale = locale
    db.commit()
    r = web.login(role)
    assert r.status_code == 303


def answer(db, users, survey, customer=None, *, allow_duplicate=False, now=None, **answers):
    r = responses.record_response(
        db,
        survey.id,
        ResponseCreate(
            customer_id=customer.id if customer else None,
            answers=[{"question": k, **v} for k, v in answers.items()],
            allow_duplicate=allow_duplicate,
        ),
        actor=users["agent"],
        now=now,
    )
    db.commit()
    return r


def make_survey(db, users, questions, name="Short survey"):
    data = SurveyCreate(
        name=name, sections=[{"code": "main", "title": "Main", "questions": questions}]
    )
    s = service.create_survey(db, data, actor=users["manager"])
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.commit()
    return s


def charts_of(page_text: str) -> dict[str, dict]:
    out = {}
    for cid, raw in re.findall(r'id="([^"]+)" data-chart="([^"]*)"', page_text):
        out[cid] = json.loads(html.unescape(raw))
    return out


# --- 1. distributions ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_choice_and_scale_distributions_use_labels(web, db, users, small_survey, locale):
    for where, what, sat, rec in [
        ("store", ["a", "b"], 5, 10),
        ("store", ["a"], 4, 9),
        ("web", ["c"], 2, 3),
    ]:
        answer(
            db,
            users,
            small_survey,
            make_customer(db),
            sat={"number": sat},
            rec={"number": rec},
            where={"choices": [where]},
            what={"choices": what},
        )
    login(web, db, users, "analyst", locale)
    page = web.get(f"/surveys/{small_survey.id}/results")
    assert page.status_code == 200
    text = page.text
    block = text[text.index('data-question="where"') :]
    block = block[: block.index("</table>")]
    assert re.search(r'data-value="store"><td>Store</td><td>2</td><td>66[.,]7 %', block)
    assert re.search(r'data-value="web"><td>Web</td><td>1</td><td>33[.,]3 %', block)
    multi = text[text.index('data-question="what"') :]
    multi = multi[: multi.index("</table>")]
    # Shares of a multiple choice are per respondent: A was picked by 2 of 3.
    assert re.search(r'data-value="a"><td>A</td><td>2</td><td>66[.,]7 %', multi)
    charts = charts_of(text)
    where_chart = charts["dist-chart-where"]
    assert where_chart["yAxis"]["data"] == ["Store", "Web"]
    assert where_chart["series"][0]["data"] == [2, 1]
    nps_chart = charts["dist-chart-rec"]
    assert nps_chart["xAxis"]["data"] == [str(k) for k in range(11)]
    assert sum(nps_chart["series"][0]["data"]) == 3
    # No raw codes on any chart axis: the c = b/a chart names questions by their text.
    for chart in charts.values():
        for axis in ("xAxis", "yAxis"):
            for v in (chart.get(axis) or {}).get("data", []):
                assert "." not in str(v) or not re.match(r"^[a-z_]+\.[a-z_]+$", str(v)), v
    if locale == "zh_CN":
        assert "每题答案分布" in text


# --- 2. comments -------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_comments_listed_newest_first_paginated_with_customer_link(
    web, db, users, small_survey, locale
):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    people = [make_customer(db) for _ in range(25)]
    for i, c in enumerate(people):
        answer(
            db,
            users,
            small_survey,
            c,
            now=start + timedelta(days=i),
            sat={"number": 4},
            note={"text": f"comment number {i:02d}"},
        )
    login(web, db, users, "manager", locale)
    page = web.get(f"/surveys/{small_survey.id}/results")
    assert page.status_code == 200
    found = re.findall(r"comment number (\d\d)", page.text)
    assert found == [f"{i:02d}" for i in range(24, 4, -1)]  # newest first, 20 per page
    assert f'href="/customers/{people[24].id}"' in page.text
    assert 'id="comments-pager"' in page.text
    page2 = web.get(f"/surveys/{small_survey.id}/results?comments_page=2")
    assert re.findall(r"comment number (\d\d)", page2.text) == ["04", "03", "02", "01", "00"]
    bad = web.get(f"/surveys/{small_survey.id}/results?comments_page=x")
    assert bad.status_code == 422
    assert (
        "whole number from 1" if locale == "en" else "评论页码必须是从 1 开始的整数"
    ) in bad.text
    if locale == "zh_CN":
        assert "评论" in page.text and "较早" in page.text


def test_comments_csv_is_neutralised_and_hides_customers_from_roles_without_access(
    web, db, users, small_survey
):
    c = make_customer(db)
    answer(db, users, small_survey, c, sat={"number": 4}, note={"text": '=HYPERLINK("x")'})
    login(web, db, users, "manager", "en")
    r = web.get(f"/surveys/{small_survey.id}/comments.csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][-2:] == ["customer_id", "customer_name"]
    assert rows[1][4] == '\'=HYPERLINK("x")'  # neutralised: no formula in a spreadsheet
    assert rows[1][5] == str(c.id)
    # Agents may not export: no link, and the CSV is refused.
    login(web, db, users, "agent", "en")
    page = web.get(f"/surveys/{small_survey.id}/results")
    assert 'id="comments-csv"' not in page.text
    assert web.get(f"/surveys/{small_survey.id}/comments.csv").status_code == 403


# --- 3. metric cards only for what the survey measures ----------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_survey_without_nps_hides_nps_cards_and_names_its_metrics(web, db, users, locale):
    s = make_survey(
        db,
        users,
        [
            {
                "code": "sat",
                "text": "Satisfied?",
                "qtype": "rating",
                "satisfaction_dimension": "overall",
            },
            {"code": "why", "text": "Why?", "qtype": "free_text"},
        ],
    )
    answer(db, users, s, make_customer(db), sat={"number": 5}, why={"text": "fine"})
    login(web, db, users, "analyst", locale)
    page = web.get(f"/surveys/{s.id}/results")
    assert page.status_code == 200
    assert 'id="kpi-nps"' not in page.text and 'id="kpi-promoters"' not in page.text
    assert 'id="nps-chart"' not in page.text and 'id="kpi-ces"' not in page.text
    assert 'id="kpi-csat"' in page.text and 'id="csi"' not in page.text
    measures = re.search(r'id="measures">(.*?)</p>', page.text, re.S).group(1)
    if locale == "en":
        assert "This survey measures" in measures and "CSAT" in measures
        assert "It has no questions for" in measures and "NPS" in measures
        assert "No answers yet." not in page.text
    else:
        assert "本问卷衡量" in measures and "本问卷没有以下指标的题目" in measures
        assert "暂无回答。" not in page.text


# --- 4. delivered value with one side missing -------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_delivered_value_without_cost_questions_explains_what_is_missing(web, db, users, locale):
    s = make_survey(
        db,
        users,
        [{"code": "prod", "text": "Product", "qtype": "rating", "value_dimension": "product"}],
    )
    answer(db, users, s, make_customer(db), prod={"number": 4})
    login(web, db, users, "analyst", locale)
    page = web.get(f"/surveys/{s.id}/results")
    assert page.status_code == 200
    dv = re.search(r'id="delivered-value">(.*?)</p>', page.text, re.S).group(1)
    assert "—" not in dv and "−" not in dv and 'id="dv-value"' in dv and "dv-cost" not in dv
    missing = re.search(r'id="dv-missing">(.*?)</p>', page.text, re.S).group(1)
    if locale == "en":
        assert "needs cost questions" in missing
    else:
        assert "需要成本类题目" in missing


def test_delivered_value_with_both_sides_shows_the_difference(web, db, users, small_survey):
    answer(
        db, users, small_survey, make_customer(db),
        sat={"number": 4}, speed={"number": 4, "expectation": 4}, cost={"number": 2},
    )  # fmt: skip
    login(web, db, users, "analyst", "en")
    page = web.get(f"/surveys/{small_survey.id}/results")
    assert 'id="dv-delivered"' in page.text and 'id="dv-missing"' not in page.text


# --- 5. duplicate phone responses --------------------------------------------------------------


def test_api_refuses_a_second_response_unless_allowed(client, db, users, small_survey, tokens):
    c = make_customer(db)
    db.commit()
    headers = tokens["agent"]
    url = f"/api/v1/surveys/{small_survey.id}/responses"
    body = {"customer_id": c.id, "answers": [{"question": "sat", "number": 4}]}
    assert client.post(url, json=body, headers=headers).status_code == 201
    r = client.post(url, json=body, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "duplicate_response"
    assert r.json()["field"] == "customer_id"
    r = client.post(url, json=body | {"allow_duplicate": True}, headers=headers)
    assert r.status_code == 201
    n = db.scalars(
        select(SurveyResponse.id).where(
            SurveyResponse.survey_id == small_survey.id, SurveyResponse.customer_id == c.id
        )
    ).all()
    assert len(n) == 2


@pytest.mark.parametrize("locale", LOCALES)
def test_phone_form_warns_and_requires_confirmation(web, db, users, small_survey, locale):
    c = make_customer(db)
    first = answer(db, users, small_survey, c, sat={"number": 4})
    login(web, db, users, "agent", locale)
    form = web.get(f"/surveys/{small_survey.id}/respond?customer_id={c.id}")
    assert 'id="duplicate-warning"' in form.text and f'data-response="{first.id}"' in form.text
    assert 'name="allow_duplicate"' in form.text
    data = {"customer_id": str(c.id), "channel": "phone", "action": "complete", "q.sat": "5"}
    r = web.post(f"/surveys/{small_survey.id}/respond", data)
    assert r.status_code == 409 and 'id="allow_duplicate-error"' in r.text
    assert ("Record another response" if locale == "en" else "记录另一份答卷") in r.text
    db.expire_all()
    count = lambda: len(  # noqa: E731
        db.scalars(select(SurveyResponse.id).where(SurveyResponse.customer_id == c.id)).all()
    )
    assert count() == 1
    r = web.post(f"/surveys/{small_survey.id}/respond", data | {"allow_duplicate": "1"})
    assert r.status_code == 303
    db.expire_all()
    assert count() == 2


def test_public_one_time_link_is_unaffected(db, users, small_survey):
    from tests.surveys.test_pages import invite

    c = make_customer(db)
    answer(db, users, small_survey, c, sat={"number": 4})
    links = invite(db, small_survey, users, [c])
    token = links[0].token
    responses.public_submit(
        db, token, AnswersSubmit(answers=[{"question": "sat", "number": 5}], complete=True)
    )
    db.commit()
    assert (
        len(db.scalars(select(SurveyResponse.id).where(SurveyResponse.customer_id == c.id)).all())
        == 2
    )


# --- 6. results cache ----------------------------------------------------------------------------


def test_results_are_cached_and_recomputed_after_each_write(web, db, users, small_survey):
    c = make_customer(db)
    answer(db, users, small_survey, c, sat={"number": 5}, rec={"number": 10})
    login(web, db, users, "analyst", "en")
    url = f"/surveys/{small_survey.id}/results"
    kpi = lambda: re.search(r'id="kpi-nps">([^<]*)<', web.get(url).text).group(1)  # noqa: E731
    assert kpi() == "100"
    misses = results_cache.stats["misses"]
    assert kpi() == "100"
    assert results_cache.stats["misses"] == misses  # served from the cache
    # A new response changes the fingerprint.
    answer(db, users, small_survey, make_customer(db), sat={"number": 1}, rec={"number": 0})
    assert kpi() == "0"
    # An answer edited in place (same response count and ids) too.
    row = db.scalar(
        select(SurveyAnswer)
        .join(SurveyResponse)
        .where(SurveyResponse.survey_id == small_survey.id, SurveyAnswer.number == 0)
    )
    row.number = 10
    db.commit()
    assert kpi() == "100"
    # A deleted response.
    db.delete(db.get(SurveyResponse, row.response_id))
    db.commit()
    assert kpi() == "100"
    # A question edit (survey version / question tuple).
    results_before = results_cache.stats["misses"]
    service.update_survey(
        db, small_survey.id, SurveyUpdate(expectation_tolerance=0.1), actor=users["manager"]
    )
    db.commit()
    page = web.get(url).text
    assert "±0.1" in page and results_cache.stats["misses"] == results_before + 1


# --- PostgreSQL: duplicates under concurrency, cache across processes ---------------------------


def test_parallel_phone_entries_for_one_customer_record_one_response(live_pg):
    from tests.factories import make_user
    from tests.factories.concurrency import run_parallel
    from tests.factories.race import bearer_headers, post_each, statuses

    n = 8
    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        agent = make_user(s, role="agent")
        cust = make_customer(s)
        (h,) = bearer_headers(s, mgr, 1)
        headers = bearer_headers(s, agent, n)
        s.commit()
        customer_id = cust.id
    with live_pg.client() as c:
        sid = c.post(
            "/api/v1/surveys",
            json=small_survey_data().model_dump(mode="json", exclude_none=True),
            headers=h,
        ).json()["id"]
        assert c.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=h).is_success
    body = {"customer_id": customer_id, "answers": [{"question": "sat", "number": 4}]}
    call = post_each(
        live_pg, f"/api/v1/surveys/{sid}/responses", lambda i: {"json": body, "headers": headers[i]}
    )
    got = statuses(run_parallel(n, call))
    assert got == {201: 1, 409: n - 1}, got
    with live_pg.session() as s:
        ids = s.scalars(
            select(SurveyResponse.id).where(
                SurveyResponse.survey_id == sid, SurveyResponse.customer_id == customer_id
            )
        ).all()
    assert len(ids) == 1


def test_cache_sees_a_write_committed_by_another_connection(live_pg):
    """The fingerprint is read from the database: a response saved by another process (here
    another session and client) shows at the next view, never the stored results."""
    from tests.factories import make_user
    from tests.factories.race import bearer_headers

    with live_pg.session() as s:
        mgr = make_user(s, role="manager")
        agent = make_user(s, role="agent")
        (h,) = bearer_headers(s, mgr, 1)
        (ha,) = bearer_headers(s, agent, 1)
        s.commit()
    with live_pg.client() as c:
        sid = c.post(
            "/api/v1/surveys",
            json=small_survey_data().model_dump(mode="json", exclude_none=True),
            headers=h,
        ).json()["id"]
        assert c.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=h).is_success
        url = f"/api/v1/surveys/{sid}/responses"
        ans = [{"question": "sat", "number": 5}, {"question": "rec", "number": 10}]
        assert c.post(url, json={"answers": ans}, headers=ha).status_code == 201
    with live_pg.session() as s:
        from retento.surveys.results_pages import compute

        survey = s.get(Survey, sid)
        user = s.scalar(select(User).where(User.id == mgr.id))
        first = results_cache.cached(s, survey, lambda: compute(s, survey, user))
        assert first["res"]["nps"]["headline"]["score"] == 100
        again = results_cache.cached(s, survey, lambda: pytest.fail("recomputed"))
        assert again is first
    with live_pg.client() as c:
        ans = [{"question": "sat", "number": 1}, {"question": "rec", "number": 0}]
        assert c.post(url, json={"answers": ans}, headers=ha).status_code == 201
    with live_pg.session() as s:
        survey = s.get(Survey, sid)
        user = s.get(User, mgr.id)
        fresh = results_cache.cached(s, survey, lambda: compute(s, survey, user))
        assert fresh["res"]["nps"]["headline"]["score"] == 0


@pytest.mark.parametrize("locale", LOCALES)
def test_answers_without_a_satisfaction_dimension_are_not_called_no_answers(web, db, users, locale):
    """The ECSI demo survey (600 answers, CSAT from a CSI question without a dimension) said
    "No answers yet." in its satisfaction-by-dimension box."""
    s = make_survey(
        db,
        users,
        [{"code": "sat", "text": "Satisfied?", "qtype": "rating", "csi_latent": "Satisfaction"}],
    )
    answer(db, users, s, make_customer(db), sat={"number": 5})
    login(web, db, users, "analyst", locale)
    page = web.get(f"/surveys/{s.id}/results")
    assert page.status_code == 200 and 'id="kpi-csat"' in page.text
    box = re.search(r'id="csat-no-dimension">([^<]*)<', page.text)
    assert box is not None
    if locale == "en":
        assert box.group(1) == "No answers to questions with a satisfaction dimension."
    else:
        assert box.group(1) == "没有设置满意度维度的题目的答案。"


def test_dimension_chart_leaves_room_for_its_legend_and_names_every_dimension(web, db, users):
    """The legend was drawn over the first bars (grid top 8) and, with a dozen dimensions, every
    other name was skipped."""
    questions = [
        {"code": code, "text": code, "qtype": "rating", "satisfaction_dimension": code}
        for code in ("overall", "price")
    ]
    s = make_survey(db, users, questions)
    answer(db, users, s, make_customer(db), overall={"number": 5}, price={"number": 4})
    login(web, db, users, "analyst", "en")
    chart = charts_of(web.get(f"/surveys/{s.id}/results").text)["csat-chart"]
    assert chart["legend"]["top"] == 0 and chart["grid"]["top"] >= 24
    assert chart["yAxis"]["axisLabel"]["interval"] == 0
