"""Stale edits of the complaint settings (migration 0034): two managers editing one SLA policy,
business calendar or category in two tabs. The second save used to overwrite the first silently
(and the open complaints' due times followed whichever came last); now it gets the conflict page
(409) in the browser and 409 ``version_conflict`` from the API, with nothing written."""

from __future__ import annotations

import re

from sqlalchemy import select

from retento.complaints.models import BusinessCalendarRow, ComplaintCategory, SlaPolicy
from retento.complaints.service import category_by_code
from tests.factories import make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import statuses
from tests.web.conftest import Browser


def _tab(client, role: str = "manager") -> Browser:
    web = Browser(client)
    web.login(role)
    return web


def _version_in(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def _calendar(db) -> BusinessCalendarRow:
    return db.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.id)).first()


def _policy_form(db, **over) -> dict:
    cal = _calendar(db)
    form = {
        "name": "Fast lane", "severity": "", "value_class": "vip", "priority": "10",
        "first_response_minutes": "30", "resolution_minutes": "240", "warn_fraction": "0.75",
        "calendar_id": str(cal.id), "is_active": "1",
    }  # fmt: skip
    return {**form, **over}


def test_second_tab_saving_a_policy_gets_the_conflict_page(client, db, users):
    web = _tab(client)
    assert web.post("/complaints/sla/policies", _policy_form(db)).status_code == 303
    p = db.scalar(select(SlaPolicy).where(SlaPolicy.name == "Fast lane"))
    url = f"/complaints/sla/policies/{p.id}"
    one, two = _version_in(web.get(url).text), _version_in(web.get(url).text)
    first = web.post(url, _policy_form(db, resolution_minutes="300", version=one))
    assert first.status_code == 303, first.text
    second = web.post(url, _policy_form(db, resolution_minutes="600", version=two))
    assert second.status_code == 409 and "Resolution" in second.text
    db.expire_all()
    p = db.get(SlaPolicy, p.id)
    assert p.resolution_minutes == 300 and p.version == 2


def test_second_tab_saving_a_calendar_gets_the_conflict_page(client, db, users):
    web = _tab(client)
    cal = _calendar(db)
    url = f"/complaints/sla/calendars/{cal.id}"
    one, two = _version_in(web.get(url).text), _version_in(web.get(url).text)
    form = {"name": cal.name, "timezone": "UTC", "hours_0": "09:00-17:00"}
    assert web.post(url, {**form, "hours_1": "09:00-12:00", "version": one}).status_code == 303
    stale = web.post(url, {**form, "hours_1": "13:00-18:00", "version": two})
    assert stale.status_code == 409 and "Working hours" in stale.text
    db.expire_all()
    assert db.get(BusinessCalendarRow, cal.id).hours["1"] == [["09:00", "12:00"]]


def test_second_tab_saving_a_category_gets_the_conflict_page_in_chinese(client, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = _tab(client)
    cat = category_by_code(db, "delivery")
    url = f"/complaints/categories/{cat.id}"
    one, two = _version_in(web.get(url).text), _version_in(web.get(url).text)
    assert web.post(url, {"name": "Shipping", "is_active": "1", "version": one}).status_code == 303
    stale = web.post(url, {"name": "Transport", "is_active": "1", "version": two})
    assert stale.status_code == 409 and "其他人修改了" in stale.text
    db.expire_all()
    assert db.get(ComplaintCategory, cat.id).name == "Shipping"


def test_a_parent_that_is_no_category_id_is_refused_not_read_as_top_level(client, db, users):
    """ "abc" or "-1" as the parent moved the category to the top level without a word."""
    web = _tab(client)
    delivery = category_by_code(db, "delivery")
    assert web.post("/complaints/categories", {"code": "delivery.late2", "name": "Late",
                                               "parent_id": str(delivery.id)}).status_code == 303  # fmt: skip
    late = category_by_code(db, "delivery.late2")
    for typed in ("abc", "-1", "9223372036854775808"):
        r = web.post(
            f"/complaints/categories/{late.id}",
            {"name": "Late", "parent_id": typed, "is_active": "1"},
        )
        assert r.status_code == 422 and "This parent category does not exist." in r.text, typed
        created = web.post(
            "/complaints/categories", {"code": "x.y", "name": "X", "parent_id": typed}
        )
        assert created.status_code == 422, typed
    db.expire_all()
    assert db.get(ComplaintCategory, late.id).parent_id == delivery.id
    assert category_by_code(db, "x.y") is None


def test_api_if_match_and_version_on_policies_calendars_and_categories(client, db, tokens):
    mh = tokens["manager"]
    cal = client.get("/api/v1/complaints/calendars", headers=mh).json()[0]
    assert cal["version"] == 1
    body = {k: cal[k] for k in ("name", "timezone", "hours", "holidays")}
    url = f"/api/v1/complaints/calendars/{cal['id']}"
    ok = client.put(
        url, json={**body, "holidays": ["2026-10-01"]}, headers={**mh, "If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"', ok.text
    stale = client.put(url, json={**body, "holidays": []}, headers={**mh, "If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"

    cats = client.get("/api/v1/complaints/categories", headers=mh).json()
    cat = cats[0]
    c_url = f"/api/v1/complaints/categories/{cat['id']}"
    assert (
        client.patch(c_url, json={"name": "Renamed", "version": 1}, headers=mh).status_code == 200
    )
    again = client.patch(c_url, json={"name": "Again", "version": 1}, headers=mh)
    assert again.status_code == 409 and again.json()["current_version"] == 2

    pol = client.post(
        "/api/v1/complaints/sla-policies",
        json={"name": "API lane", "first_response_minutes": 30, "resolution_minutes": 120,
              "calendar_id": cal["id"]},
        headers=mh,
    ).json()  # fmt: skip
    p_url = f"/api/v1/complaints/sla-policies/{pol['id']}"
    first = client.patch(p_url, json={"priority": 5}, headers={**mh, "If-Match": '"1"'})
    assert first.status_code == 200 and first.json()["version"] == 2
    second = client.patch(p_url, json={"priority": 7}, headers={**mh, "If-Match": '"1"'})
    assert second.status_code == 409
    assert client.patch(p_url, json={"priority": 9}, headers=mh).status_code == 200  # no version


def test_parallel_saves_of_one_policy_version_one_wins(live_pg):
    with live_pg.session() as s:
        manager = make_user(s, role="manager")
        cal = s.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.id)).first()
        p = SlaPolicy(name="Race lane", priority=10, first_response_minutes=30,
                      resolution_minutes=240, calendar_id=cal.id)  # fmt: skip
        s.add(p)
        s.commit()
        policy_id, cal_id, username = p.id, cal.id, manager.username
    n = 8
    tabs = []
    for _ in range(n):
        b = Browser(live_pg.client())
        assert b.login(username).status_code == 303
        tabs.append(b)
    form = {"name": "Race lane", "priority": "10", "first_response_minutes": "30",
            "warn_fraction": "0.8", "calendar_id": str(cal_id), "is_active": "1", "version": "1"}  # fmt: skip

    def save(i: int) -> int:
        url = f"/complaints/sla/policies/{policy_id}"
        return tabs[i].post(url, {**form, "resolution_minutes": str(300 + i)}).status_code

    results = run_parallel(n, save)
    assert statuses(results) == {303: 1, 409: n - 1}, results
    with live_pg.session() as s:
        p = s.get(SlaPolicy, policy_id)
        assert p.version == 2 and p.resolution_minutes == 300 + results.index(303)
