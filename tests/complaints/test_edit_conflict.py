"""The complaint forms' stale-edit page compares three ways (web.conflict): two tabs on one
complaint's intake, SLA policy, business calendar or category, each changing something. The
second save lists only what the second tab changed, and "Apply my values" keeps the first
tab's change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retento.complaints.models import BusinessCalendarRow, Complaint, ComplaintCategory, SlaPolicy
from retento.complaints.service import category_by_code
from tests.factories.complaints import make_complaint
from tests.web.conflict_forms import form_of, form_post, rows_of
from tests.web.conftest import Browser


def _tab(client, users, db, locale: str = "en", role: str = "manager") -> Browser:
    users[role].locale = locale
    db.commit()
    web = Browser(client)
    web.login(role)
    return web


def _two(tab: Browser, url: str, post=form_of):
    return post(tab.get(url).text, url), post(tab.get(url).text, url)


@pytest.fixture
def complaint(db, users) -> Complaint:
    c = make_complaint(db, actor=users["admin"], purposes=["heard"])
    db.commit()
    return c


@pytest.mark.parametrize(("locale", "label"), [("en", "Subject"), ("zh_CN", "主题")])
def test_intake_other_field_listed_alone_and_both_changes_survive(
    client, users, db, complaint, locale, label
):
    tab = _tab(client, users, db, locale)
    url = f"/complaints/{complaint.id}/edit"
    first, second = _two(tab, url, form_post)
    assert second["base.purposes"] == "heard" and second["base.severity"] == "2"
    assert (
        tab.post(url, {**first, "severity": "3", "purposes": ["heard", "resolved"]}).status_code
        == 303
    )
    stale = tab.post(url, {**second, "subject": "Vase broken in transit"})
    assert stale.status_code == 409, stale.text
    assert rows_of(stale.text) == {"subject": ("Vase broken in transit", "Parcel arrived broken")}
    assert f'<th scope="row">{label}</th>' in stale.text
    db.expire_all()
    assert db.get(Complaint, complaint.id).subject == "Parcel arrived broken"  # nothing written
    again = form_post(stale.text, url)
    # The other tab's purposes (two ticked boxes) come back as they are stored now.
    assert again["purposes"] == ["heard", "resolved"] and again["severity"] == "3"
    assert tab.post(url, again).status_code == 303
    db.expire_all()
    c = db.get(Complaint, complaint.id)
    assert (c.subject, c.severity, sorted(c.purposes)) == (
        "Vase broken in transit", 3, ["heard", "resolved"],
    )  # fmt: skip


def test_intake_same_field_shows_both_values(client, users, db, complaint):
    tab = _tab(client, users, db)
    url = f"/complaints/{complaint.id}/edit"
    first, second = _two(tab, url, form_post)
    assert (
        tab.post(url, {**first, "root_cause": "courier damage", "emotion": "intense"}).status_code
        == 303
    )
    stale = tab.post(url, {**second, "root_cause": "packing"})
    assert stale.status_code == 409
    assert rows_of(stale.text) == {"root_cause": ("packing", "courier damage")}
    assert tab.post(url, form_post(stale.text, url)).status_code == 303
    db.expire_all()
    c = db.get(Complaint, complaint.id)
    assert (c.root_cause, c.emotion) == ("packing", "intense")


def test_intake_form_with_errors_keeps_the_values_it_was_loaded_with(client, users, db, complaint):
    tab = _tab(client, users, db)
    url = f"/complaints/{complaint.id}/edit"
    first, second = _two(tab, url, form_post)
    assert tab.post(url, {**first, "severity": "3"}).status_code == 303
    bad = tab.post(url, {**second, "subject": "", "root_cause": "packing"})
    assert bad.status_code == 422
    shown = form_post(bad.text, url)
    assert shown["version"] == second["version"]
    assert shown["base.severity"] == "2" and shown["base.subject"] == "Parcel arrived broken"
    stale = tab.post(url, {**shown, "subject": "Parcel arrived broken"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["root_cause"]
    assert tab.post(url, form_post(stale.text, url)).status_code == 303
    db.expire_all()
    c = db.get(Complaint, complaint.id)
    assert (c.severity, c.root_cause) == (3, "packing")


def test_calendar_days_merge_one_by_one(client, users, db):
    tab = _tab(client, users, db)
    cal = db.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.id)).first()
    url = f"/complaints/sla/calendars/{cal.id}"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "hours_1": "09:00-12:00"}).status_code == 303
    stale = tab.post(url, {**second, "hours_5": "10:00-14:00"})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert list(rows) == ["hours_5"] and rows["hours_5"] == ("10:00-14:00", "—")
    assert "Working hours · Saturday" in stale.text
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    hours = db.get(BusinessCalendarRow, cal.id).hours
    assert hours["1"] == [["09:00", "12:00"]] and hours["5"] == [["10:00", "14:00"]]


def test_policy_and_category_merge_field_by_field(client, users, db):
    tab = _tab(client, users, db)
    cal = db.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.id)).first()
    policy = {
        "name": "Fast lane", "severity": "", "value_class": "vip", "priority": "10",
        "first_response_minutes": "30", "resolution_minutes": "240", "warn_fraction": "0.75",
        "calendar_id": str(cal.id), "is_active": "1",
    }  # fmt: skip
    assert tab.post("/complaints/sla/policies", policy).status_code == 303
    p = db.scalar(select(SlaPolicy).where(SlaPolicy.name == "Fast lane"))
    url = f"/complaints/sla/policies/{p.id}"
    first, second = _two(tab, url)
    assert second["base.resolution_minutes"] == "4h"
    assert tab.post(url, {**first, "resolution_minutes": "5h"}).status_code == 303
    stale = tab.post(url, {**second, "priority": "5"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["priority"]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    p = db.get(SlaPolicy, p.id)
    assert (p.resolution_minutes, p.priority) == (300, 5)

    cat = category_by_code(db, "delivery")
    url = f"/complaints/categories/{cat.id}"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "name": "Shipping"}).status_code == 303
    stale = tab.post(url, {**second, "name_zh": "运输"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["name_zh"]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    c = db.get(ComplaintCategory, cat.id)
    assert (c.name, c.name_zh) == ("Shipping", "运输")
