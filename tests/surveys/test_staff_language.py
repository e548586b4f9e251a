"""Staff pages show a survey in the reader's language where the survey has it.

QA (Chinese UI, admin, manager and agent) saw the phone entry of the demo's ECSI survey with
English sections and questions between Chinese scale ends, English question tooltips on the
paper entry grid, and "结果: Customer satisfaction index (ECSI)" on the results page, though
the survey's Chinese texts were complete. Now the staff pages read each text in the reader's
language, falling back text by text to the survey's own; forms that edit the stored texts keep
them as stored.
"""

from __future__ import annotations

import copy
import html
import re

import pytest

from retento.surveys import languages, responses, service
from retento.surveys.schemas import AnswerIn, ResponseCreate, SurveyFromTemplate, SurveyUpdate
from tests.factories import make_customer
from tests.surveys.conftest import SMALL_ZH, translate
from tests.web.conftest import Browser

ECSI_ZH = ("顾客满意度指数调查（ECSI）", "企业形象", "它言行可信。", "它关心客户。")
ECSI_EN = (
    "Customer satisfaction index (ECSI)",
    "Image",
    "It can be trusted in what it says and does.",
    "It is concerned with customers.",
)


@pytest.fixture
def ecsi(db, users):
    """The ECSI survey as the demo makes it: from the template, active, written in English."""
    s = service.create_from_template(
        db, SurveyFromTemplate(template="ecsi"), actor=users["manager"]
    )
    service.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.commit()
    return s


def _as(client, db, users, role: str, locale: str) -> Browser:
    users[role].locale = locale
    db.commit()
    web = Browser(client)
    assert web.login(role).status_code == 303
    return web


def _main(page: str) -> str:
    """The page's content (no menu), unescaped."""
    return html.unescape(page.split("<main", 1)[1])


def test_the_ecsi_template_has_every_text_in_chinese(ecsi):
    """The demo's ECSI survey is complete in Chinese, so Chinese staff can read all of it."""
    assert ecsi.language == "en" and languages.is_complete(ecsi, "zh_CN")
    assert languages.complete_languages(ecsi) == ["en", "zh_CN"]


@pytest.mark.parametrize("role", ["admin", "manager", "agent"])
def test_phone_entry_reads_wholly_in_the_agents_language(client, db, users, ecsi, role):
    zh = _as(client, db, users, role, "zh_CN").get(f"/surveys/{ecsi.id}/respond")
    assert zh.status_code == 200
    body = _main(zh.text)
    assert all(t in body for t in ECSI_ZH[1:]) and "非常不满意" in body
    assert not any(t in body for t in ECSI_EN[2:]) and "<h2>Image</h2>" not in body
    assert f"<title>电话录入 · {ECSI_ZH[0]}" in html.unescape(zh.text)
    # the breadcrumb names the survey in Chinese too
    assert f'<a href="/surveys/{ecsi.id}">{ECSI_ZH[0]}</a>' in body

    en = _as(client, db, users, role, "en").get(f"/surveys/{ecsi.id}/respond")
    body = _main(en.text)
    assert all(t in body for t in ECSI_EN[1:]) and "Very dissatisfied" in body
    assert not any(t in body for t in ECSI_ZH) and "非常不满意" not in body


@pytest.mark.parametrize(("locale", "texts"), [("zh_CN", ECSI_ZH), ("en", ECSI_EN)])
def test_paper_entry_tooltips_read_in_the_readers_language(client, db, users, ecsi, locale, texts):
    page = _as(client, db, users, "agent", locale).get(f"/surveys/{ecsi.id}/entry")
    tips = re.findall(r'<th title="([^"]*)"><code>IMAG\d</code>', page.text)
    assert len(tips) == 5 and texts[2] in map(html.unescape, tips)
    assert texts[3] in map(html.unescape, tips)


def test_results_title_breadcrumb_and_sentences_in_chinese(client, db, users, ecsi):
    page = _as(client, db, users, "manager", "zh_CN").get(f"/surveys/{ecsi.id}/results")
    text = html.unescape(page.text)
    assert f"<h1>结果：{ECSI_ZH[0]}</h1>" in text
    assert f"<title>结果 · {ECSI_ZH[0]}" in text
    assert f'<a href="/surveys/{ecsi.id}">{ECSI_ZH[0]}</a> /' in text
    assert "Customer satisfaction index" not in _main(page.text)
    measures = re.search(r'<p class="muted" id="measures">(.*?)</p>', text, re.S).group(1)
    assert measures.startswith("本问卷衡量：") and "。" in measures
    assert not re.search(r"[\u4e00-\u9fff]: |[\u4e00-\u9fff]\. ", measures)
    assert "本问卷没有以下指标的题目：" in measures and measures.endswith("。</span>")


