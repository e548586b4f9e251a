"""Browser tests of the survey pages: the whole survey story on a live server in Chromium.

A manager builds and sends a survey, a customer answers on a phone (in Chinese), an agent enters
a phone survey from the customer's 360 page and paper forms in the entry grid, a manager imports
CSV and XLSX files, and the results dashboard shows what the service computes. Set
``RETENTO_SCREENSHOTS=1`` to save the screenshots of the README into docs/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import numpy as np
import openpyxl
import pytest
from sqlalchemy import select

from retento.auth.models import User
from retento.core.db import make_engine, make_session_factory, transaction
from retento.surveys import bulk_entry, csi_report, distributions, reports, responses, service
from retento.surveys.models import CSI_LATENTS, Survey, SurveyResponse
from retento.surveys.schemas import (
    BulkResponses,
    BulkRow,
    DistributionCreate,
    ResponseCreate,
    SegmentIn,
    SurveyCreate,
    SurveyUpdate,
)
from retento.web.i18n import Formatter
from tests.factories import make_customer
from tests.surveys.conftest import desktop_page, live_session, phone_page, screenshot
from tests.web.live import BROWSER_TIMEOUT_MS, CUSTOMERS, wait_js
from tests.web.test_browser import browser, login, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def survey_links(server) -> dict:  # noqa: F811
    """An active survey in the live database, one earlier answer and a link for a customer."""
    engine = make_engine(server.url_db)
    try:
        with transaction(make_session_factory(engine)) as s:
            manager = s.scalar(select(User).where(User.username == "manager"))
            survey = service.create_survey(
                s,
                SurveyCreate(
                    name="After-sales survey",
                    sections=[
                        {
                            "code": "main",
                            "title": "Your experience",
                            "questions": [
                                {
                                    "code": "sat",
                                    "text": "How satisfied are you overall?",
                                    "qtype": "rating",
                                    "required": True,
                                    "satisfaction_dimension": "overall",
                                },
                                {
                                    "code": "rec",
                                    "text": "How likely are you to recommend us?",
                                    "qtype": "nps",
                                    "required": True,
                                },
                                {
                                    "code": "speed",
                                    "text": "Speed of delivery",
                                    "qtype": "expectation_perception",
                                    "satisfaction_dimension": "service.response_time",
                                },
                                {
                                    "code": "where",
                                    "text": "Where did you buy?",
                                    "qtype": "single_choice",
                                    "options": [
                                        {"value": "store", "label": "In a store"},
                                        {"value": "web", "label": "On the web"},
                                    ],
                                },
                                {"code": "note", "text": "Anything else?", "qtype": "free_text"},
                            ],
                        }
                    ],
                ),
                actor=manager,
            )
            service.update_survey(s, survey.id, SurveyUpdate(status="active"), actor=manager)
            responses.record_response(
                s,
                survey.id,
                ResponseCreate(
                    customer_id=server.ids["Li Wei"],
                    answers=[{"question": "sat", "number": 4}, {"question": "rec", "number": 9}],
                ),
                actor=manager,
            )
            _, links = distributions.create_distribution(
                s,
                survey.id,
                DistributionCreate(
                    segment=SegmentIn(kind="customers", customer_ids=[server.ids["王芳"]])
                ),
                actor=manager,
            )
            out = {"survey_id": survey.id, "path": links[0].path}
    finally:
        engine.dispose()
    return out


def test_customer_answers_on_a_phone(browser, server, survey_links):  # noqa: F811
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        url = server.base_url + survey_links["path"]
        page.goto(url + "?lang=zh_CN")
        # 王芳 reads Chinese, but this survey has no Chinese texts: all of it stays English,
        # buttons included, and there is no language to switch to.
        assert page.inner_text("#public-title") == "After-sales survey"
        assert page.locator("html[lang=en]").count() == 1
        assert page.inner_text("#submit-survey") == "Send my answers"
        assert page.locator(".langswitch").count() == 0
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits), "the page scrolls sideways on a phone"

        page.tap("#sq-qrec input[value='10'] + span")
        page.tap("#public-form button[value=save]")
        page.wait_for_selector(".flash-ok")
        page.goto(url)  # resume later with the same link
        assert page.is_checked("#sq-qrec input[value='10']")

        page.tap("#submit-survey")
        error = page.locator("#sq-qsat .field-error")
        assert "Please answer this question." in error.inner_text()

        page.tap("#sq-qsat input[value='5'] + span")
        page.tap("#sq-qspeed input[name='q.speed.a'][value='3'] + span")
        page.tap("#sq-qspeed input[name='q.speed.b'][value='4'] + span")
        page.tap("#sq-qwhere label:has-text('On the web')")
        page.fill("#sq-qnote textarea", "Fast and friendly.")
        page.tap("#submit-survey")
        page.wait_for_selector("#public-done")
        assert "Thank you" in page.inner_text("h1")

        page.goto(url)
        assert page.locator("#public-done").is_visible()
        assert page.locator("#public-form").count() == 0
    finally:
        context.close()


def test_manager_sees_the_nps_on_the_results_page(browser, server, survey_links):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        login(page, server, "manager")
        page.click("nav.mainnav a[href='/surveys']")
        page.click("#survey-table a:has-text('After-sales survey')")
        page.click("a.btn-primary[href$='/results']")
        page.wait_for_selector("#nps-chart svg")
        nps = page.inner_text("#kpi-nps")
        assert re.fullmatch(r"-?\d+", nps), nps
        assert int(page.inner_text("#kpi-promoters")) >= 1
        assert page.locator("#csat-chart svg").count() == 1
    finally:
        context.close()


# =============================================================================================
# The whole survey story in the browser, one step per test, sharing one live server and the
# survey the manager builds in the first step: build and send (manager) → answer on a phone
# (customer, Chinese UI) → phone entry from the 360 page (agent) → paper forms in the entry grid
# (agent) → CSV and XLSX import (manager) → results dashboard (manager, English and Chinese).
# The steps run in file order; a later step fails with a clear message if the survey is missing.
# =============================================================================================

SURVEY_NAME = "Coffee service survey"
# section, code, text, qtype, scale, required, satisfaction dimension, value dimension, CSI latent
QUESTIONS = [
    ("main", "sat", "Overall, how satisfied are you with us?", "rating", "1-10", True,
     "overall", "", "Satisfaction"),
    ("main", "sat2", "How close are we to your ideal coffee supplier?", "rating", "1-10",
     False, "", "", "Satisfaction"),
    ("main", "rec", "How likely are you to recommend us to a friend?", "nps", "", True,
     "intent.recommend", "", "Loyalty"),
    ("main", "quality", "Quality of the coffee", "expectation_perception", "1-10", False,
     "product.quality", "product", "Quality"),
    ("main", "note", "Anything else you want to tell us?", "free_text", "", False, "", "", ""),
    ("brand", "image", "Our reputation among people you know", "rating", "1-10", False,
     "", "image", "Image"),
    ("brand", "expect", "Before buying, how good did you expect us to be?", "rating", "1-10",
     False, "", "", "Expectation"),
    ("brand", "worth", "Value for the money you paid", "rating", "1-10", False, "", "",
     "Value"),
    ("brand", "care", "How well do we handle your questions and complaints?", "rating", "1-10",
     False, "", "", "Complaints"),
    ("brand", "price", "How heavy was the price for your budget?", "rating", "1-5", False, "",
     "money", ""),
]  # fmt: skip
SCORED = ("sat", "rec", "image", "expect", "worth", "care", "price")
CSV_HEADER = [
    "customer_external_id", "sat", "sat2", "rec", "quality.expectation", "quality.perception",
    "image", "expect", "worth", "care", "price", "note",
]  # fmt: skip


@pytest.fixture(scope="module")
def story() -> dict:
    """What the steps hand on: the survey id and the invitation links."""
    return {}


def story_survey(story: dict) -> int:
    """The id of the survey built in the first step."""
    if "survey_id" not in story:
        pytest.fail("run the whole module: the survey is built by the first step of the story")
    return story["survey_id"]


def answers_of(server, survey_id: int, **where) -> list[dict]:  # noqa: F811
    """Responses of the survey (filtered by column values) with their answers by code."""
    with live_session(server.url_db) as s:
        codes = {q.id: q.code for q in s.get(Survey, survey_id).questions}
        stmt = select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)
        for column, value in where.items():
            stmt = stmt.where(getattr(SurveyResponse, column) == value)
        return [
            {
                "customer_id": r.customer_id,
                "channel": r.channel,
                "status": r.status,
                "external_id": r.external_id,
                "entered_by_id": r.entered_by_id,
                "answers": {
                    codes[a.question_id]: (a.expectation, a.number, a.text) for a in r.answers
                },
            }
            for r in s.scalars(stmt.order_by(SurveyResponse.id))
        ]


def tap_answer(page, code: str, value: int, part: str = "", *, touch: bool = False) -> None:
    """Pick a point of a scale question (``part`` '.a' / '.b' for a pair)."""
    selector = f"#sq-q{code} input[name='q.{code}{part}'][value='{value}'] + span"
    page.tap(selector) if touch else page.click(selector)


def add_question(page, section: str, q: tuple) -> None:
    """Add one question through the builder's question form."""
    _, code, text, qtype, scale, required, dimension, value_dim, latent = q
    page.click(f"#section-{section} a:has-text('Add question')")
    form = page.locator("#question-form")
    form.locator("#f-section").select_option(section)
    form.locator("#f-code").fill(code)
    form.locator("#f-qtype").select_option(qtype)
    form.locator("#f-scale").select_option(scale)
    form.locator("#f-text").fill(text)
    if required:
        form.locator("input[name=required]").check()
    form.locator("#f-satisfaction_dimension").fill(dimension)
    form.locator("#f-value_dimension").select_option(value_dim)
    form.locator("#f-csi_latent").select_option(latent)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f"#q-{code}")


