"""The customer timeline on the 360 page and on its own page: every kind of record in the
reader's language, the kind filter, older entries page by page (htmx appends them), bad
parameters refused with the field named."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import make_customer, make_order, make_product
from tests.factories.timeline import T0, make_story


@pytest.fixture
def story(db, users):
    return make_story(db, users)


def items(page_html: str) -> list[str]:
    """The text of each timeline entry, in order."""
    found = re.findall(r'<li class="event-[^"]*">(.*?)</li>', page_html, re.S)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", li))).strip() for li in found]


def test_the_360_page_shows_every_kind_in_english_and_chinese(web, db, story):
    c, complaint, _survey = story
    web.login("agent")
    r = web.get(f"/customers/{c.id}")
    assert r.status_code == 200
    shown = items(r.text[r.text.index('id="timeline-list"') :])
    assert len(shown) == 11
    assert "Email “We received your complaint”" in shown[0] and "Sent" in shown[0]
    assert "Win-back task: Ring Ann back" in shown[1]
    assert "Reached loyalty tier Gold" in shown[4] and "+120 points" in shown[5]
    assert "Answered the survey “Small survey”" in shown[6] and "NPS 6: detractor" in shown[6]
    assert f"Complaint {complaint.tracking_code} received" in shown[8]
    assert "Asked about the warranty" in shown[9] and "Order #" in shown[10]
    assert "Retention warning: Ann" not in r.text  # the owner's e-mail, not the customer's
    assert f'href="/complaints/{complaint.id}"' in r.text
    assert f'href="/customers/{c.id}/timeline"' in r.text  # the timeline's own page

    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    zh = items(web.get(f"/customers/{c.id}").text.split('id="timeline-list"', 1)[1])
    assert "电子邮件“We received your complaint”" in zh[0]
    assert "进入会员等级 金卡" in zh[4] and "+120 积分" in zh[5]
    assert "填写了问卷“小调查”" in zh[6] and "NPS 6：贬损者" in zh[6]
    assert f"已受理投诉 {complaint.tracking_code}" in zh[8] and "配送" in zh[8]


def test_the_timeline_page_filters_by_kind(web, db, story):
    c, *_ = story
    web.login("analyst")
    r = web.get(f"/customers/{c.id}/timeline")
    assert r.status_code == 200
    assert "<h1>Timeline</h1>" in r.text and 'id="timeline-kind"' in r.text
    assert 'option value="complaint"' in r.text and 'option value="email"' in r.text
    assert len(items(r.text)) == 11
    only = web.get(f"/customers/{c.id}/timeline?kind=survey")
    assert len(items(only.text)) == 1 and "Small survey" in items(only.text)[0]
    assert 'option value="survey" selected' in only.text
    # htmx (the filter changed): the box's content without the page around it.
    box = web.get(f"/customers/{c.id}/timeline?kind=loyalty", headers={"HX-Request": "true"})
    assert "<html" not in box.text and 'id="timeline-list"' in box.text
    assert len(items(box.text)) == 2


def test_older_entries_come_page_by_page(web, db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    p = make_product(db, unit_price=Decimal("5.00"), unit_cost=Decimal("1.00"))
    for i in range(55):
        make_order(db, c, lines=[(p, 1)], ordered_at=T0 + timedelta(hours=i), note=f"order {i}")
    db.commit()
    web.login("agent")
    first = web.get(f"/customers/{c.id}")
    shown = items(first.text)
    assert len(shown) == 50 and "order 54" in shown[0] and "order 5" in shown[-1]
    link = re.search(r'id="timeline-more"><a class="btn btn-sm" href="([^"]+)"', first.text)
    assert link, "no link to older entries"
    more = web.get(html.unescape(link.group(1)), headers={"HX-Request": "true"})
    assert more.status_code == 200 and "<ul" not in more.text and "<form" not in more.text
    rest = items(more.text)
    assert [s.split("order ")[-1] for s in rest] == ["4", "3", "2", "1", "0"]
    assert 'id="timeline-more"' not in more.text
    # Without JavaScript the link opens the timeline's page from there.
    page = web.get(html.unescape(link.group(1)))
    assert page.status_code == 200 and "<h1>Timeline</h1>" in page.text
    assert len(items(page.text)) == 5


def test_a_customer_with_nothing_says_so(web, db, users):
    c = make_customer(db)
    db.commit()
    web.login("agent")
    assert "Nothing recorded for this customer yet." in web.get(f"/customers/{c.id}").text
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    assert "该客户尚无任何记录。" in web.get(f"/customers/{c.id}/timeline").text


def test_bad_parameters_are_refused_naming_the_field(web, db, users):
    c = make_customer(db)
    db.commit()
    web.login("agent")
    bad_kind = web.get(f"/customers/{c.id}/timeline?kind=rumours")
    assert bad_kind.status_code == 422 and "rumours" in bad_kind.text
    bad_cursor = web.get(f"/customers/{c.id}/timeline?cursor=tomorrow")
    assert bad_cursor.status_code == 422 and "tomorrow" in bad_cursor.text
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    zh = web.get(f"/customers/{c.id}/timeline?cursor=tomorrow")
    assert zh.status_code == 422 and "“tomorrow”不是有效的时间线位置。" in zh.text
