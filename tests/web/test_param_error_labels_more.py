"""More parameters named as their page labels them, in the reader's language (the sequel of
``test_param_error_labels``): the survey results and complaint dashboard filters, the journey
funnel's check boxes, the experience filters, the drivers and propensity forms, the outbox's
position, the scoring run's model, the rates' grain and the segmentation's k. The API keeps
the codes in its English text."""

from __future__ import annotations

import html
import re

import pytest

from retento.core.errors import InvalidInput
from retento.insights import segments_service
from retento.scoring import relationship
from retento.surveys import service as surveys
from retento.surveys.schemas import SurveyCreate, SurveyUpdate
from retento.web.i18n import message_text
from tests.web.test_param_error_labels import _message, _speak


def _text(page: str) -> str:
    """The page's visible text in one line (a field's error under its input)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def survey_id(db, users) -> int:
    questions = [{"code": "sat", "text": "Satisfied?", "qtype": "rating"}]
    s = surveys.create_survey(
        db,
        SurveyCreate(name="Labels", sections=[{"code": "m", "title": "M", "questions": questions}]),
        actor=users["manager"],
    )
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    return s.id


# Pages answering a bad parameter with the error page: (url, English, Chinese).
ERROR_PAGES = [
    (
        "/insights/journey?include=bogus",
        "Records counted besides the touchpoints (include) must be one of: Count orders as "
        "“order and deposit”, Count complaints as “after-sales service”.",
        "除客户触点外计入的记录（include）必须是以下之一：将订单计为“订货与定金”、将投诉计为“售后服务”。",
    ),
    (
        "/insights/experience?mode=bogus",
        "Experience mode (mode) must be one of: Sense (sensory), Feel (emotional), "
        "Think (cognitive), Act (behavioural), Relate (social).",
        "体验模式（mode）必须是以下之一：感官、情感、思考、行为、关联。",
    ),
    (
        "/insights/experience?stage=bogus",
        "Journey stage (stage) must be one of: Desire, Information, Product cognition,",
        "旅程阶段（stage）必须是以下之一：需求产生、信息收集、产品认知、",
    ),
    (
        "/insights/experience?source=bogus",
        "Source (source) must be one of: Experience records, Survey answers.",
        "来源（source）必须是以下之一：体验记录、问卷回答。",
    ),
    (
        "/admin/mail?offset=-1",
        "Position in the list (offset) must not be negative.",
        "列表位置（offset）不能为负数。",
    ),
]

# Pages given back (422) with the error under the filter or field: (url, English, Chinese).
FORM_PAGES = [
    (
        "/complaints/dashboard?channel=fax",
        "Channel (channel) must be one of: Phone, Email, Web form, Store, Chat, Social media, API.",
        "渠道（channel）必须是以下之一：电话、电子邮件、网页表单、门店、在线聊天、社交媒体、API。",
    ),
    (
        "/insights/drivers?period_days=10",
        "Outcome period (days) (period_days) must be between 30 and 1095.",
        "结果期（天）（period_days）必须在 30 到 1095 之间。",
    ),
    (
        "/insights/propensity?kind=category&target=x&horizon_days=3",
        "Horizon (days) (horizon_days) must be between 7 and 365.",
        "预测期（天）（horizon_days）必须在 7 到 365 之间。",
    ),
    (
        "/insights/propensity?kind=category&target=x&top_k=0",
        "Customers to invite (top_k) must be between 1 and 5000.",
        "邀请客户数（top_k）必须在 1 到 5000 之间。",
    ),
]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_bad_parameters_name_the_control_as_the_page_does(web, users, survey_id, lang):
    _speak(web, users, "admin", lang)
    for url, en, zh in ERROR_PAGES:
        r = web.get(url)
        assert r.status_code == 422, (url, r.status_code)
        assert _message(r.text).startswith(en if lang == "en" else zh), url
        if lang == "zh_CN":
            assert "must" not in r.text, url
    survey_page = (
        f"/surveys/{survey_id}/results?channel=fax",
        "Channel (channel) must be one of: Online link, Phone, Mail / paper, On site.",
        "渠道（channel）必须是以下之一：在线链接、电话、邮寄 / 纸质、现场。",
    )
    for url, en, zh in [*FORM_PAGES, survey_page]:
        r = web.get(url)
        assert r.status_code == 422, (url, r.status_code)
        assert (en if lang == "en" else zh) in _text(r.text), url
        if lang == "zh_CN":
            assert "must" not in r.text, url


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Model (model) must be one of: BG/NBD (buy till you die), MBG/NBD"),
        ("zh_CN", "模型（model）必须是以下之一：BG/NBD（购买直至流失模型）、"),
    ],
)
def test_a_bad_scoring_model_is_named_by_the_select(web, users, lang, text):
    _speak(web, users, "manager", lang)
    r = web.post("/value/runs", {"model": "bogus"})
    assert r.status_code == 303
    page = web.get(r.headers["location"])
    assert text in _text(page.text)
    if lang == "zh_CN":
        assert "must be" not in page.text


def test_the_api_keeps_the_codes(client, tokens, survey_id):
    cases = [
        (
            "/api/v1/experiences?mode=bogus",
            "mode",
            "Experience mode (mode) must be one of: sense, feel, think, act, relate.",
        ),
        (
            "/api/v1/experiences?stage=bogus",
            "stage",
            "Journey stage (stage) must be one of: desire, information, cognition, selection, "
            "order, receipt, payment, after_sales.",
        ),
        (
            "/api/v1/insights/experience?source=bogus",
            "source",
            "Source (source) must be one of: record, survey.",
        ),
        (
            "/api/v1/complaints/analytics?channel=fax",
            "channel",
            "Channel (channel) must be one of: phone, email, web_form, store, chat, social, api.",
        ),
        (
            "/api/v1/complaints/analytics?value_class=gold",
            "value_class",
            "Value class (value_class) must be one of: vip, major, ordinary, small, below_zero.",
        ),
        (
            f"/api/v1/surveys/{survey_id}/results?channel=fax",
            "channel",
            "Channel (channel) must be one of: online, phone, mail, onsite.",
        ),
        (
            f"/api/v1/surveys/{survey_id}/results?value_class=gold",
            "value_class",
            "Value class (value_class) must be one of: vip, major, ordinary, small, below_zero.",
        ),
    ]
    for url, field, detail in cases:
        r = client.get(url, headers=tokens["admin"])
        assert r.status_code == 422, (url, r.status_code, r.text)
        body = r.json()
        assert body["field"] == field and body["errors"][0]["field"] == field, url
        assert body["detail"] == detail, url


def _refusal(call) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


def test_service_checks_no_page_reaches_first_speak_both_languages():
    # the segmentation form checks k itself; the API and the command line get this one
    err = _refusal(lambda: segments_service.check_params({"k": 99}))
    assert err.field == "k" and str(err.message) == "Fixed k (k) must be between 1 and 12."
    assert message_text("zh_CN", err.message) == "固定 k（k）必须在 1 到 12 之间。"
    # the Value page's rate buttons and the number of periods (the API checks its own types)
    err = _refusal(lambda: relationship.rate_series(None, grain="week"))
    assert err.field == "grain"
    assert str(err.message) == "Period length (grain) must be one of: month, quarter."
    assert message_text("en", err.message) == (
        "Period length (grain) must be one of: By month, By quarter."
    )
    assert message_text("zh_CN", err.message) == "周期长度（grain）必须是以下之一：按月、按季度。"
    err = _refusal(lambda: relationship.rate_series(None, grain="month", periods=99))
    assert err.field == "periods"
    assert str(err.message) == "Number of periods (periods) must be between 1 and 60."
    assert message_text("zh_CN", err.message) == "周期数（periods）必须在 1 到 60 之间。"
