"""Survey pages name stored codes in the reader's language. QA (Chinese UI) saw a survey's
language and template as raw codes (``en``, ``standard``) on the list and the builder, "written
in English" in a Chinese sentence, a bare section code beside each section title and dimension
codes (``product.price``) as question tags."""

from __future__ import annotations

import re

from tests.web.conftest import Browser


def _row(html: str, name: str) -> str:
    m = re.search(
        r"<tr>\s*<td><a href=\"/surveys/\d+\">" + re.escape(name) + r"</a>.*?</tr>", html, re.S
    )
    assert m is not None, html[-800:]
    return m.group(0)


def _login(client, db, users, locale: str) -> Browser:
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    return web


def test_survey_list_names_language_and_template_in_chinese(client, db, users, standard_survey):
    web = _login(client, db, users, "zh_CN")
    # the survey's name too is in Chinese: the standard template has it in both languages
    row = _row(web.get("/surveys").text, "客户满意度调查")
    assert "<td>英语</td>" in row and "<td>标准满意度问卷</td>" in row
    assert "<td>en</td>" not in row and "<td>standard</td>" not in row


def test_survey_list_names_language_and_template_in_english(client, db, users, standard_survey):
    web = _login(client, db, users, "en")
    row = _row(web.get("/surveys").text, standard_survey.name)
    assert "<td>English</td>" in row and "<td>Standard satisfaction survey</td>" in row
    assert "<td>en</td>" not in row and "<td>standard</td>" not in row


def test_builder_names_template_language_sections_and_dimensions_in_chinese(
    client, db, users, standard_survey
):
    web = _login(client, db, users, "zh_CN")
    html = web.get(f"/surveys/{standard_survey.id}").text
    assert 'id="survey-template">标准满意度问卷<' in html
    assert "以英语编写" in html and "以English编写" not in html
    # the language select names the languages in the reader's language too
    assert '<option value="en" selected>英语</option>' in html
    # a section's code is labelled as one, not left bare beside the title
    assert re.search(r"<small class=\"muted\">代码：<code>product</code></small>", html)
    # dimension tags: the label, the code only as a tooltip
    # The dimension by its name in the page's language; its code is not shown, not even as a
    # tooltip (an English-looking code in the Chinese builder).
    assert '<span class="tag">价格</span>' in html
    assert "product.price" not in html.split('<span class="tag">价格</span>', 1)[0][-200:]
    assert '<span class="tag">product.price</span>' not in html


def test_translation_page_names_both_languages_in_chinese(client, db, users, small_survey):
    web = _login(client, db, users, "zh_CN")
    html = web.get(f"/surveys/{small_survey.id}/translate?lang=zh_CN").text
    assert "每条英语文字旁填写其简体中文版本" in html
    assert "<th>英语</th><th>简体中文</th>" in html and "<th>English</th>" not in html