SURVEY_NAME_ZH = "咖啡服务调查"
QUESTION_ZH = {
    "sat": "总体而言，您对我们满意吗？",
    "rec": "您向朋友推荐我们的可能性有多大？",
    "note": "还有什么想告诉我们的吗？",
}


def add_chinese_texts(page) -> None:
    """On the builder: open the Chinese texts page, fill every text, save, see it complete."""
    languages = page.locator("#survey-languages [data-lang=zh_CN]")
    assert "texts missing" in languages.inner_text()
    page.click("#translate-zh_CN")
    page.wait_for_selector("#translate-form")
    missing = int(page.get_attribute("#missing-count", "data-missing"))
    rows = page.locator("#translate-form tr[data-field]")
    assert rows.count() == missing > 0  # nothing is translated yet: every row is marked
    assert page.locator("#translate-form tr.missing").count() == missing
    for i in range(rows.count()):
        row = rows.nth(i)
        field = row.get_attribute("data-field")
        code = field.split("|")[1]
        original = row.locator("td").nth(1).inner_text()
        if field == "s||name":
            text = SURVEY_NAME_ZH
        elif field.endswith("|text") and code in QUESTION_ZH:
            text = QUESTION_ZH[code]
        else:
            text = f"（中文）{original}"
        row.locator("input, textarea").fill(text)
    page.click("#save-translation")
    page.wait_for_selector(".flash-ok")
    assert page.get_attribute("#missing-count", "data-missing") == "0"
    assert page.locator("#translate-form tr.missing").count() == 0
    page.click("nav.actions a:has-text('Questions')")
    assert "complete" in page.inner_text("#survey-languages [data-lang=zh_CN]")


