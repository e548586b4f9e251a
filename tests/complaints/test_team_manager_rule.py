"""QA findings on complaints: an agent may put a new complaint only into their own team (API),
duplicate weekday keys of a calendar are refused, "Reopened once" reads right, the public
status page follows ``?lang=`` and the customer's language, and the notes the system writes
into a complaint's timeline are shown in the reader's language."""

from __future__ import annotations

import re

from retento.complaints import service
from retento.complaints.models import Complaint, ComplaintEvent
from retento.complaints.schemas import TransitionIn
from tests.factories import make_customer, make_user
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

BASE = "/api/v1/complaints"


def _create(client, headers, cust_id, **over):
    body = {
        "customer_id": cust_id,
        "category": "delivery",
        "channel": "phone",
        "subject": "Late delivery",
        "description": "Promised Monday, arrived Friday.",
        "severity": 2,
        **over,
    }
    return client.post(BASE, json=body, headers=headers)


def test_agent_may_not_set_another_team_s_manager(client, db, users, tokens):
    cust = make_customer(db)
    db.commit()
    before = db.query(Complaint).count()
    for other in (users["manager"].id, users["analyst"].id):
        r = _create(client, tokens["agent"], cust.id, team_manager_id=other)
        assert r.status_code == 403, r.text
        problem = r.json()
        assert problem["field"] == "team_manager_id"
        assert problem["permission"] == "complaint:assign"
        assert "team_manager_id" in problem["detail"]
    assert db.query(Complaint).count() == before  # nothing half-written
    zh = {**tokens["agent"], "Accept-Language": "zh-CN"}
    r = _create(client, zh, cust.id, team_manager_id=users["manager"].id)
    assert r.status_code == 403 and "专员只能将 team_manager_id 设为自己或自己的经理" in r.text


def test_agent_may_set_their_own_team(client, db, users, tokens):
    agent = users["agent"]
    agent.manager_id = users["manager"].id
    cust = make_customer(db)
    db.commit()
    for team in (users["manager"].id, agent.id, None):
        over = {} if team is None else {"team_manager_id": team}
        r = _create(client, tokens["agent"], cust.id, **over)
        assert r.status_code == 201, r.text
        want = users["manager"].id if team is None else team
        assert r.json()["team_manager_id"] == want and r.json()["assignee_id"] == agent.id


def test_managers_set_any_team(client, db, users, tokens):
    other_lead = make_user(db, role="manager")
    cust = make_customer(db)
    db.commit()
    r = _create(client, tokens["manager"], cust.id, team_manager_id=other_lead.id)
    assert r.status_code == 201 and r.json()["team_manager_id"] == other_lead.id


def test_two_keys_for_one_weekday_are_refused(client, db, users, tokens):
    for hours in (
        {"0": [["09:00", "17:00"]], "00": [["10:00", "11:00"]]},
        {"4": [["09:00", "17:00"]], "４": [["10:00", "11:00"]]},
    ):
        r = client.post(
            f"{BASE}/calendars",
            json={"name": "Twice Monday", "timezone": "UTC", "hours": hours},
            headers=tokens["admin"],
        )
        assert r.status_code == 422, r.text
        (err,) = r.json()["errors"]
        assert err["field"] == "hours" and "a weekday is given twice" in err["message"]
    zh = {**tokens["admin"], "Accept-Language": "zh-CN"}
    r = client.post(
        f"{BASE}/calendars",
        json={"name": "Twice", "timezone": "UTC", "hours": {"1": [], "01": []}},
        headers=zh,
    )
    assert r.status_code == 422 and "出现了两次" in r.text
    ok = client.post(
        f"{BASE}/calendars",
        json={"name": "Once each", "timezone": "UTC", "hours": {"0": [["09:00", "17:00"]]}},
        headers=tokens["admin"],
    )
    assert ok.status_code == 201 and ok.json()["hours"] == {"0": [["09:00", "17:00"]]}


def _reopen(db, c, actor):
    for action in ("start", "resolve", "reopen"):
        service.apply_transition(db, c.id, TransitionIn(action=action, note="x"), actor=actor)


def test_reopened_once_and_twice_read_right(client, db, users):
    m = users["manager"]
    c = make_complaint(db, m)
    _reopen(db, c, m)
    db.commit()
    web = Browser(client)
    web.login("manager")
    html = web.get(f"/complaints/{c.id}").text
    assert "Reopened once" in html and "1 times" not in html
    service.apply_transition(db, c.id, TransitionIn(action="resolve", note="x"), actor=m)
    service.apply_transition(db, c.id, TransitionIn(action="reopen"), actor=m)
    db.commit()
    assert "Reopened 2 times" in web.get(f"/complaints/{c.id}").text
    m.locale = "zh_CN"
    db.commit()
    assert "已重新打开 2 次" in web.get(f"/complaints/{c.id}").text


def _status_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def test_public_status_page_follows_lang_then_the_customer(client, db, users):
    zh_customer = make_customer(db, custom_fields={"language": "zh_CN"})
    en_customer = make_customer(db, custom_fields={"language": "en"})
    c_zh = make_complaint(db, users["manager"], customer_id=zh_customer.id)
    c_en = make_complaint(db, users["manager"], customer_id=en_customer.id)
    db.commit()
    en_browser = {"Accept-Language": "en-US,en;q=0.9"}
    page = client.get(f"/complain/status/{c_en.tracking_code}?lang=zh_CN", headers=en_browser)
    assert page.status_code == 200 and _status_lang(page.text) == "zh-CN"
    assert "查询码" in page.text and "Tracking code" not in page.text
    assert '/reply?lang=zh_CN"' in page.text
    page = client.get(f"/complain/status/{c_zh.tracking_code}", headers=en_browser)
    assert _status_lang(page.text) == "zh-CN"  # the customer's language
    page = client.get(f"/complain/status/{c_zh.tracking_code}?lang=en", headers=en_browser)
    assert _status_lang(page.text) == "en" and "Tracking code" in page.text
    page = client.get(f"/complain/status/{c_en.tracking_code}", headers={"Accept-Language": "zh"})
    assert _status_lang(page.text) == "en"


def test_system_notes_in_the_timeline_are_shown_in_the_reader_s_language(client, db, users):
    m = users["manager"]
    c = make_complaint(db, m)
    for action in ("start", "resolve"):
        service.apply_transition(db, c.id, TransitionIn(action=action, note="x"), actor=m)
    # the notes as ``followup.answer_survey`` and the SLA job store them (no actor) in an
    # installation whose language is Chinese and one whose language is English
    service.apply_transition(
        db, c.id, TransitionIn(action="reopen", note="客户不满意（满意度 2）。"), actor=None
    )
    db.flush()
    db.add(
        ComplaintEvent(
            complaint_id=c.id,
            customer_id=c.customer_id,
            kind="assignment",
            body="Reassigned automatically after an SLA breach.",
            data={"assignee_id": m.id},
            actor_name="system",
        )
    )
    db.commit()
    web = Browser(client)
    web.login("manager")
    en = web.get(f"/complaints/{c.id}").text
    assert "Customer not satisfied (CSAT 2)." in en and "客户不满意" not in en
    assert "Reassigned automatically after an SLA breach." in en
    m.locale = "zh_CN"
    db.commit()
    zh = web.get(f"/complaints/{c.id}").text
    assert "Customer not satisfied" not in zh and "Reassigned automatically" not in zh
    assert "客户不满意（满意度 2）。" in zh and "超出服务时限后已自动改派。" in zh
