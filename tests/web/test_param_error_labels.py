"""A bad query parameter is named as the page labels it, in the reader's language.

An exploratory pass found 422 pages that spoke English on Chinese pages and named raw
parameters ("value_class must be one of vip, major, ordinary, small, below_zero.", "period 必须是
30、90、365、all 或 custom 之一。"), and 404 pages reading "Not Found" in Chinese. The messages
now name the filter by its label with the parameter in brackets ("Value class (value_class)
must be one of: VIP, Major, …"), the choices by their labels, and the API keeps the codes.
"""

from __future__ import annotations

import html
import re

import pytest

from retento.core.errors import (
    InvalidInput,
    Msg,
    Named,
    Term,
    Terms,
    choice_error,
    number_error,
)
from retento.web.i18n import join_list, message_text


def _message(page: str) -> str:
    m = re.search(r'<p class="error-message">(.*?)</p>', page, re.S)
    assert m, page[:500]
    return html.unescape(m.group(1))


def _speak(web, users, role: str, lang: str):
    assert web.login(role).status_code == 303
    assert web.post("/locale", {"lang": lang, "next": "/"}).status_code == 303
    return web


# (url, English message, Chinese message)
CASES = [
    (
        "/retention/at-risk?value_class=bogus",
        "Value class (value_class) must be one of: VIP, Major, Ordinary, Small, Below zero.",
        "价值类别（value_class）必须是以下之一：贵宾型、重要型、普通型、小客户、负值客户。",
    ),
    (
        "/retention/alerts?scope=bogus",
        "Whose (scope) must be one of: My alerts, All alerts.",
        "负责人范围（scope）必须是以下之一：我的预警、全部预警。",
    ),
    (
        "/retention/tasks?owner=abc",
        "Owner (owner) must be a whole number.",
        "负责人（owner）必须是整数。",
    ),
    (
        "/retention/at-risk?min_risk=5",
        "Churn risk (min_risk) must be between 0 and 1.",
        "流失风险（min_risk）必须在 0 到 1 之间。",
    ),
    (
        "/value/customers?run=abc",
        "Scoring run (run) must be a whole number.",
        "评分运行（run）必须是整数。",
    ),
    (
        "/value/customers?churn_risk_gte=abc",
        "Churn risk at least (churn_risk_gte) must be a number.",
        "流失风险不低于（churn_risk_gte）必须是数字。",
    ),
    (
        "/?period=bogus",
        "Period (period) must be one of: Last 30 days, Last 90 days, Last 365 days, All time, "
        "Custom dates.",
        "期间（period）必须是以下之一：近 30 天、近 90 天、近 365 天、全部时间、自定义日期。",
    ),
    (
        "/?view=bogus",
        "Dashboard (view) must be one of: Manager dashboard, My work, Model and data health.",
        "看板（view）必须是以下之一：经理看板、我的工作、模型与数据状况。",
    ),
    (
        "/?period=custom&from=soon&to=2024-01-01",
        "From (from) must be a date as YYYY-MM-DD.",
        "开始日期（from）必须是 YYYY-MM-DD 格式的日期。",
    ),
    (
        "/value?segment=value_class:gold",
        "Segment (segment) must be one of the segments listed on the page, as kind:value, "
        "e.g. value_class:vip.",
        "客户群（segment）必须是页面上列出的客户群之一，格式为 类别:取值，例如 value_class:vip。",
    ),
    (
        "/loyalty/types?show=bogus",
        "Show (show) must be one of: Satisfaction trap, All customers, Trust loyalty,",
        "显示（show）必须是以下之一：满意陷阱、全部客户、信赖忠诚、",
    ),
    (
        "/insights/segments/export.csv?run=x",
        "Insight run (run) must be a whole number.",
        "数据分析运行（run）必须是整数。",
    ),
    (
        "/insights/segments/export.csv?table=bogus",
        "Table (table) must be one of: profiles, scores.",
        "数据表（table）必须是以下之一：profiles、scores。",
    ),
    (
        "/value/tables.csv?table=bogus",
        "Table (table) must be one of: pyramid, labels, pareto, stages.",
        "数据表（table）必须是以下之一：pyramid、labels、pareto、stages。",
    ),
    (
        "/admin/mail?offset=abc",
        "Position in the list (offset) must be a whole number.",
        "列表位置（offset）必须是整数。",
    ),
    (
        "/admin/users?offset=abc",
        "offset: Input should be a valid integer, unable to parse string as an integer",
        "offset：必须是整数，无法将该字符串解析为整数",
    ),
]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_bad_query_parameters_name_the_filter_by_its_label(web, users, lang):
    _speak(web, users, "admin", lang)
    for url, en, zh in CASES:
        r = web.get(url)
        assert r.status_code == 422, (url, r.status_code)
        assert _message(r.text).startswith(en if lang == "en" else zh), url
        if lang == "zh_CN":
            # Nothing English is left but the parameter's own name and codes.
            assert "must" not in r.text and "Input should" not in r.text, url


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_an_address_nothing_serves_says_so_in_the_readers_language(web, users, lang):
    _speak(web, users, "manager", lang)
    for url in ("/value/bogus", "/scoring/runs/9999", "/nonexistent"):
        r = web.get(url)
        assert r.status_code == 404, url
        assert "Not Found" not in r.text, url
        text = "There is no page at this address." if lang == "en" else "此地址没有页面。"
        assert _message(r.text) == text, url


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_download_before_any_segmentation_says_there_is_none_yet(web, users, lang):
    _speak(web, users, "analyst", lang)
    r = web.get("/insights/segments/export.csv")
    assert r.status_code == 404 and "latest" not in _message(r.text)
    assert _message(r.text) == (
        "There is no segmentation run yet: run a segmentation first."
        if lang == "en"
        else "还没有客户分群运行：请先运行一次客户分群。"
    )