def test_manager_builds_a_survey_and_sends_it_to_vip_customers(browser, server, story):  # noqa: F811
    with desktop_page(browser) as page:
        login(page, server, "manager")
        page.click("nav.mainnav a[href='/surveys']")
        page.select_option("#survey-new-form #f-template", "blank")
        page.fill("#survey-new-form #f-name", SURVEY_NAME)
        page.select_option("#survey-new-form #f-language", "en")
        page.click("#survey-new-form button[type=submit]")
        page.wait_for_selector("#survey-name")
        assert page.inner_text("#survey-name") == SURVEY_NAME
        assert page.inner_text("#survey-status") == "Draft"
        survey_id = int(re.search(r"/surveys/(\d+)", page.url).group(1))

        page.fill("#section-form #f-code", "brand")
        page.fill("#section-form #f-title", "Our brand and prices")
        page.click("#section-form button[type=submit]")
        page.wait_for_selector("#section-brand")
        for q in QUESTIONS:
            add_question(page, q[0], q)
        # a choice question with a single option is refused next to the field
        page.click("#section-main a:has-text('Add question')")
        page.fill("#question-form #f-code", "where")
        page.fill("#question-form #f-text", "Where did you buy?")
        page.select_option("#question-form #f-qtype", "single_choice")
        page.fill("#question-form #f-options", "store: In a store")
        page.click("#question-form button[type=submit]")
        error = page.locator(".field.has-error:has(#f-options) .field-error")
        assert "at least two options" in error.inner_text()
        page.click("#question-form a:has-text('Cancel')")

        assert page.locator("#section-main tbody tr").count() == 5
        assert page.locator("#section-brand tbody tr").count() == 5
        assert "NPS (0–10)" in page.inner_text("#q-rec")
        assert "Expectation / perception pair 1–10" in page.inner_text("#q-quality")
        assert "CSI Perceived quality" in page.inner_text("#q-quality")
        assert "Money cost" in page.inner_text("#q-price")

        page.select_option("#settings-form #f-status", "active")
        page.click("#settings-form button[type=submit]")
        page.wait_for_selector(".flash-ok")
        assert page.inner_text("#survey-status") == "Active"

        # The VIP customers read Chinese: the manager gives every text in Chinese, side by side
        # with the English one (until then they would get the whole survey in English).
        add_chinese_texts(page)

        page.click("nav.actions a:has-text('Distribution')")
        page.fill("#distribute-form #f-name", "VIP wave")
        page.select_option("#distribute-form #f-channel", "online")
        page.select_option("#distribute-form #f-segment_kind", "tag")
        page.fill("#distribute-form #f-tag", "vip")
        page.click("#distribute-form button[type=submit]")
        # A worker (here the server's own process, after the response) creates the
        # invitations; the page shows its progress until then, then reloads with the links.
        # The job runs after the response and the page polls every second: give it time on a
        # busy machine.
        page.wait_for_selector("#links-table", timeout=30_000)
        assert "2 customers were invited." in page.inner_text("#invited-count")
        rows = page.locator("#links-table tbody tr")
        assert rows.count() == 2
        links = {
            rows.nth(i).locator("td").first.inner_text(): rows.nth(i)
            .locator("a.survey-link")
            .get_attribute("href")
            for i in range(2)
        }
        assert set(links) == {"王芳", "陈静"}
        assert all(url.startswith(server.base_url + "/s/") for url in links.values())
        # the links open in each customer's language (both live in China)
        assert all(url.endswith("?lang=zh_CN") for url in links.values())

        page.click("nav.actions a:has-text('Distribution')")
        assert "VIP wave" in page.inner_text("#distribution-table")
        assert "Tag: vip" in page.inner_text("#distribution-table")
        cells = page.locator("#rates-table tbody tr").first.locator("td").all_inner_texts()
        assert cells == ["Online link", "2", "0", "0", "0.0 %"]

    with live_session(server.url_db) as s:
        survey = s.get(Survey, survey_id)
        assert survey.status == "active"
        assert [(q.section.code, q.code, q.qtype) for q in survey.questions] == [
            (q[0], q[1], q[3]) for q in QUESTIONS
        ]
        by_code = {q.code: q for q in survey.questions}
        assert (by_code["sat"].scale_max, by_code["sat"].required) == (10, True)
        assert (by_code["rec"].scale_min, by_code["rec"].scale_max) == (0, 10)
        assert by_code["quality"].value_dimension == "product"
        assert by_code["price"].scale_max == 5 and by_code["price"].value_dimension == "money"
        assert {q.csi_latent for q in survey.questions if q.csi_latent} == set(CSI_LATENTS)
    story.update(survey_id=survey_id, links=links)


