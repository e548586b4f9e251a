from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from retento.core.db import make_engine, make_session_factory, transaction
from retento.surveys import bulk_entry, service
from retento.surveys import cli as surveys_cli
from retento.surveys.schemas import BulkResponses, SurveyCreate, SurveyFromTemplate, SurveyUpdate
from tests.web.live import BROWSER_TIMEOUT_MS


def small_survey_data(**over) -> SurveyCreate:
    """A compact survey with one question of every type."""
    data = {
        "name": "Small survey",
        "sections": [
            {
                "code": "main",
                "title": "Main",
                "questions": [
                    {
                        "code": "sat",
                        "text": "Satisfied?",
                        "qtype": "rating",
                        "required": True,
                        "satisfaction_dimension": "overall",
                        "csi_latent": "Satisfaction",
                    },
                    {"code": "rec", "text": "Recommend?", "qtype": "nps"},
                    {"code": "easy", "text": "Easy?", "qtype": "ces"},
                    {
                        "code": "speed",
                        "text": "Speed",
                        "qtype": "expectation_perception",
                        "satisfaction_dimension": "service.response_time",
                        "value_dimension": "service",
                    },
                    {
                        "code": "price",
                        "text": "Price",
                        "qtype": "expectation_perception",
                        "satisfaction_dimension": "product.price",
                    },
                    {
                        "code": "cost",
                        "text": "Time cost",
                        "qtype": "rating",
                        "value_dimension": "time",
                    },
                    {
                        "code": "where",
                        "text": "Where?",
                        "qtype": "single_choice",
                        "options": [
                            {"value": "store", "label": "Store"},
                            {"value": "web", "label": "Web"},
                        ],
                    },
                    {
                        "code": "what",
                        "text": "What?",
                        "qtype": "multiple_choice",
                        "options": [
                            {"value": "a", "label": "A"},
                            {"value": "b", "label": "B"},
                            {"value": "c", "label": "C"},
                        ],
                    },
                    {"code": "note", "text": "Anything else?", "qtype": "free_text"},
                ],
            }
        ],
    }
    data.update(over)
    return SurveyCreate(**data)


@pytest.fixture
def small_survey(db, users):
    s = service.create_survey(db, small_survey_data(), actor=users["manager"])
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.flush()
    return s


# Every text of small_survey_data in Chinese (a complete second language).
SMALL_ZH = {
    "survey": {"name": "小调查"},
    "sections": {"main": {"title": "主要问题"}},
    "questions": {
        "sat": {"text": "您满意吗？"},
        "rec": {"text": "您会推荐吗？"},
        "easy": {"text": "容易吗？"},
        "speed": {"text": "速度"},
        "price": {"text": "价格"},
        "cost": {"text": "时间成本"},
        "where": {"text": "在哪里？", "options": {"store": "门店", "web": "网站"}},
        "what": {"text": "什么？", "options": {"a": "甲", "b": "乙", "c": "丙"}},
        "note": {"text": "还有别的吗？"},
    },
}


def translate(db, survey, users, texts=SMALL_ZH, lang="zh_CN"):
    """Give ``survey`` its texts in ``lang`` through the service (as the editor does)."""
    from retento.surveys.schemas import TranslationIn

    service.set_translation(db, survey.id, lang, TranslationIn(**texts), actor=users["manager"])
    db.flush()
    return survey


@pytest.fixture
def bilingual_survey(db, users, small_survey):
    """small_survey with complete Chinese texts."""
    return translate(db, small_survey, users)


@pytest.fixture
def standard_survey(db, users):
    s = service.create_from_template(
        db, SurveyFromTemplate(template="standard"), actor=users["manager"]
    )
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.flush()
    return s


ECSI_LATENTS = ("Image", "Expectation", "Quality", "Value", "Satisfaction", "Complaints", "Loyalty")


@pytest.fixture
def single_item_csi_survey(db, users):
    """An active ECSI survey whose every latent is measured by one 1–10 rating, answered on
    paper by 24 respondents (every answer follows the respondent's mood, plus noise)."""
    questions = [
        {
            "code": f"q_{lv.lower()}",
            "text": f"{lv}?",
            "qtype": "rating",
            "scale_max": 10,
            "required": True,
            "csi_latent": lv,
        }
        for lv in ECSI_LATENTS
    ]
    s = service.create_survey(
        db,
        SurveyCreate(
            name="One item each",
            sections=[{"code": "s", "title": "S", "questions": questions}],
        ),
        actor=users["manager"],
    )
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    rng = random.Random(7)
    rows = []
    for _ in range(24):
        mood = rng.randint(2, 8)
        rows.append(
            {
                "answers": [
                    {"question": f"q_{lv.lower()}", "number": mood + rng.randint(-1, 2)}
                    for lv in ECSI_LATENTS
                ]
            }
        )
    report = bulk_entry.bulk_responses(
        db, s.id, BulkResponses(channel="mail", responses=rows), actor=users["agent"]
    )
    assert report["created"] == 24
    db.commit()
    return s


# --- helpers for the browser story (tests/surveys/test_browser.py) ---------------------------

PHONE_VIEWPORT = {"width": 390, "height": 844}
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


@contextmanager
def live_session(url: str) -> Iterator[Session]:
    """One committed transaction on the live server's database (to seed or to check)."""
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            yield s
    finally:
        engine.dispose()


@contextmanager
def phone_page(browser, locale: str = "en-US") -> Iterator[Any]:
    """A page in a phone-sized, touch-enabled browser context (roughly an iPhone 13)."""
    context = browser.new_context(
        viewport=PHONE_VIEWPORT,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        user_agent=IPHONE_UA,
        locale=locale,
    )
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


@contextmanager
def desktop_page(browser, locale: str = "en-US") -> Iterator[Any]:
    """A page in a desktop-sized browser context."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Save ``docs/screenshots/<name>.png`` when ``RETENTO_SCREENSHOTS`` is set (else nothing).

    ``RETENTO_SCREENSHOTS=1`` writes into docs/screenshots/, any other value is a directory.
    """
    target = os.environ.get("RETENTO_SCREENSHOTS")
    if not target:
        return
    out = DOCS_SCREENSHOTS if target == "1" else Path(target)
    out.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / f"{name}.png"), full_page=full_page, scale="css")


DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def on_test_db(monkeypatch, session_factory):
    """The CLI's session is a session of the test transaction."""

    @contextmanager
    def session():
        s = session_factory()
        try:
            yield s
            s.commit()
        finally:
            s.close()

    monkeypatch.setattr(surveys_cli, "cli_session", session)
