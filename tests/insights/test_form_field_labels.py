"""The Insights run forms name a refused field by its label, in the reader's language.

The basket form said "min_support 必须是数字。" and "since must be a date as YYYY-MM-DD."; the
segments form said "Enter a whole number." of k=9999999999, a whole number that is too large.
The API keeps the field's code in its English message and names it in ``field``.
"""

from __future__ import annotations

import html
import re

import pytest


def _field_errors(page: str) -> dict[str, str]:
    found = re.findall(r'<p class="field-error" id="e-([^"]+)">([^<]*)<', page)
    # a select's error has no id: it follows the select named by the field
    found += re.findall(
        r'<select id="f-([^"]+)"(?:(?!<select).)*?</select>\s*<p class="field-error">([^<]*)<',
        page,
        re.S,
    )
    return {k: html.unescape(v) for k, v in found}


def _speak(web, role: str, lang: str):
    assert web.login(role).status_code == 303
    assert web.post("/locale", {"lang": lang, "next": "/"}).status_code == 303


BASKET = [
    (
        {"min_support": "abc"},
        "min_support",
        "Minimum support must be a number.",
        "最小支持度必须是数字。",
    ),
    (
        {"since": "abc"},
        "since",
        "Orders since must be a date as YYYY-MM-DD.",
        "起始下单日期必须是 YYYY-MM-DD 格式的日期。",
    ),
    (
        {"min_confidence": "5"},
        "min_confidence",
        "Minimum confidence must be at least 0 and at most 1.",
        "最小置信度必须不小于 0 且不超过 1。",
    ),
    (
        {"min_support": "0"},
        "min_support",
        "Minimum support must be above 0 and at most 1.",
        "最小支持度必须大于 0 且不超过 1。",
    ),
    (
        {"max_itemsets": "3000000"},
        "max_itemsets",
        "Most itemsets must be at least 1 and at most 2,000,000.",  # not 2e+06
        "最多项集数必须不小于 1 且不超过 2,000,000。",
    ),
    (
        {"level": "shelf"},
        "level",
        "Items must be one of: Products, Categories.",
        "项目必须是以下之一：",
    ),
]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_basket_form_errors_name_the_field_by_its_label(web, users, lang):
    _speak(web, "admin", lang)
    for data, field, en, zh in BASKET:
        r = web.post("/insights/baskets/run", data)
        assert r.status_code == 422, data
        errors = _field_errors(r.text)
        assert errors[field].startswith(en if lang == "en" else zh), (data, errors)
        assert not errors[field].startswith(field + " "), errors  # no raw name


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_too_large_k_is_told_the_allowed_range(web, users, lang):
    _speak(web, "analyst", lang)
    text = {"en": "Enter a whole number from %s to %s.", "zh_CN": "请输入 %s 到 %s 之间的整数。"}
    for data, field, low in (
        ({"k": "9999999999"}, "k", 1),
        ({"k": "13"}, "k", 1),
        ({"k": "abc"}, "k", 1),
        ({"k_max": "99999999999999999999"}, "k_max", 2),
    ):
        r = web.post("/insights/segments/run", data)
        assert r.status_code == 422, data
        assert _field_errors(r.text)[field] == text[lang] % (low, 12), data
    r = web.post("/insights/segments/run", {"seed": "1" * 5000})
    assert r.status_code == 422
    assert _field_errors(r.text)["seed"] == text[lang] % (0, "999999999")


def test_the_api_keeps_the_code_in_its_english_message(client, tokens):
    r = client.post(
        "/api/v1/insights/baskets/runs", json={"min_support": "abc"}, headers=tokens["analyst"]
    )
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "min_support"
    assert "min_support" in body["detail"] and "Minimum support" not in body["detail"]


@pytest.mark.parametrize(("lang", "thing"), [("en", "Insight run"), ("zh_CN", "数据分析运行")])
def test_a_malformed_run_id_names_an_insight_run_not_a_scoring_run(web, users, lang, thing):
    """``/insights/runs/abc/progress`` said "评分运行 abc 不存在" (a scoring run)."""
    _speak(web, "analyst", lang)
    for run_id in ("abc", "99999999"):
        r = web.get(f"/insights/runs/{run_id}/progress")
        assert r.status_code == 404
        text = html.unescape(r.text)
        assert thing in text and "评分运行" not in text and "Scoring run" not in text


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("en", "The feature Days since the last order is required."),
        ("zh_CN", "特征 距最近订单天数 为必选项。"),
    ],
)
def test_unticking_every_feature_names_the_required_one(web, users, lang, said):
    """With every box unticked the form ran on all features (an empty list read as "not
    given"); it now names the first required feature by its label."""
    _speak(web, "analyst", lang)
    r = web.post("/insights/segments/run", {"k": "3"})
    assert r.status_code == 422
    assert _field_errors(r.text)["features"] == said