def test_vip_customer_answers_on_her_phone_in_chinese(browser, server, story):  # noqa: F811
    survey_id = story_survey(story)
    url = story["links"]["王芳"]
    with phone_page(browser) as page:  # a phone set to English
        page.goto(url)  # the link carries her language (a customer in China: zh_CN)
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
        # Chinese questions inside Chinese buttons: the survey has every text in Chinese.
        assert page.inner_text("#public-title") == SURVEY_NAME_ZH
        assert QUESTION_ZH["sat"] in page.inner_text("#sq-qsat legend")
        assert QUESTION_ZH["rec"] in page.inner_text("#sq-qrec legend")
        assert SURVEY_NAME not in page.inner_text("main")
        assert page.inner_text("#submit-survey") == "提交答卷"
        assert page.inner_text("#public-form button[value=save]") == "稍后继续"
        assert "您的期望" in page.inner_text("#sq-qquality")
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits), "the page scrolls sideways on a phone"
        tap_answer(page, "rec", 9, touch=True)
        tap_answer(page, "quality", 8, ".a", touch=True)
        tap_answer(page, "quality", 9, ".b", touch=True)
        page.tap("#public-form button[value=save]")
        page.wait_for_selector(".flash-ok")
        assert page.inner_text(".flash-ok") == "您的答案已保存。稍后再次打开此链接即可继续作答。"
        screenshot(page, "survey-mobile-zh", full_page=False)

        # the language switch keeps what she saved
        page.tap(".langswitch a[lang=en]")
        page.wait_for_selector("html[lang=en]", state="attached")
        assert page.inner_text("#submit-survey") == "Send my answers"
        assert page.inner_text("#public-title") == SURVEY_NAME
        assert "How likely" in page.inner_text("#sq-qrec legend")
        assert page.is_checked("#sq-qrec input[value='9']")
        screenshot(page, "survey-mobile", full_page=False)
        page.tap(".langswitch a[lang=zh-CN]")
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
        page.reload()  # resume later with the same link
        assert page.is_checked("#sq-qrec input[value='9']")
        assert page.is_checked("#sq-qquality input[name='q.quality.a'][value='8']")
        assert page.is_checked("#sq-qquality input[name='q.quality.b'][value='9']")
        assert page.evaluate(fits)

        stale = page.context.new_page()  # the link is also open in a second tab
        stale.goto(page.url)
        page.bring_to_front()  # a background tab gets no animation frames: taps would crawl

        page.tap("#submit-survey")  # the required overall rating is missing
        page.wait_for_selector("#sq-qsat .field-error")
        assert page.locator("html[lang=zh-CN]").count() == 1
        assert page.inner_text("#sq-qsat .field-error") == "请回答此问题。"
        assert page.inner_text(".flash-error") == "请检查标出的问题。"
        assert page.is_checked("#sq-qrec input[value='9']")

        tap_answer(page, "sat", 10, touch=True)
        for code, value in (("sat2", 9), ("image", 9), ("expect", 8), ("worth", 9), ("care", 8)):
            tap_answer(page, code, value, touch=True)
        tap_answer(page, "price", 2, touch=True)
        page.fill("#sq-qnote textarea", "咖啡很好喝，送货快。")
        page.tap("#submit-survey")
        page.wait_for_selector("#public-done")
        assert page.inner_text("#public-done h1") == "谢谢！"
        assert SURVEY_NAME_ZH in page.inner_text("#public-done")

        page.goto(url)  # a second visit of the link shows the thank-you, no form
        assert page.locator("#public-done").is_visible()
        assert page.locator("#public-form").count() == 0

        stale.bring_to_front()
        tap_answer(stale, "rec", 0, touch=True)  # the stale tab tries to answer again
        tap_answer(stale, "sat", 1, touch=True)
        stale.tap("#submit-survey")
        stale.wait_for_selector("#public-gone")
        assert stale.inner_text("#public-gone h1") == "此问卷已经作答"

    mine = answers_of(server, survey_id, customer_id=server.ids["王芳"])
    assert len(mine) == 1
    assert (mine[0]["channel"], mine[0]["status"]) == ("online", "completed")
    got = mine[0]["answers"]
    assert got["sat"][1] == 10 and got["rec"][1] == 9 and got["price"][1] == 2
    assert got["quality"][:2] == (8, 9)
    assert got["note"][2] == "咖啡很好喝，送货快。"


