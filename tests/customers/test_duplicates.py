"""Possible duplicates on create: the API answers 409 ``possible_duplicate`` with the matches
unless ``force=true``; the web form lists them with "Create anyway"."""

from __future__ import annotations

import pytest

from retento.customers import service
from retento.customers.duplicates import PossibleDuplicate, find_duplicates
from retento.customers.models import Customer
from retento.customers.schemas import CustomerCreate
from tests.factories import make_customer
from tests.web.conftest import Browser


def test_matches_on_email_phone_digits_and_name(db, users):
    a = make_customer(db, name="Ava Clark", email="Ava.Clark@Example.com", phone="+44 7000 000584")
    make_customer(db, name="Someone Else", email="x@example.com", phone="123")
    db.flush()
    by_mail = find_duplicates(db, name="Other", email="ava.clark@example.com", phone=None)
    assert [(m["id"], m["matched_on"]) for m in by_mail] == [(a.id, ["email"])]
    # The same number typed another way, and without the country code.
    for typed in ("+44 (700) 000-0584", "7000000584"):
        got = find_duplicates(db, name="Other", email=None, phone=typed)
        assert [(m["id"], m["matched_on"]) for m in got] == [(a.id, ["phone"])]
    by_name = find_duplicates(db, name="  ava   CLARK ", email=None, phone=None)
    assert [(m["id"], m["matched_on"]) for m in by_name] == [(a.id, ["name"])]
    assert find_duplicates(db, name="Ava Clarkson", email="n@example.com", phone="99") == []


def test_archived_customers_are_not_duplicates(db, users):
    c = make_customer(db, name="Gone Person")
    service.archive_customer(db, c.id, actor=users["manager"])
    assert find_duplicates(db, name="Gone Person", email=None, phone=None) == []


def test_service_raises_unless_forced(db, users):
    make_customer(db, name="Li Lei", phone="138-0013-8000")
    db.flush()
    with pytest.raises(PossibleDuplicate) as e:
        service.create_customer(
            db,
            CustomerCreate(name="Lei Li", phone="13800138000"),
            actor=users["agent"],
            force=False,
        )
    assert e.value.status == 409 and e.value.matches[0]["matched_on"] == ["phone"]
    c = service.create_customer(
        db, CustomerCreate(name="Lei Li", phone="13800138000"), actor=users["agent"], force=True
    )
    assert c.phone == "13800138000"


def test_api_returns_409_with_matches_then_force_creates(client, tokens, db, users):
    make_customer(db, name="Ava Clark", email="ava@example.com")
    db.flush()
    body = {"name": "A. Clark", "email": "AVA@example.com"}
    r = client.post("/api/v1/customers", json=body, headers=tokens["manager"])
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "possible_duplicate" and problem["field"] == "force"
    assert [m["name"] for m in problem["matches"]] == ["Ava Clark"]
    assert problem["matches"][0]["matched_on"] == ["email"]
    assert db.query(Customer).filter_by(name="A. Clark").count() == 0
    r = client.post(
        "/api/v1/customers", params={"force": "true"}, json=body, headers=tokens["manager"]
    )
    assert r.status_code == 201, r.text
    assert db.query(Customer).filter_by(name="A. Clark").count() == 1
    # The same check without creating anything.
    r = client.get(
        "/api/v1/customers/duplicates",
        params={"email": "ava@example.com"},
        headers=tokens["agent"],
    )
    assert r.status_code == 200 and len(r.json()) == 2


def test_api_without_matches_creates_at_once(client, tokens):
    r = client.post("/api/v1/customers", json={"name": "Unique Name 1"}, headers=tokens["agent"])
    assert r.status_code == 201


def test_web_form_warns_and_create_anyway_creates(client, users, db):
    make_customer(db, name="王小明", phone="+86 138 0013 8000")
    db.flush()
    web = Browser(client)
    web.login("manager")
    form = {"name": "王小明", "phone": "13800138000", "party_type": "person", "kind": "consumer"}
    r = web.post("/customers/new", form)
    assert r.status_code == 200
    assert 'id="duplicate-warning"' in r.text and 'id="create-anyway"' in r.text
    assert db.query(Customer).filter_by(name="王小明").count() == 1
    r = web.post("/customers/new", {**form, "force": "1"})
    assert r.status_code == 303
    assert db.query(Customer).filter_by(name="王小明").count() == 2


def test_web_warning_in_chinese(client, users, db):
    make_customer(db, name="Zhou Jie", email="zj@example.com")
    users["manager"].locale = "zh_CN"
    db.flush()
    web = Browser(client)
    web.login("manager")
    r = web.post(
        "/customers/new",
        {"name": "Zhou J", "email": "zj@example.com", "party_type": "person", "kind": "consumer"},
    )
    assert r.status_code == 200 and 'id="duplicate-warning"' in r.text
    assert "可能重复" in r.text and "仍然创建" in r.text and "相同邮箱" in r.text


def test_the_reasons_of_a_duplicate_read_as_a_chinese_list(client, users, db):
    """ "（相同电话、相同姓名）", not the English "(相同电话, 相同姓名)"."""
    make_customer(db, name="王华", phone="+86 132 0000 1492")
    users["manager"].locale = "zh_CN"
    db.flush()
    web = Browser(client)
    web.login("manager")
    form = {"name": "王华", "phone": "13200001492", "party_type": "person", "kind": "consumer"}
    r = web.post("/customers/new", form)
    assert r.status_code == 200 and 'id="duplicate-warning"' in r.text
    assert "（相同电话、相同姓名）" in r.text
    users["manager"].locale = "en"
    db.flush()
    assert "(same phone, same name)" in web.post("/customers/new", form).text