def test_the_api_keeps_its_codes_and_its_english(client, tokens):
    r = client.get("/api/v1/nonexistent", headers=tokens["admin"])
    assert r.status_code == 404 and r.json()["detail"] == "Not Found"
    assert r.json()["code"] == "not_found"
    # a page's 422 asked for as JSON: the codes in English, the field named
    r = client.get(
        "/retention/at-risk?value_class=bogus",
        headers={**tokens["admin"], "Accept": "application/json"},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "value_class" and body["errors"][0]["field"] == "value_class"
    assert body["detail"] == (
        "Value class (value_class) must be one of: vip, major, ordinary, small, below_zero."
    )
    r = client.get("/api/v1/users?offset=abc", headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["field"] == "offset"
    assert r.json()["detail"].startswith("offset: Input should be a valid integer")


def test_terms_and_names_inside_a_message():
    err = choice_error("kind", "Value class", [("vip", "VIP"), ("major", "Major"), "other"])
    assert err.field == "kind"
    assert str(err.message) == "Value class (kind) must be one of: vip, major, other."
    assert (
        message_text("en", err.message) == "Value class (kind) must be one of: VIP, Major, other."
    )
    assert (
        message_text("zh_CN", err.message)
        == "价值类别（kind）必须是以下之一：贵宾型、重要型、other。"
    )
    assert (
        str(number_error("n", "Owner", whole=True).message) == "Owner (n) must be a whole number."
    )
    refused = number_error("n", "Owner").refuse()
    assert refused.status == 422 and refused.field == "n" and refused.errors[0].field == "n"
    # a custom role's Chinese name in Chinese, its (English) name elsewhere
    msg = Msg("%(who)s: %(what)s", who=Named("supervisor", zh_CN="主管"), what=Terms([Term("a")]))
    assert str(msg) == "supervisor: a"
    assert message_text("zh_CN", msg) == "主管: a"
    assert message_text("en", msg) == "supervisor: a"
    assert message_text("zh_CN", Named("plain", zh_CN="")) == "plain"
    assert join_list("en", ["a", "b", "c"]) == "a, b, c"
    assert join_list("zh_CN", ["甲", "乙", "丙"]) == "甲、乙、丙"
    assert join_list("zh_CN", []) == ""


def test_a_tampered_version_is_named_as_the_version():
    from retento.web.conflict import form_version

    with pytest.raises(InvalidInput) as caught:
        form_version({"version": "abc"})
    assert caught.value.field == "version"
    assert str(caught.value.message) == "Version (version) must be a whole number."
    assert message_text("zh_CN", caught.value.message) == "版本（version）必须是整数。"