def test_agent_enters_a_phone_survey_from_the_customer_360_page(browser, server, story):  # noqa: F811
    survey_id = story_survey(story)
    customer_id = server.ids["Maria Rossi"]
    with desktop_page(browser) as page:
        login(page, server, "agent")
        page.fill("#f-q", "maria")
        wait_js(page, "document.querySelectorAll('#customer-table tbody tr').length === 1")
        page.click("#customer-table a:has-text('Maria Rossi')")
        # wait_for_url waits for the load event: the page's deferred scripts (ECharts, then
        # retento.js, which moves the phone-survey form to the chosen survey) have run.
        page.wait_for_url(f"{server.base_url}/customers/{customer_id}")
        panel = page.locator("#panel-surveys")
        assert "This customer has not answered a survey yet." in panel.inner_text()
        panel.locator("#f-phone-survey").select_option(label=SURVEY_NAME)
        panel.locator("button:has-text('Start phone survey')").click()
        page.wait_for_selector("#respond-form")
        assert page.url.startswith(f"{server.base_url}/surveys/{survey_id}/respond?")
        assert page.input_value("#f-customer_id") == str(customer_id)
        assert page.input_value("#respond-form #f-channel") == "phone"
        assert "Maria Rossi" in page.inner_text("#respond-form .card")

        tap_answer(page, "rec", 9)
        page.click("#respond-form button[value=complete]")  # the overall rating is missing
        page.wait_for_selector("#sq-qsat .field-error")
        assert "Please answer this question." in page.inner_text("#sq-qsat .field-error")
        assert page.is_checked("#sq-qrec input[value='9']")

        tap_answer(page, "sat", 8)
        tap_answer(page, "quality", 8, ".a")
        tap_answer(page, "quality", 8, ".b")
        for code, value in (("sat2", 7), ("image", 7), ("expect", 8), ("worth", 7), ("care", 6)):
            tap_answer(page, code, value)
        tap_answer(page, "price", 3)
        page.fill("#sq-qnote textarea", "Would like a bigger cup size.")
        screenshot(page, "survey-phone-entry")
        page.click("#respond-form button[value=complete]")
        page.wait_for_url(f"{server.base_url}/customers/{customer_id}")
        assert "The answers were saved." in page.inner_text(".flash-ok")
        row = page.locator(f"#survey-history tr:has-text('{SURVEY_NAME}')")
        cells = row.locator("td").all_inner_texts()
        assert cells[:3] == [SURVEY_NAME, "Phone", "Completed"]
        assert cells[4:] == ["8/10", "9", "Satisfied"]  # c = 8/8 = 1: satisfied

    mine = answers_of(server, survey_id, customer_id=customer_id)
    assert [(r["channel"], r["status"], r["entered_by_id"]) for r in mine] == [
        ("phone", "completed", server.ids["agent"])
    ]
    assert mine[0]["answers"]["care"][1] == 6


def test_agent_types_in_paper_forms_on_the_entry_grid(browser, server, story):  # noqa: F811
    survey_id = story_survey(story)
    before = len(answers_of(server, survey_id))
    globex = server.ids["Globex Corporation"]
    rows = [
        ("CUST-0004", {"sat": 7, "sat2": 6, "rec": 8, "quality": (7, 6), "image": 6, "expect": 7,
                       "worth": 6, "care": 5, "price": 4, "note": "Delivery was late"}),
        ("CUST-0008", {"sat": 9, "sat2": 9, "rec": 10, "quality": (8, 9), "image": 9, "expect": 8,
                       "worth": 8, "care": 9, "price": 2}),
        (str(globex), {"sat": 11, "sat2": 5, "rec": 6, "quality": (9, 7), "image": 6, "expect": 9,
                       "worth": 5, "care": 4, "price": 5}),
    ]  # fmt: skip
    with desktop_page(browser) as page:
        login(page, server, "agent")
        page.goto(f"{server.base_url}/surveys/{survey_id}")
        nav = page.locator("nav.actions")
        assert nav.locator("a:has-text('Import file')").count() == 0  # agents may not import
        response = page.goto(f"{server.base_url}/surveys/{survey_id}/import")
        assert response.status == 403
        page.goto(f"{server.base_url}/surveys/{survey_id}")
        page.click("nav.actions a:has-text('Paper / on-site entry')")
        page.wait_for_selector("#entry-form")
        assert page.input_value("#entry-form #f-channel") == "mail"
        for i, (customer, answers) in enumerate(rows):
            page.fill(f"input[name='r{i}.customer']", customer)
            for code, value in answers.items():
                if code == "quality":
                    page.fill(f"input[name='r{i}.q.quality.a']", str(value[0]))
                    page.fill(f"input[name='r{i}.q.quality.b']", str(value[1]))
                else:
                    page.fill(f"input[name='r{i}.q.{code}']", str(value))
        page.click("#entry-form button[type=submit]")
        page.wait_for_selector("#entry-problems")
        assert "nothing was saved" in page.inner_text("#entry-message")
        problem = page.locator("#entry-problems tbody tr").all_inner_texts()
        assert len(problem) == 1 and problem[0].startswith("3\t")
        assert "sat" in problem[0]
        assert page.locator("td.has-error input[name='r2.q.sat']").count() == 1
        assert page.input_value("input[name='r0.customer']") == "CUST-0004"
        assert page.input_value("input[name='r1.q.quality.b']") == "9"
        assert len(answers_of(server, survey_id)) == before

        page.fill("input[name='r2.q.sat']", "5")
        page.click("#entry-form button[type=submit]")
        page.wait_for_url(f"{server.base_url}/surveys/{survey_id}/results")
        assert "3 questionnaires were saved." in page.inner_text(".flash-ok")

    paper = answers_of(server, survey_id, channel="mail")
    assert {r["customer_id"] for r in paper} == {
        server.ids["Li Wei"],
        server.ids["北京新源电子"],
        globex,
    }
    assert all(
        r["status"] == "completed" and r["entered_by_id"] == server.ids["agent"] for r in paper
    )
    li = next(r for r in paper if r["customer_id"] == server.ids["Li Wei"])
    assert li["answers"]["quality"][:2] == (7, 6)
    assert li["answers"]["note"][2] == "Delivery was late"


