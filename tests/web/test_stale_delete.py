"""A delete from a page loaded before someone else saved the record deletes nothing (QA F3:
"delete buttons carry no version"). Two browser sessions: B opens the page, A saves an edit,
B presses Delete from its older page → 409 saying what changed and who changed it, the record
still there with A's edit; a delete from a fresh page works. The API's DELETE honours If-Match
as PATCH does. Retention playbooks and saved segments showed a flash and a redirect instead:
the same 409 page now. Survey questions, sections and surveys: tests/surveys/test_stale_delete.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from retento.insights.models import InsightSegment
from retento.journey import service as journey
from retento.journey.models import ExperienceRecord
from retento.journey.schemas import ExperienceCreate
from retento.loyalty.models import LoyaltyTier
from retento.orders.models import Order
from retento.products.models import Product
from retento.retention.models import RetentionPlaybook
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_order, make_product, make_touchpoint
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser


@contextmanager
def two_sessions(client, db, users, *, b_locale: str = "en") -> Iterator[tuple[Browser, Browser]]:
    """A (the manager) and B (the admin, reading ``b_locale``), each in a browser of its own."""
    users["admin"].locale = b_locale
    db.commit()
    a = Browser(client)
    assert a.login("manager").status_code == 303
    with TestClient(client.app) as other:
        b = Browser(other)
        assert b.login("admin").status_code == 303
        yield a, b


def _gone(db, model, key) -> bool:
    db.expire_all()
    return db.query(model).filter_by(id=key).count() == 0


def _experience(db, users) -> ExperienceRecord:
    c = make_customer(db, owner_id=users["manager"].id)
    e = journey.create_experience(
        db, ExperienceCreate(customer_id=c.id, mode="feel", rating=3, note="orig", stage="order"),
        actor=users["manager"],
    )  # fmt: skip
    db.commit()
    return e


def test_experience_stale_delete_is_refused_and_a_fresh_one_deletes(client, db, users):
    e = _experience(db, users)
    eid = e.id
    edit, delete = f"/experiences/{e.id}/edit", f"/experiences/{e.id}/delete"
    with two_sessions(client, db, users) as (a, b):
        stale = form_of(b.get(edit).text, delete)
        assert stale["version"] == "1"
        mine = form_of(a.get(edit).text, edit)
        assert a.post(edit, {**mine, "note": "A changed the note"}).status_code == 303

        r = b.post(delete, stale)
        assert r.status_code == 409, r.text
        assert "Nothing was deleted" in r.text
        assert "version 1; it is now at version 2" in r.text
        assert rows_of(r.text)["note"] == ("orig", "A changed the note")
        assert "manager" in r.text  # who changed it, from the audit log
        db.expire_all()
        assert db.get(ExperienceRecord, e.id).note == "A changed the note"

        fresh = form_of(b.get(edit).text, delete)
        assert fresh["version"] == "2"
        assert b.post(delete, fresh).status_code == 303
        assert _gone(db, ExperienceRecord, eid)


def test_experience_delete_anyway_from_the_conflict_page(client, db, users):
    e = _experience(db, users)
    eid = e.id
    edit, delete = f"/experiences/{e.id}/edit", f"/experiences/{e.id}/delete"
    with two_sessions(client, db, users) as (a, b):
        stale = form_of(b.get(edit).text, delete)
        assert a.post(edit, {**form_of(a.get(edit).text, edit), "rating": "1"}).status_code == 303
        page = b.post(delete, stale)
        assert page.status_code == 409 and rows_of(page.text)["rating"][1] == "1"
        again = form_of(page.text, delete)
        assert again["version"] == "2"
        assert b.post(delete, again).status_code == 303
        assert _gone(db, ExperienceRecord, eid)


def test_delete_without_a_version_keeps_working_and_a_bad_one_is_refused(web, db, users):
    """A page older than this check posts no version: last write wins, as for edit forms and
    the playbook and role deletes. A version that is no number is a 422, nothing deleted."""
    e = _experience(db, users)
    eid = e.id
    web.login("manager")
    assert web.post(f"/experiences/{e.id}/delete", {"version": "x"}).status_code == 422
    db.expire_all()
    assert db.get(ExperienceRecord, e.id) is not None
    assert web.post(f"/experiences/{e.id}/delete", {}).status_code == 303
    assert _gone(db, ExperienceRecord, eid)


def _tier(db) -> LoyaltyTier:
    t = LoyaltyTier(code="qa", name="QA tier", rank=900, threshold=999, multiplier=Decimal("1"))
    db.add(t)
    db.commit()
    return t


def test_tier_stale_delete_in_chinese(client, db, users):
    t = _tier(db)
    tid = t.id
    page, delete = f"/loyalty/tiers/{t.id}", f"/loyalty/tiers/{t.id}/delete"
    with two_sessions(client, db, users, b_locale="zh_CN") as (a, b):
        stale = form_of(b.get(page).text, delete)
        assert stale["version"] == "1"
        mine = form_of(a.get(page).text, page, "tier-form")
        assert a.post(page, {**mine, "name": "QA tier renamed by A"}).status_code == 303

        r = b.post(delete, stale)
        assert r.status_code == 409, r.text
        assert "没有删除任何内容" in r.text and "您打开页面后" in r.text
        assert "Nothing was deleted" not in r.text
        assert rows_of(r.text)["name"] == ("QA tier", "QA tier renamed by A")
        db.expire_all()
        assert db.get(LoyaltyTier, t.id).name == "QA tier renamed by A"

        assert b.post(delete, form_of(b.get(page).text, delete)).status_code == 303
        assert _gone(db, LoyaltyTier, tid)


def test_order_stale_delete(client, db, users):
    c = make_customer(db, owner_id=users["manager"].id)
    o = make_order(db, c, note="first")
    db.commit()
    oid = o.id
    detail, edit, delete = f"/orders/{o.id}", f"/orders/{o.id}/edit", f"/orders/{o.id}/delete"
    with two_sessions(client, db, users) as (a, b):
        stale = form_of(b.get(detail).text, delete)
        assert stale["version"] == str(o.version)
        mine = form_of(a.get(edit).text, edit)
        assert a.post(edit, {**mine, "note": "changed by A"}).status_code == 303

        r = b.post(delete, stale)
        assert r.status_code == 409, r.text
        assert rows_of(r.text)["note"] == ("first", "changed by A")
        db.expire_all()
        assert db.get(Order, o.id).note == "changed by A"

        assert b.post(delete, form_of(b.get(detail).text, delete)).status_code == 303
        assert _gone(db, Order, oid)


def test_api_delete_honours_if_match(client, db, users, tokens):
    """Every versioned record the API deletes: a stale If-Match is 409 version_conflict and
    deletes nothing; the current one deletes; none deletes as before."""
    c = make_customer(db, owner_id=users["manager"].id)
    e = _experience(db, users)
    tp = make_touchpoint(db, c)
    p = make_product(db)
    o = make_order(db, c)
    db.commit()
    h = tokens["manager"]
    cases = [
        (f"/api/v1/experiences/{e.id}", {"note": "x"}, ExperienceRecord, e.id),
        (f"/api/v1/touchpoints/{tp.id}", {"note": "x"}, Touchpoint, tp.id),
        (f"/api/v1/products/{p.id}", {"name": "Renamed"}, Product, p.id),
        (f"/api/v1/orders/{o.id}", {"note": "x"}, Order, o.id),
    ]
    for url, change, model, key in cases:
        seen = client.get(url, headers=h).headers["ETag"]
        assert client.patch(url, json=change, headers=h).status_code == 200, url
        r = client.delete(url, headers={**h, "If-Match": seen})
        assert r.status_code == 409, (url, r.text)
        assert r.json()["code"] == "version_conflict"
        db.expire_all()
        assert db.get(model, key) is not None, url
        bad = client.delete(url, headers={**h, "If-Match": "soon"})
        assert bad.status_code == 422, url
        now = client.get(url, headers=h).headers["ETag"]
        assert client.delete(url, headers={**h, "If-Match": now}).status_code == 204, url
        assert _gone(db, model, key), url


def test_api_delete_without_if_match_keeps_working(client, db, users, tokens):
    p = make_product(db)
    db.commit()
    assert client.delete(f"/api/v1/products/{p.id}", headers=tokens["manager"]).status_code == 204


PLAYBOOK = {
    "action": "task",
    "name_en": "Key complaint: visit",
    "name_zh": "重要客户投诉：上门拜访",
    "due_days": "2",
    "control_share": "0.2",
    "window_days": "60",
    "cost": "0.10",
    "offer_points": "0",
    "enabled": "1",
}


def _playbook(client, db) -> RetentionPlaybook:
    tab = Browser(client)
    tab.login("manager")
    r = tab.post("/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"})
    assert r.status_code == 303, r.text
    return db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").one()


@pytest.mark.parametrize(
    ("locale", "said", "label"),
    [
        ("en", ["Nothing was deleted", "version 1; it is now at version 2"], "Due after (days)"),
        ("zh_CN", ["没有删除任何内容", "您打开页面后"], "期限（天）"),
    ],
)
def test_playbook_stale_delete_is_refused_and_names_what_changed(
    client, db, users, locale, said, label
):
    """The playbook's delete from an older page showed a flash and a redirect, unlike every
    other record: now the 409 page saying what changed and who changed it; nothing deleted."""
    pb = _playbook(client, db)
    pid = pb.id
    page, delete = f"/retention/playbooks/{pid}", f"/retention/playbooks/{pid}/delete"
    with two_sessions(client, db, users, b_locale=locale) as (a, b):
        stale = form_of(b.get(page).text, delete)
        assert stale["version"] == "1"
        assert a.post(page, {**form_of(a.get(page).text, page), "due_days": "5"}).status_code == 303

        r = b.post(delete, stale)
        assert r.status_code == 409, r.text
        for text in said:
            assert text in r.text
        assert rows_of(r.text)["due_days"] == ("2", "5")
        assert label in r.text and "manager" in r.text  # the field, and who changed it
        db.expire_all()
        assert db.get(RetentionPlaybook, pid).due_days == 5

        again = form_of(r.text, delete)  # "Delete it as it is now"
        assert again["version"] == "2"
        assert b.post(delete, again).status_code == 303
        assert _gone(db, RetentionPlaybook, pid)


def _segment(db) -> InsightSegment:
    seg = InsightSegment(
        name="Spring segments",
        method="kmeans",
        k=2,
        features=["recency", "frequency"],
        profile={"profiles": []},
        customers=0,
    )
    db.add(seg)
    db.commit()
    return seg


@pytest.mark.parametrize(
    ("locale", "said", "label"),
    [
        ("en", ["Nothing was deleted", "version 1; it is now at version 2"], "Name"),
        ("zh_CN", ["没有删除任何内容", "您打开页面后"], "名称"),
    ],
)
def test_segment_stale_delete_is_refused_and_names_what_changed(
    client, db, users, locale, said, label
):
    seg = _segment(db)
    sid = seg.id
    page, delete = f"/insights/segments/{sid}", f"/insights/segments/{sid}/delete"
    rename = f"/insights/segments/{sid}/rename"
    with two_sessions(client, db, users, b_locale=locale) as (a, b):
        stale = form_of(b.get(page).text, delete)
        assert stale["version"] == "1"
        mine = form_of(a.get(page).text, rename)
        assert a.post(rename, {**mine, "name": "Renamed by A"}).status_code == 303

        r = b.post(delete, stale)
        assert r.status_code == 409, r.text
        for text in said:
            assert text in r.text
        assert rows_of(r.text) == {"name": ("Spring segments", "Renamed by A")}
        assert f'<th scope="row">{label}</th>' in r.text and "manager" in r.text
        db.expire_all()
        assert db.get(InsightSegment, sid).name == "Renamed by A"

        assert b.post(delete, form_of(r.text, delete)).status_code == 303
        assert _gone(db, InsightSegment, sid)
