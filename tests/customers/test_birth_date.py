"""A customer's date of birth (migration 0046): through the API (create, update, read), the
customer form and the 360 page, in English and Chinese; refused in the future and before 1900
naming the field (nothing saved); cleared by a privacy erasure, held in the privacy export."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.customers import privacy
from retento.customers.models import Customer
from tests.customers.test_versions import _edit_form
from tests.factories import make_customer
from tests.web.conftest import Browser


def test_api_creates_reads_changes_and_clears_a_birth_date(client, tokens, db):
    h = tokens["manager"]
    r = client.post(
        "/api/v1/customers", json={"name": "Born", "birth_date": "1988-02-29"}, headers=h
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["birth_date"] == "1988-02-29"
    assert client.get(f"/api/v1/customers/{cid}", headers=h).json()["birth_date"] == "1988-02-29"
    r = client.patch(f"/api/v1/customers/{cid}", json={"birth_date": "1990-07-01"}, headers=h)
    assert r.status_code == 200 and r.json()["birth_date"] == "1990-07-01"
    # Another field's edit leaves it alone; null clears it.
    r = client.patch(f"/api/v1/customers/{cid}", json={"city": "Suzhou"}, headers=h)
    assert r.json()["birth_date"] == "1990-07-01"
    r = client.patch(f"/api/v1/customers/{cid}", json={"birth_date": None}, headers=h)
    assert r.status_code == 200 and r.json()["birth_date"] is None
    r = client.post("/api/v1/customers", json={"name": "No birthday"}, headers=h)
    assert r.json()["birth_date"] is None


@pytest.mark.parametrize(
    "value",
    [
        (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
        "1899-12-31",
        "1066-10-14",
        "2000-02-30",
        "not a date",
        19900101,
    ],
)
def test_a_birth_date_in_the_future_or_before_1900_is_a_422_naming_the_field(
    client, tokens, db, value
):
    h = tokens["manager"]
    r = client.post(
        "/api/v1/customers", json={"name": "Bad birthday", "birth_date": value}, headers=h
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["birth_date"]
    c = make_customer(db, name="Kept")
    db.commit()
    r = client.patch(f"/api/v1/customers/{c.id}", json={"birth_date": value}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "birth_date"
    assert db.query(Customer).filter_by(name="Bad birthday").count() == 0
    db.expire_all()
    assert db.get(Customer, c.id).birth_date is None and db.get(Customer, c.id).version == 1


def test_the_earliest_and_today_are_accepted(client, tokens):
    h = tokens["manager"]
    for name, day in (("Oldest", date(1900, 1, 1)), ("Newborn", datetime.now(UTC).date())):
        r = client.post(
            "/api/v1/customers", json={"name": name, "birth_date": day.isoformat()}, headers=h
        )
        assert r.status_code == 201, r.text


def test_form_saves_it_and_the_360_page_shows_it(client, users, db):
    web = Browser(client)
    web.login("manager")
    r = web.post("/customers/new", {"name": "Form born", "birth_date": "1985-03-04"})
    assert r.status_code in (302, 303), r.text
    c = db.scalar(select(Customer).where(Customer.name == "Form born"))
    assert c.birth_date == date(1985, 3, 4)
    page = web.get(f"/customers/{c.id}").text
    assert 'id="birth-date"' in page and "Date of birth" in page
    form = _edit_form(web, f"/customers/{c.id}/edit")
    assert form["birth_date"] == "1985-03-04"
    r = web.post(f"/customers/{c.id}/edit", {**form, "birth_date": "1986-05-06"})
    assert r.status_code in (302, 303), r.text
    db.expire_all()
    assert db.get(Customer, c.id).birth_date == date(1986, 5, 6)
    # Emptied in the form: no date of birth, and the 360 page shows none.
    form = _edit_form(web, f"/customers/{c.id}/edit")
    assert web.post(f"/customers/{c.id}/edit", {**form, "birth_date": ""}).status_code in (
        302,
        303,
    )
    db.expire_all()
    assert db.get(Customer, c.id).birth_date is None
    assert 'id="birth-date"' not in web.get(f"/customers/{c.id}").text


def test_form_refuses_a_bad_birth_date_on_its_field_in_chinese(client, users, db):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get("/customers/new").text
    assert "出生日期" in page
    for typed in ("2031-01-01", "1899-12-31"):
        r = web.post("/customers/new", {"name": "QA 生日", "birth_date": typed})
        assert r.status_code == 422, typed
        assert re.search(r'field [^"]*has-error[^"]*"[^>]*>\s*<label for="f-birth_date"', r.text)
        assert "lies in the future" not in r.text and "must be between" not in r.text
    assert db.query(Customer).filter_by(name="QA 生日").count() == 0
    c = make_customer(db, name="王芳", birth_date=date(1979, 11, 2))
    db.commit()
    page = web.get(f"/customers/{c.id}").text
    assert "出生日期" in page and 'id="birth-date"' in page


ORG_REASON = "An organisation has no date of birth"


def test_an_organisation_is_refused_a_birth_date_naming_the_field(client, tokens, db):
    h = tokens["manager"]
    org = {"name": "Acme Ltd", "party_type": "organisation", "kind": "business"}
    r = client.post("/api/v1/customers", json={**org, "birth_date": "1990-01-01"}, headers=h)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["birth_date"]
    assert r.json()["detail"].startswith(ORG_REASON)
    # A person with one becomes an organisation only without it.
    r = client.post(
        "/api/v1/customers", json={"name": "Born", "birth_date": "1980-05-06"}, headers=h
    )
    cid, url = r.json()["id"], f"/api/v1/customers/{r.json()['id']}"
    r = client.patch(url, json={"party_type": "organisation"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "birth_date"
    db.expire_all()
    assert db.get(Customer, cid).party_type == "person" and db.get(Customer, cid).version == 1
    r = client.patch(url, json={"party_type": "organisation", "birth_date": None}, headers=h)
    assert r.status_code == 200 and r.json()["birth_date"] is None
    r = client.patch(url, json={"birth_date": "1980-05-06"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "birth_date"
    # One stored before the rule can still be edited otherwise.
    old = make_customer(db, party_type="organisation", birth_date=date(1970, 1, 1))
    db.commit()
    r = client.patch(f"/api/v1/customers/{old.id}", json={"city": "Suzhou"}, headers=h)
    assert r.status_code == 200, r.text


def test_the_form_shows_the_organisation_s_birth_date_error_on_its_field(client, users, db):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = {"name": "QA 公司", "party_type": "organisation", "birth_date": "1990-01-01"}
    r = web.post("/customers/new", form)
    assert r.status_code == 422
    assert re.search(r'field [^"]*has-error[^"]*"[^>]*>\s*<label for="f-birth_date"', r.text)
    assert "组织没有出生日期" in r.text and ORG_REASON not in r.text
    assert db.query(Customer).filter_by(name="QA 公司").count() == 0


def test_erasure_clears_it_everywhere_and_the_export_holds_it(db, users):
    from retento.customers import service
    from retento.customers.schemas import CustomerCreate, CustomerUpdate

    manager = users["manager"]
    c = service.create_customer(
        db, CustomerCreate(name="Wang Fang", birth_date=date(1979, 11, 2)), actor=manager
    )
    service.update_customer(db, c.id, CustomerUpdate(birth_date=date(1979, 11, 3)), actor=manager)
    db.flush()
    buf = io.BytesIO()
    privacy.write_export(db, c.id, buf, actor=manager)
    data = json.loads(zipfile.ZipFile(io.BytesIO(buf.getvalue())).read("data.json"))
    assert data["customer"][0]["birth_date"] == "1979-11-03"
    privacy.erase_customer(db, c.id, actor=manager, reason="DSR")
    db.flush()
    db.expire_all()
    assert db.get(Customer, c.id).birth_date is None
    # The audit log's before/after values no longer hold it either.
    for e in db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "customer", AuditEntry.entity_id == str(c.id))
    ):
        text = json.dumps([e.before, e.after])
        assert "1979-11-0" not in text, (e.action, text)