def test_results_title_breadcrumb_and_sentences_in_english(client, db, users, ecsi):
    page = _as(client, db, users, "manager", "en").get(f"/surveys/{ecsi.id}/results")
    text = html.unescape(page.text)
    assert f"<h1>Results: {ECSI_EN[0]}</h1>" in text
    measures = re.search(r'<p class="muted" id="measures">(.*?)</p>', text, re.S).group(1)
    assert measures.startswith("This survey measures: ") and "It has no questions for: " in measures
    assert not re.search(r"[\u4e00-\u9fff]", measures)


def test_a_missing_translation_falls_back_text_by_text(client, db, users, small_survey):
    texts = copy.deepcopy(SMALL_ZH)
    del texts["questions"]["note"]  # one question left in English only
    translate(db, small_survey, users, texts)
    db.commit()
    body = _main(
        _as(client, db, users, "agent", "zh_CN").get(f"/surveys/{small_survey.id}/respond").text
    )
    assert "<h2>主要问题</h2>" in body and "您满意吗？" in body and "门店" in body
    assert "Anything else?" in body and "Satisfied?" not in body


def test_builder_shows_translations_but_edits_the_stored_texts(client, db, users, ecsi):
    page = _as(client, db, users, "manager", "zh_CN").get(f"/surveys/{ecsi.id}")
    text = html.unescape(page.text)
    assert f'<h1 id="survey-name">{ECSI_ZH[0]}</h1>' in text
    assert re.search(
        r"<h2>企业形象 <small class=\"muted\">代码：<code>image</code></small></h2>", text
    )
    assert "它言行可信。" in text
    # the forms edit the survey's own (English) texts
    assert f'name="name" type="text" value="{ECSI_EN[0]}"' in text
    section_form = re.search(r'name="original" value="image">.*?</form>', text, re.S).group(0)
    assert 'name="title" value="Image"' in section_form
    en = html.unescape(_as(client, db, users, "manager", "en").get(f"/surveys/{ecsi.id}").text)
    assert '<h2>Image <small class="muted">Code: <code>image</code></small></h2>' in en


def test_lists_and_pickers_name_the_survey_in_the_readers_language(client, db, users, ecsi):
    customer = make_customer(db, name="Caller Co")
    responses.record_response(
        db,
        ecsi.id,
        ResponseCreate(
            customer_id=customer.id,
            answers=[AnswerIn(question="IMAG1", number=8), AnswerIn(question="CUSA1", number=9)],
        ),
        actor=users["agent"],
    )
    db.commit()
    for locale, name, other in (("zh_CN", ECSI_ZH[0], ECSI_EN[0]), ("en", ECSI_EN[0], ECSI_ZH[0])):
        web = _as(client, db, users, "manager", locale)
        listing = html.unescape(web.get("/surveys").text)
        assert f'<a href="/surveys/{ecsi.id}">{name}</a>' in listing and other not in listing
        page = html.unescape(web.get(f"/customers/{customer.id}").text)
        history = re.search(r'id="survey-history".*?</table>', page, re.S).group(0)
        assert f">{name}</a>" in history and other not in history
        picker = re.search(r'id="f-phone-survey".*?</select>', page, re.S).group(0)
        assert f'<option value="{ecsi.id}">{name}</option>' in picker
        for tail in ("/distribute", "/import", "/translate?lang=zh_CN" if locale == "en" else ""):
            sub = html.unescape(web.get(f"/surveys/{ecsi.id}{tail}").text)
            assert f'<a href="/surveys/{ecsi.id}">{name}</a> /' in sub, tail


def test_labels_with_values_use_the_languages_colon(client, db, users, ecsi):
    zh = html.unescape(
        _as(client, db, users, "manager", "zh_CN").get(f"/surveys/{ecsi.id}/import").text
    )
    assert "列：<code>" in zh and "列: " not in zh
    builder = html.unescape(
        _as(client, db, users, "manager", "zh_CN").get(f"/surveys/{ecsi.id}").text
    )
    assert re.search(r"模板：<span id=\"survey-template\">", builder)
    assert re.search(r'<li data-lang="zh_CN">简体中文：', builder)
    en = html.unescape(
        _as(client, db, users, "manager", "en").get(f"/surveys/{ecsi.id}/import").text
    )
    assert "Columns: <code>" in en
