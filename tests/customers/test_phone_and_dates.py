"""What QA typed into the forms and got saved: a phone "abc-not-phone" (a search by its digits can
never find the customer), a customer since 2031, a touchpoint on 2030-01-01. Now each is a 422
naming the field, in the reader's language, and nothing is saved. What is stored already is
shown as it is."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from retento.customers.models import Contact, Customer
from retento.touchpoints.models import Touchpoint
from tests.customers.test_versions import _edit_form
from tests.factories import make_customer, make_touchpoint
from tests.web.conftest import Browser

GOOD_PHONES = [
    "+86 138 0013 8000",
    "010-12345678转123",
    "(555) 010-0100 x12",
    "+1 555 123 4567 x89",
    "021.5555.0100",
    "13800138000",
]
BAD_PHONES = [
    "abc-not-phone",
    "call me",
    "12",
    "一三八",
    "+86 138 0013 8000 12345678901",
    "55x5123",
]


@pytest.mark.parametrize("phone", GOOD_PHONES)
def test_phones_people_write_are_accepted(client, tokens, phone):
    r = client.post(
        "/api/v1/customers",
        json={"name": f"Phone ok {phone}", "phone": phone},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["phone"] == phone


@pytest.mark.parametrize("phone", BAD_PHONES)
def test_text_that_is_not_a_phone_is_refused(client, tokens, db, phone):
    h = tokens["manager"]
    r = client.post("/api/v1/customers", json={"name": "Phone bad", "phone": phone}, headers=h)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["phone"]
    contact = {"name": "Li", "phone": phone}
    r = client.post(
        "/api/v1/customers", json={"name": "Contact bad", "contacts": [contact]}, headers=h
    )
    assert r.status_code == 422 and "phone" in r.json()["errors"][0]["field"]
    assert db.query(Customer).filter(Customer.name.in_(["Phone bad", "Contact bad"])).count() == 0


def test_a_phone_stored_before_the_check_is_still_shown_and_kept(client, tokens, db):
    c = make_customer(db, name="Old data", phone="ask reception")
    db.add(Contact(customer_id=c.id, name="Wu", phone="ext reception"))
    db.commit()
    h = tokens["manager"]
    r = client.get(f"/api/v1/customers/{c.id}", headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "ask reception"
    assert r.json()["contacts"][0]["phone"] == "ext reception"
    # An edit of another field leaves it alone; an edit of the phone is checked.
    r = client.patch(f"/api/v1/customers/{c.id}", json={"city": "Suzhou"}, headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "ask reception"
    r = client.patch(f"/api/v1/customers/{c.id}", json={"phone": "reception"}, headers=h)
    assert r.status_code == 422


def test_customer_since_a_future_date_is_refused(client, tokens, db):
    h = tokens["manager"]
    today = datetime.now(UTC).date()
    future = (today + timedelta(days=30)).isoformat()
    r = client.post("/api/v1/customers", json={"name": "Future", "acquired_on": future}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "acquired_on"
    # Tomorrow passes (a client ahead of UTC), and the past of course.
    for name, day in (("Since A", today + timedelta(days=1)), ("Since B", date(2019, 5, 1))):
        r = client.post(
            "/api/v1/customers", json={"name": name, "acquired_on": day.isoformat()}, headers=h
        )
        assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = client.patch(f"/api/v1/customers/{cid}", json={"acquired_on": future}, headers=h)
    assert r.status_code == 422
    assert db.query(Customer).filter_by(name="Future").count() == 0


def test_the_customer_form_names_both_in_chinese(client, users, db):
    users["agent"].locale = "zh_CN"
    db.flush()
    web = Browser(client)
    web.login("agent")
    r = web.post(
        "/customers/new",
        {"name": "QA 未来客户", "phone": "abc-not-phone", "acquired_on": "2031-01-01"},
    )
    assert r.status_code == 422
    errors = re.findall(r'class="field-error"[^>]*>([^<]*)<', r.text)
    assert any("不是电话号码" in e for e in errors), errors
    assert "is not a phone number" not in r.text and "lies in the future" not in r.text
    assert db.query(Customer).filter_by(name="QA 未来客户").count() == 0


def _touchpoint_body(customer_id: int, at: datetime) -> dict:
    return {
        "customer_id": customer_id,
        "occurred_at": at.isoformat(),
        "channel": "phone",
        "stage": "after_sales",
    }


def test_a_touchpoint_in_the_future_is_refused(client, tokens, db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    db.commit()
    h = tokens["agent"]
    now = datetime.now(UTC)
    r = client.post(
        "/api/v1/touchpoints", json=_touchpoint_body(c.id, now + timedelta(days=1)), headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "occurred_at"
    # A client clock a minute fast is not a typing error.
    r = client.post(
        "/api/v1/touchpoints", json=_touchpoint_body(c.id, now + timedelta(minutes=1)), headers=h
    )
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    r = client.patch(
        f"/api/v1/touchpoints/{tid}", json={"occurred_at": "2030-01-01T10:00:00+08:00"}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "occurred_at"
    assert db.query(Touchpoint).filter_by(customer_id=c.id).count() == 1


def test_the_touchpoint_form_says_so_in_chinese(client, users, db):
    c = make_customer(db, owner_id=users["agent"].id)
    t = make_touchpoint(db, c)
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    form = _edit_form(web, f"/touchpoints/{t.id}/edit")
    bad = web.post(f"/touchpoints/{t.id}/edit", {**form, "occurred_at": "2030-01-01T10:00"})
    assert bad.status_code == 422 and "不能晚于现在" in bad.text
    assert "lies in the future" not in bad.text
    db.expire_all()
    assert db.get(Touchpoint, t.id).version == 1
