"""Browser tests of the survey pages: a customer answers on a phone, a manager reads the NPS."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.auth.models import User
from retento.core.db import make_engine, make_session_factory, transaction
from retento.surveys import service
from retento.surveys.schemas import (
    DistributionCreate,
    ResponseCreate,
    SegmentIn,
    SurveyCreate,
    SurveyUpdate,
)
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
            service.record_response(
                s,
                survey.id,
                ResponseCreate(
                    customer_id=server.ids["Li Wei"],
                    answers=[{"question": "sat", "number": 4}, {"question": "rec", "number": 9}],
                ),
                actor=manager,
            )
            _, links = service.create_distribution(
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
    page.set_default_timeout(10_000)
    try:
        url = server.base_url + survey_links["path"]
        page.goto(url)
        assert page.inner_text("#public-title") == "After-sales survey"
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
    page.set_default_timeout(10_000)
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
