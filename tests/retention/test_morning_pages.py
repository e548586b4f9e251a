"""What a QA pass of the retention manager's morning found on the pages, in both languages:

- a churn risk with no reason that stands out (``churn_reasons == []``: nothing adds a point
  against a typical customer) showed "—" on the at-risk list, nothing on the 360 page, and the
  dashboard's reasons chart counted 1,061 of 1,713 customers at high risk without a word (or
  said "No customer is at high risk" when none had a reason);
- the playbook form refused the control share it showed (0 %, the demo's complaint playbook:
  ``min="0.01"`` while the service takes 0 = no control group), so the playbook could not be
  saved in a browser;
- the tab counts vanished on the playbook and rule pages;
- the rule list wrote its classes "重要客户, 普通客户", the at-risk plan "…挽回 (负责人任务)".
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from retento.retention.defaults import ensure_defaults
from retento.retention.models import RetentionPlaybook
from tests.factories import make_customer
from tests.retention.helpers import make_alert, make_run
from tests.web.conftest import Browser

NO_REASON_EN = (
    "No reason stands out: none of this customer’s figures raises the risk by one percentage "
    "point or more compared with a typical customer’s."
)
NO_REASON_ZH = (
    "没有突出的原因：与典型客户相比，该客户没有任何一项指标使流失风险升高 1 个百分点或以上。"
)
LAPSED = {"code": "lapsed", "params": {"since": 152.0, "gap": 42.0}}


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _scores(db, users, reasons: list) -> dict:
    """A run with two customers at high risk, ``reasons`` for the first, none for the second."""
    owner = users["manager"].id
    told = make_customer(db, name="Told Reason", owner_id=owner)
    quiet = make_customer(db, name="Quiet Risk", owner_id=owner)
    common = {"value_class": "vip", "clv": 1000, "value_at_risk": 700, "p_alive": 0.5}
    make_run(
        db,
        {
            told.id: {**common, "churn_risk": 0.8, "churn_reasons": reasons,
                      "churn_top_reason": reasons[0]["code"] if reasons else None},
            quiet.id: {**common, "churn_risk": 0.7, "churn_reasons": [],
                       "churn_top_reason": None, "last_order_on": date(2025, 1, 2)},
        },
    )  # fmt: skip
    db.commit()
    return {"told": told, "quiet": quiet}


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())


@pytest.mark.parametrize(("locale", "no_reason"), [("en", NO_REASON_EN), ("zh_CN", NO_REASON_ZH)])
def test_a_risk_with_no_reason_says_so(web, db, users, locale, no_reason):
    c = _scores(db, users, [LAPSED])
    users["manager"].locale = locale
    db.commit()
    web.login("manager")
    quiet = _text(web.get(f"/customers/{c['quiet'].id}").text)
    assert no_reason in quiet
    assert no_reason not in _text(web.get(f"/customers/{c['told'].id}").text)
    at_risk = web.get("/retention/at-risk").text
    row = re.search(rf'<tr>\s*<td><a href="/customers/{c["quiet"].id}">.*?</tr>', at_risk, re.S)
    assert ("No reason stands out" if locale == "en" else "无突出原因") in row.group(0)
    dashboard = web.get("/retention").text
    note = re.search(r'id="reasons-unexplained">(.*?)</p>', dashboard, re.S).group(1)
    assert ("Customers at high risk with no reason that stands out: 1." in note) == (locale == "en")
    assert ("无突出原因的高风险客户：1 位。" in note) == (locale == "zh_CN")


def test_high_risk_without_any_reason_is_not_called_no_risk(web, db, users):
    _scores(db, users, [])
    web.login("manager")
    page = web.get("/retention").text
    card = re.search(r'id="risk-reasons">(.*?)</section>', page, re.S).group(1)
    assert "No customer is at high risk." not in card
    assert "Customers at high risk with no reason that stands out: 2." in _text(card)


def test_every_reason_accounted_for_shows_no_note(web, db, users):
    c = _scores(db, users, [LAPSED])
    from retento.scoring.models import CustomerScore

    quiet = db.scalar(select(CustomerScore).where(CustomerScore.customer_id == c["quiet"].id))
    quiet.churn_risk = 0.2  # below "high": only the told customer is at high risk
    db.commit()
    web.login("manager")
    assert 'id="reasons-unexplained"' not in web.get("/retention").text


def test_the_playbook_form_accepts_the_control_share_it_shows(web, db, users):
    """Each number of the form lies within the bounds the form itself sets (the browser refuses
    to send it otherwise), for every default playbook, the 0 % one included."""
    ensure_defaults(db)
    db.commit()
    web.login("manager")
    books = db.scalars(select(RetentionPlaybook)).all()
    assert 0.0 in {b.control_share for b in books}
    for book in books:
        page = web.get(f"/retention/playbooks/{book.id}").text
        for tag in re.findall(r'<input id="f-[a-z_]+" name="[a-z_]+" type="number"[^>]*>', page):
            value = float(re.search(r'value="([^"]*)"', tag).group(1))
            low = re.search(r'min="([^"]*)"', tag)
            high = re.search(r'max="([^"]*)"', tag)
            assert low is None or float(low.group(1)) <= value, (book.name_en, tag)
            assert high is None or value <= float(high.group(1)), (book.name_en, tag)


def test_playbook_and_rule_pages_keep_the_tab_counts(web, db, users):
    manager = users["manager"]
    make_alert(db, make_customer(db, owner_id=manager.id).id, owner_id=manager.id)
    ensure_defaults(db)
    db.commit()
    web.login("manager")
    book = db.scalars(select(RetentionPlaybook)).first()
    for url in (
        "/retention",
        "/retention/alerts",
        "/retention/playbooks",
        f"/retention/playbooks/{book.id}",
        "/retention/playbooks/new",
        "/retention/rules",
        "/retention/rules/rhythm",
    ):
        tabs = re.search(r'<nav class="actions retention-tabs".*?</nav>', web.get(url).text, re.S)
        alerts_tab = re.search(r'data-tab="alerts"[^>]*>(.*?)</a>', tabs.group(0), re.S).group(1)
        assert re.search(r'<span class="badge[^"]*"[^>]*>1</span>', alerts_tab), url


def test_chinese_lists_use_chinese_punctuation(web, db, users):
    from retento.retention import service

    ensure_defaults(db)
    c = _scores(db, users, [LAPSED])
    users["manager"].locale = "zh_CN"
    db.commit()
    service.get_config(db)
    web.login("manager")
    rules = web.get("/retention/rules").text
    row = re.search(r'<tr id="rule-rhythm">(.*?)</tr>', rules, re.S).group(1)
    assert "重要客户、普通客户、小客户" in row and ", " not in _text(row)
    at_risk = web.get("/retention/at-risk").text
    plan = re.search(
        rf'<a href="/customers/{c["told"].id}">.*?<td class="plan">(.*?)</td>', at_risk, re.S
    ).group(1)
    assert "重要客户：全力挽回（负责人任务）" in plan
