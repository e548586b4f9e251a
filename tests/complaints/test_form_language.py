"""Complaint forms and pages punctuate for the reader's language: Chinese takes full-width
question marks and colons ("客户想要什么？", "策略：…"), English its own (QA saw "客户想要什么?" and
label-colon pairs glued together with an ASCII colon in Chinese pages)."""

from __future__ import annotations

import html
import re

import pytest

from retento.complaints import improvements
from retento.complaints.schemas import ImprovementCreate
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

# A Chinese character followed by ASCII punctuation that Chinese writes full-width.
ASCII_AFTER_CJK = re.compile(r"[\u4e00-\u9fff][?:;!]( |<|$)")


def _as(client, db, users, role: str, locale: str) -> Browser:
    users[role].locale = locale
    db.commit()
    web = Browser(client)
    assert web.login(role).status_code == 303
    return web


def _text(page: str) -> str:
    """The page's content as shown (tags and scripts out, entities decoded)."""
    main = page.split("<main", 1)[1]
    main = re.sub(r"<script.*?</script>", "", main, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


@pytest.mark.parametrize(
    ("locale", "question"), [("zh_CN", "客户想要什么？"), ("en", "What does the customer want?")]
)
def test_complaint_form_asks_what_the_customer_wants_in_the_readers_punctuation(
    client, db, users, locale, question
):
    cust = make_customer(db, name="Form Customer")
    web = _as(client, db, users, "agent", locale)
    page = web.get(f"/complaints/new?customer_id={cust.id}")
    assert page.status_code == 200
    assert f'<div class="fieldset-title">{question}</div>' in page.text
    if locale == "zh_CN":
        assert "客户想要什么?" not in page.text
        assert ASCII_AFTER_CJK.findall(_text(page.text)) == []


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_complaint_pages_join_labels_and_values_with_the_languages_colon(client, db, users, locale):
    cust = make_customer(db, name="Label Customer")
    c = make_complaint(db, users["manager"], customer_id=cust.id, subject="Lid cracked")
    a = improvements.create_improvement(
        db,
        ImprovementCreate(title="Stronger lids", root_cause="lid too loose", plan="New supplier"),
        actor=users["manager"],
    )
    web = _as(client, db, users, "manager", locale)
    detail = _text(web.get(f"/complaints/{c.id}").text)
    edit = _text(web.get(f"/complaints/{c.id}/edit").text)
    improvement = _text(web.get(f"/complaints/improvements/{a.id}").text)
    sla = _text(web.get("/complaints/sla").text)
    public = Browser(client)
    public.client.cookies.clear()
    accept = {"accept-language": "zh-CN" if locale == "zh_CN" else "en"}
    status = _text(public.get(f"/complain/status/{c.tracking_code}", headers=accept).text)
    if locale == "zh_CN":
        assert re.search(r"策略：\S", detail) and re.search(r"日历：\S", detail)
        assert "首次响应期限：" in edit and "解决期限：" in edit
        assert "根本原因：" in improvement
        assert re.search(r"星期一：\s*\d\d:\d\d", sla)
        assert re.search(r"状态：\s*\S", status)
        for page in (detail, edit, improvement, sla, status):
            assert ASCII_AFTER_CJK.findall(page) == []
    else:
        assert re.search(r"Policy: \S", detail) and re.search(r"Calendar: \S", detail)
        assert "First response due: " in edit and "Resolution due: " in edit
        assert "Root cause: " in improvement
        assert re.search(r"Monday: \d\d:\d\d", sla)
        assert re.search(r"Status:\s+\S", status)