def svg_texts(page, chart: str) -> list[str]:
    """The texts an ECharts chart drew (labels of nodes, edges and axes)."""
    return page.eval_on_selector_all(f"{chart} svg text", "els => els.map(e => e.textContent)")


def csv_bytes(rows: list[list]) -> bytes:
    """A UTF-8 CSV file with the import header."""
    buf = io.StringIO()
    csv.writer(buf).writerows([CSV_HEADER, *rows])
    return buf.getvalue().encode("utf-8")


def xlsx_bytes(rows: list[list]) -> bytes:
    """An XLSX workbook with the import header, built with openpyxl."""
    book = openpyxl.Workbook()
    for row in [CSV_HEADER, *rows]:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def upload(page, name: str, content: bytes, channel: str) -> None:
    """Choose a file on the import page and press Import."""
    mime = (
        "text/csv"
        if name.endswith(".csv")
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    page.set_input_files("#f-file", {"name": name, "mimeType": mime, "buffer": content})
    page.select_option("#import-form #f-channel", channel)
    # The page after a file shows #import-report too: wait for this submission's page.
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")


def test_manager_imports_paper_responses_from_csv_and_xlsx(browser, server, story):  # noqa: F811
    survey_id = story_survey(story)
    before = len(answers_of(server, survey_id))
    good_csv = [
        ["CUST-0001", 9, 8, 9, 8, 9, 8, 8, 8, 9, 2, "Great service"],
        ["CUST-0002", 6, 6, 5, 8, 6, 5, 7, 5, 4, 4, ""],
        ["CUST-0005", 8, 8, 7, 7, 8, 7, 7, 7, 7, 3, ""],
    ]
    broken_csv = [good_csv[0], ["NOBODY", 8, 8, 8, 7, 7, 7, 7, 7, 7, 3, ""], good_csv[1][:]]
    broken_csv[2][1] = 12  # the overall rating is on 1–10
    with desktop_page(browser) as page:
        login(page, server, "manager")
        page.goto(f"{server.base_url}/surveys/{survey_id}")
        page.click("nav.actions a:has-text('Import file')")
        page.wait_for_selector("#import-form")
        assert "quality.expectation" in page.inner_text("#import-form .help")

        upload(page, "paper-forms.csv", csv_bytes(broken_csv), "mail")
        page.wait_for_selector("#import-problems")
        problems = page.locator("#import-problems tbody tr").all_inner_texts()
        assert len(problems) == 2, problems
        assert problems[0].startswith("3\t") and "NOBODY" in problems[0]
        assert problems[1].startswith("4\tsat")
        assert page.locator("#import-report").count() == 0
        screenshot(page, "survey-import-errors")
        assert len(answers_of(server, survey_id)) == before

        upload(page, "paper-forms.csv", csv_bytes(good_csv), "mail")
        page.wait_for_selector("#import-report")
        assert page.inner_text("#import-report") == "Created: 3, updated: 0, skipped: 0."
        assert page.locator("#import-problems").count() == 0

        xlsx_rows = [
            ["CUST-0006", 10, 9, 10, 8, 10, 9, 8, 9, 9, 1, "Kiosk form"],
            ["CUST-0009", 4, 5, 3, 9, 5, 5, 9, 4, 3, 5, None],
            ["CUST-0012", 7, 7, 8, 7, 7, 6, 7, 6, 6, 3, None],
        ]
        upload(page, "onsite.xlsx", xlsx_bytes(xlsx_rows), "onsite")
        page.wait_for_selector("#import-report")
        assert page.inner_text("#import-report") == "Created: 3, updated: 0, skipped: 0."

    ext = {server.ids[c[0]]: c[0] for c in CUSTOMERS}
    mail = [r for r in answers_of(server, survey_id, channel="mail") if r["entered_by_id"]]
    imported = {ext[r["customer_id"]] for r in mail if r["entered_by_id"] == server.ids["manager"]}
    assert imported == {"Acme Trading Ltd", "上海华联超市", "Northwind Supplies"}
    onsite = answers_of(server, survey_id, channel="onsite")
    assert {ext[r["customer_id"]] for r in onsite} == {
        "华东分公司",
        "Customer Service Dept.",
        "张伟",
    }
    acme = next(r for r in mail if r["customer_id"] == server.ids["Acme Trading Ltd"])
    assert acme["answers"]["quality"][:2] == (8, 9) and acme["answers"]["price"][1] == 2


@pytest.fixture(scope="module")
def seeded(server, story) -> int:  # noqa: F811
    """36 more answered paper forms for the story's survey (enough for the CSI), written through
    the service: answers follow the ECSI paths, spread over the first half of 2025."""
    survey_id = story_survey(story)
    rng = np.random.default_rng(11)
    with live_session(server.url_db) as s:
        manager = s.scalar(select(User).where(User.username == "manager"))
        rows = []
        for n in range(36):
            customer = make_customer(s, name=f"Panel customer {n + 1}")
            z = rng.normal(size=7)
            image = z[0]
            expect = 0.5 * image + 0.8 * z[1]
            quality = 0.6 * expect + 0.7 * z[2]
            worth = 0.4 * quality + 0.3 * expect + 0.7 * z[3]
            sat = 0.2 * image + 0.4 * quality + 0.3 * worth + 0.5 * z[4]
            care = 0.6 * sat + 0.7 * z[5]
            loyal = 0.5 * sat + 0.2 * care + 0.2 * image + 0.5 * z[6]

            def ten(v: float, lo: int = 1, hi: int = 10) -> int:
                return int(np.clip(round(7 + 1.6 * v), lo, hi))

            rows.append(
                BulkRow(
                    customer_id=customer.id,
                    external_id=f"seed-{n + 1}",
                    completed_at=datetime(2025, 1 + n % 6, 3 + n % 20, 10, tzinfo=UTC),
                    answers=[
                        {"question": "sat", "number": ten(sat)},
                        {"question": "sat2", "number": ten(sat + 0.4 * rng.normal())},
                        {"question": "rec", "number": ten(loyal + 0.4, 0, 10)},
                        {
                            "question": "quality",
                            "expectation": ten(expect + 0.3 * rng.normal()),
                            "number": ten(quality),
                        },
                        {"question": "image", "number": ten(image)},
                        {"question": "expect", "number": ten(expect)},
                        {"question": "worth", "number": ten(worth)},
                        {"question": "care", "number": ten(care)},
                        {"question": "price", "number": ten(-0.6 * worth, 1, 5) // 2 + 1},
                    ],
                )
            )
        report = bulk_entry.bulk_responses(
            s, survey_id, BulkResponses(channel="mail", responses=rows), actor=manager
        )
    assert report["created"] == 36
    return report["created"]


def test_manager_reads_nps_csat_ratio_value_and_csi_on_the_results_page(
    browser,  # noqa: F811
    server,  # noqa: F811
    story,
    seeded,
):
    survey_id = story_survey(story)
    every = answers_of(server, survey_id, status="completed")
    by_browser = {r["channel"] for r in every if not (r["external_id"] or "").startswith("seed-")}
    assert by_browser == {"online", "phone", "mail", "onsite"}, "run the whole story first"

    # the figures by hand from the stored answers
    n = len(every)
    rec = [r["answers"]["rec"][1] for r in every]
    promoters = sum(v >= 9 for v in rec)
    detractors = sum(v <= 6 for v in rec)
    sat = [r["answers"]["sat"][1] for r in every]
    pairs = [r["answers"]["quality"][:2] for r in every if "quality" in r["answers"]]
    pairs = [p for p in pairs if None not in p]
    mean_a = sum(a for a, _ in pairs) / len(pairs)
    mean_b = sum(b for _, b in pairs) / len(pairs)
    # ... and as the service computes them
    with live_session(server.url_db) as s:
        manager = s.scalar(select(User).where(User.username == "manager"))
        res = reports.survey_results(s, survey_id, actor=manager)
        value = reports.delivered_value_report(s, survey_id, actor=manager)
        csi = csi_report.csi_report(s, survey_id, actor=manager)
    nps = res["nps"]["headline"]
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (n, promoters, detractors)
    assert nps["score"] == pytest.approx(100 * (promoters - detractors) / n)
    assert res["csat"]["headline"]["top_box_share"] == pytest.approx(sum(v >= 9 for v in sat) / n)
    quality = next(d for d in res["expectation_ratio"]["by_dimension"])
    assert quality["dimension"] == "product.quality"
    assert quality["c"] == pytest.approx(mean_b / mean_a)
    assert csi["n"] == n and csi["dropped_incomplete"] == 0
    assert 0 < csi["gof"] < 1  # Satisfaction has two items, so GoF is defined

    fmt = Formatter("en")
    with desktop_page(browser) as page:
        login(page, server, "manager")
        page.click("nav.mainnav a[href='/surveys']")
        page.click(f"#survey-table tr:has-text('{SURVEY_NAME}') a:has-text('Results')")
        for chart in ("nps", "nps-trend", "csat", "ratio", "value", "csi", "drivers", "funnel"):
            page.wait_for_selector(f"#{chart}-chart svg")
        assert f"{n} completed responses" in page.inner_text(".subtitle")
        assert page.inner_text("#kpi-nps") == fmt.number(nps["score"], 0)
        assert page.inner_text("#kpi-promoters") == str(promoters)
        assert page.inner_text("#kpi-passives") == str(n - promoters - detractors)
        assert page.inner_text("#kpi-detractors") == str(detractors)
        csat = 100 * res["csat"]["headline"]["top_box_share"]
        assert page.inner_text("#kpi-csat") == fmt.number(csat, 1) + " %"

        cells = page.locator("#ratio-table tr[data-dimension='product.quality'] td")
        assert cells.all_inner_texts() == [
            "Product quality",  # the dimension's label, not its code
            str(len(pairs)),
            fmt.number(mean_a, 2),
            fmt.number(mean_b, 2),
            fmt.number(mean_b / mean_a, 3),
            {"dissatisfied": "Dissatisfied", "satisfied": "Satisfied"}.get(
                quality["level"], "Highly satisfied"
            ),
        ]

        overall = value["overall"]
        assert page.inner_text("#dv-value") == fmt.number(overall["total_value"], 1)
        assert page.inner_text("#dv-cost") == fmt.number(overall["total_cost"], 1)
        assert page.inner_text("#dv-delivered") == fmt.number(overall["delivered"], 1)
        weakest = {"product": "Product value", "image": "Image value", "money": "Money cost"}
        assert page.inner_text("#weakest strong") == weakest[overall["weakest"]]

        assert f"n = {n}" in page.inner_text("#csi-summary")
        assert f"GoF {fmt.number(csi['gof'], 3)}" in page.inner_text("#csi-summary")
        for latent, index in csi["indices"].items():
            row = page.locator(f"#csi-table tr[data-latent='{latent}'] td").all_inner_texts()
            r2 = fmt.number(csi["r2"][latent], 3) if latent in csi["r2"] else "—"
            assert row[1:] == [fmt.number(index, 1), r2], latent
        page.wait_for_selector("#csi-chart[data-chart-ready]", state="attached")
        labels = svg_texts(page, "#csi-chart")
        for path in csi["paths"]:
            assert f"{path['coefficient']:.2f}" in labels, path
        assert any(t.startswith("Satisfaction") for t in labels)
        driver_names = page.locator("#drivers-table tbody td:first-child")
        names = driver_names.all_inner_texts()
        assert len(names) == len(csi["drivers"]["Satisfaction"]) > 1
        # measure the labels once ECharts has finished drawing (not mid-animation)
        page.wait_for_selector("#drivers-chart[data-chart-ready]", state="attached")
        boxes = label_boxes(page, "#drivers-chart", names)
        assert sorted(boxes) == sorted(names) and overlaps(boxes) == [], boxes
        screenshot(page, "survey-results")

        # the same dashboard in Chinese
        page.click("button.lang[value=zh_CN]")
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
        page.wait_for_selector("#csi-chart[data-chart-ready]", state="attached")
        headings = page.locator("h2").all_inner_texts()
        for title in (
            "净推荐值（NPS）",
            "期望与感知：c = b/a",
            "客户让渡价值",
            "顾客满意度指数（CSI）",
        ):
            assert title in headings, title
        assert f"{n} " in page.inner_text(".subtitle") and "completed" not in page.inner_text(
            ".subtitle"
        )
        assert page.inner_text("#kpi-nps") == fmt.number(nps["score"], 0)
        assert page.inner_text("#kpi-csat") == fmt.number(csat, 1) + " %"
        assert page.inner_text("#dv-delivered") == fmt.number(overall["delivered"], 1)
        assert page.locator("#csi-table tr[data-latent='Satisfaction'] td").first.inner_text() == (
            "顾客满意"
        )
        assert page.locator("#csi-table tr[data-latent='Quality'] td").first.inner_text() == (
            "感知质量"
        )
        assert any(t.startswith("顾客满意") for t in svg_texts(page, "#csi-chart"))
        screenshot(page, "survey-results-zh")
        page.click("button.lang[value=en]")
        page.wait_for_selector("html[lang=en]", state="attached")


def label_boxes(page, chart: str, names: list[str]) -> dict[str, dict]:
    """The drawn boxes of a chart's text labels with these texts (visible ones only)."""
    return page.eval_on_selector_all(
        f"{chart} svg text",
        """(els, names) => Object.fromEntries(els
            .filter(e => names.includes(e.textContent) && e.getAttribute('opacity') !== '0')
            .map(e => { const r = e.getBoundingClientRect();
                        return [e.textContent, {x: r.x, y: r.y, w: r.width, h: r.height}]; }))""",
        names,
    )


def overlaps(boxes: dict[str, dict]) -> list[tuple[str, str]]:
    """Pairs of label boxes that intersect."""
    out = []
    items = sorted(boxes.items())
    for i, (a, p) in enumerate(items):
        for b, q in items[i + 1 :]:
            if p["x"] < q["x"] + q["w"] and q["x"] < p["x"] + p["w"]:
                if p["y"] < q["y"] + q["h"] and q["y"] < p["y"] + p["h"]:
                    out.append((a, b))
    return out


def test_driver_matrix_labels_of_close_drivers_do_not_overlap(browser):  # noqa: F811
    """Four drivers with almost the same importance and performance: every label is drawn and
    none covers another (ECharts labelLayout shifts them apart in a column by the plot)."""
    from retento.surveys.pages import driver_matrix_option
    from retento.web.render import PACKAGE_DIR

    drivers = [
        {"driver": "Image", "importance": 0.300, "performance": 70.1},
        {"driver": "Expectation", "importance": 0.310, "performance": 70.4},
        {"driver": "Quality", "importance": 0.290, "performance": 69.8},
        {"driver": "Value", "importance": 0.305, "performance": 70.2},
    ]
    option = driver_matrix_option(drivers, lambda m: m)
    names = [p["name"] for p in option["series"][0]["data"]]
    assert names == ["Image", "Expectation", "Perceived quality", "Perceived value"]
    vendor = next((PACKAGE_DIR / "web" / "static" / "vendor").glob("echarts-*.min.js"))
    with desktop_page(browser) as page:
        page.set_content('<div id="drivers" style="width:600px;height:240px"></div>')
        page.add_script_tag(path=str(vendor))
        page.evaluate(
            """opt => echarts.init(document.getElementById('drivers'), null, {renderer: 'svg'})
                          .setOption(Object.assign({animation: false}, opt))""",
            option,
        )
        page.wait_for_selector("#drivers svg text")
        boxes = label_boxes(page, "#drivers", names)
        assert sorted(boxes) == sorted(names)
        assert overlaps(boxes) == [], boxes
        # the labels stand in one column right of the plot (which ends at 72 % of 600 px)
        columns = {round(b["x"]) for b in boxes.values()}
        assert len(columns) == 1 and columns.pop() > 0.72 * 600
        assert all(b["x"] + b["w"] <= 600 and 0 <= b["y"] <= 240 for b in boxes.values())
