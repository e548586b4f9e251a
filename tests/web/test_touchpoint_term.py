"""Touchpoints have one Chinese name, 客户触点 (SPEC §2), in every catalogue, menu, page and
filter: the menu, the list and the 360 timeline filter said 触点, the messages and errors
客户触点, and the segment feature 接触次数 — a reader looking for 客户触点 found half of them."""

from __future__ import annotations

import re

from retento.web.i18n import translations
from tests.factories import make_customer, make_touchpoint
from tests.web.test_i18n import zh_catalogs

TERM = "客户触点"
# CLI help that lists the literal values to type (customers, products, touchpoints, ...).
LITERAL_VALUES = re.compile(r"\btouchpoints\b")


def test_every_chinese_text_about_touchpoints_says_the_one_term():
    loose, missing = [], []
    for msg in (m for cat in zh_catalogs() for m in cat):
        if not msg.id or not msg.string:
            continue
        msgid = msg.id if isinstance(msg.id, str) else msg.id[0]
        text = msg.string if isinstance(msg.string, str) else "".join(msg.string)
        if re.search(r"(?<!客户)触点", text) or "接触次数" in text:
            loose.append((msgid, text))
        if "touchpoint" in msgid.lower() and TERM not in text and not LITERAL_VALUES.search(text):
            missing.append((msgid, text))
    assert loose == [] and missing == []
    zh = translations("zh_CN")
    for msgid in ("Touchpoint", "Touchpoints", "Record touchpoint", "See touchpoints"):
        assert TERM in zh.gettext(msgid), msgid


def _menu_label(html: str) -> str:
    m = re.search(r'<a href="/touchpoints" class="[^"]*">([^<]+)</a>', html)
    assert m, "no menu link to the touchpoint list"
    return m.group(1)


def _kind_option(html: str) -> str:
    m = re.search(
        r'<select id="timeline-kind".*?<option value="touchpoint"[^>]*>([^<]+)<', html, re.S
    )
    assert m, "the timeline filter offers no touchpoint kind"
    return m.group(1)


def _check(web, db, users, lang: str, term: str, one: str) -> None:
    c = make_customer(db, name="Term Probe")
    make_touchpoint(db, c)
    db.flush()
    web.login("manager")
    web.post("/locale", data={"lang": lang, "next": "/touchpoints"})
    page = web.get("/touchpoints")
    assert page.status_code == 200
    assert _menu_label(page.text) == term
    assert re.search(r"<h1>([^<]+)</h1>", page.text).group(1) == term
    detail = web.get(f"/customers/{c.id}")
    assert _kind_option(detail.text) == term
    # the filter chosen under that name lists the touchpoint, named the same
    only = web.get(f"/customers/{c.id}/timeline", params={"kind": "touchpoint"})
    assert only.status_code == 200
    assert 'class="event-touchpoint"' in only.text
    assert f'<span class="dot dot-touchpoint" title="{one}">' in only.text


def test_menu_list_and_timeline_filter_in_chinese(web, db, users):
    _check(web, db, users, "zh_CN", TERM, TERM)


def test_menu_list_and_timeline_filter_in_english(web, db, users):
    _check(web, db, users, "en", "Touchpoints", "Touchpoint")
