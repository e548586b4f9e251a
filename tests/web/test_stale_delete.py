"""A delete from a page loaded before someone else saved the record deletes nothing (QA F3:
"delete buttons carry no version"). Two browser sessions: B opens the page, A saves an edit,
B presses Delete from its older page → 409 saying what changed and who changed it, the record
still there with A's edit; a delete from a fresh page works. The API's DELETE honours If-Match
as PATCH does. Survey questions, sections and surveys: tests/surveys/test_stale_delete.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from fastapi.testclient import TestClient

from retento.journey import service as journey
from retento.journey.models import ExperienceRecord
from retento.journey.schemas import ExperienceCreate
from retento.loyalty.models import LoyaltyTier
from retento.orders.models import Order
from retento.products.models import Product
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
