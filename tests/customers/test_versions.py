"""Optimistic concurrency (core.versioning): versions, ETag / If-Match / ``version``, 409s,
the one-primary-contact rule and the web conflict page. Concurrency proper: test_concurrency.py.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from retento.audit.models import AuditEntry
from retento.core.errors import InvalidInput
from retento.core.versioning import VersionConflict, check_version, etag, parse_if_match
from retento.customers import service
from retento.customers.models import Contact, Customer
from retento.customers.schemas import ContactIn, CustomerUpdate
from tests.factories import make_customer, make_order, make_product, make_touchpoint, make_user
from tests.factories.complaints import make_complaint
from tests.surveys.conftest import small_survey_data
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


# --- the helper -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "version"),
    [(None, None), ("*", None), ('"3"', 3), ('W/"3"', 3), ("3", 3), (' "12" ', 12)],
)
def test_parse_if_match_reads_the_forms_clients_send(header, version):
    assert parse_if_match(header) == version


@pytest.mark.parametrize("header", ['"a"', '"3", "4"', '"-1"', '"9999999999999"', "W/", '"3'])
def test_parse_if_match_rejects_what_is_not_one_of_our_etags(header):
    with pytest.raises(InvalidInput) as exc:
        parse_if_match(header)
    assert exc.value.field == "If-Match"


def test_check_version_passes_on_none_and_equal_and_names_both_versions_otherwise(db):
    c = make_customer(db)
    check_version(c, None, 1)
    assert etag(c) == '"1"'
    with pytest.raises(VersionConflict) as exc:
        check_version(c, None, 7)
    problem = exc.value.problem()
    assert exc.value.status == 409
    assert problem["code"] == "version_conflict"
    assert (problem["entity"], problem["id"]) == ("Customer", c.id)
    assert (problem["expected_version"], problem["current_version"]) == (7, 1)


# --- versions go up -------------------------------------------------------------------------


def test_every_customer_change_bumps_the_version_child_rows_included(db, users):
    from tests.factories.custom_fields import define_fields

    admin = users["admin"]
    define_fields(db, "size")
    c = make_customer(db)
    assert c.version == 1
    service.update_customer(db, c.id, CustomerUpdate(name="New name"), actor=admin)
    assert c.version == 2
    service.update_customer(db, c.id, CustomerUpdate(tags=["vip"]), actor=admin)
    assert c.version == 3
    contacts = [ContactIn(name="Li", is_primary=True)]
    service.update_customer(db, c.id, CustomerUpdate(contacts=contacts), actor=admin)
    assert c.version == 4
    service.update_customer(db, c.id, CustomerUpdate(custom_fields={"size": "L"}), actor=admin)
    assert c.version == 5
    # Nothing changed: no new version, no audit entry.
    service.update_customer(db, c.id, CustomerUpdate(tags=["vip"]), actor=admin)
    assert c.version == 5
    n = db.scalar(
        select(text("count(*)"))
        .select_from(AuditEntry)
        .where(AuditEntry.entity == "customer", AuditEntry.action == "update")
    )
    assert n == 4


def test_a_stale_version_changes_nothing(db, users):
    c = make_customer(db, name="Before")
    service.update_customer(db, c.id, CustomerUpdate(name="First", version=1), actor=users["admin"])
    with pytest.raises(VersionConflict):
        service.update_customer(
            db, c.id, CustomerUpdate(name="Second", version=1), actor=users["admin"]
        )
    with pytest.raises(VersionConflict):
        service.update_customer(
            db, c.id, CustomerUpdate(name="Third"), actor=users["admin"], expected_version=1
        )
    db.expire_all()
    assert (db.get(Customer, c.id).name, db.get(Customer, c.id).version) == ("First", 2)


# --- one primary contact --------------------------------------------------------------------


def test_two_primary_contacts_are_refused_naming_the_second(db, users):
    c = make_customer(db)
    contacts = [ContactIn(name="A", is_primary=True), ContactIn(name="B", is_primary=True)]
    with pytest.raises(InvalidInput) as exc:
        service.update_customer(db, c.id, CustomerUpdate(contacts=contacts), actor=users["admin"])
    assert exc.value.field == "contacts.1.is_primary"


def test_a_new_primary_replaces_the_old_one_in_one_save(db, users):
    admin = users["admin"]
    c = make_customer(db)
    first = [ContactIn(name="A", is_primary=True), ContactIn(name="B")]
    service.update_customer(db, c.id, CustomerUpdate(contacts=first), actor=admin)
    second = [ContactIn(name="A"), ContactIn(name="B", is_primary=True)]
    service.update_customer(db, c.id, CustomerUpdate(contacts=second), actor=admin)
    db.expire_all()
    rows = db.scalars(select(Contact).where(Contact.customer_id == c.id)).all()
    assert sorted((k.name, k.is_primary) for k in rows) == [("A", False), ("B", True)]


def test_the_database_refuses_a_second_primary_whatever_writes_it(db):
    c = make_customer(db)
    db.add(Contact(customer_id=c.id, name="A", is_primary=True))
    db.flush()
    db.add(Contact(customer_id=c.id, name="Z", is_primary=False))
    db.flush()  # any number of non-primary contacts is fine
    with db.begin_nested():
        db.add(Contact(customer_id=c.id, name="B", is_primary=True))
        with pytest.raises(IntegrityError):
            db.flush()


# --- the API: ETag, If-Match, version, 409 ---------------------------------------------------


def _resources(db, users):
    """(url, patch body) of one record per versioned resource."""
    customer = make_customer(db)
    product = make_product(db)
    order = make_order(db, customer)
    touchpoint = make_touchpoint(db, customer)
    complaint = make_complaint(db, actor=users["admin"], customer_id=customer.id)
    from retento.surveys import service as surveys

    survey = surveys.create_survey(db, small_survey_data(), actor=users["admin"])
    user = make_user(db, role="agent")
    db.commit()
    return [
        (f"/api/v1/customers/{customer.id}", {"note": "changed"}),
        (f"/api/v1/products/{product.id}", {"name": "Renamed"}),
        (f"/api/v1/orders/{order.id}", {"note": "changed"}),
        (f"/api/v1/touchpoints/{touchpoint.id}", {"note": "changed"}),
        (f"/api/v1/complaints/{complaint.id}", {"subject": "Changed subject"}),
        (f"/api/v1/surveys/{survey.id}", {"description": "changed"}),
        (f"/api/v1/users/{user.id}", {"display_name": "Changed"}),
    ]


def test_every_resource_sends_an_etag_and_honours_if_match(client, db, users, tokens):
    admin = tokens["admin"]
    for url, body in _resources(db, users):
        got = client.get(url, headers=admin)
        assert got.status_code == 200, (url, got.text)
        v = got.json()["version"]  # 1, or more where creating takes several steps (complaints)
        assert v >= 1 and got.headers["etag"] == f'"{v}"', url

        ok = client.patch(url, json=body, headers={**admin, "If-Match": got.headers["etag"]})
        assert ok.status_code == 200, (url, ok.text)
        assert ok.headers["etag"] == f'"{v + 1}"' and ok.json()["version"] == v + 1, url

        stale = client.patch(url, json=body, headers={**admin, "If-Match": f'"{v}"'})
        assert stale.status_code == 409, url
        assert stale.headers["content-type"].startswith("application/problem+json")
        problem = stale.json()
        assert problem["code"] == "version_conflict", url
        assert (problem["expected_version"], problem["current_version"]) == (v, v + 1), url

        stale_body = client.patch(url, json={**body, "version": v}, headers=admin)
        assert stale_body.status_code == 409, url

        # No If-Match and no version: still accepted (backwards compatible), version bumps.
        blind = client.patch(url, json=body, headers=admin)
        assert blind.status_code == 200, url
        weak = client.patch(
            url, json=body, headers={**admin, "If-Match": f'W/"{blind.json()["version"]}"'}
        )
        assert weak.status_code == 200, url
        assert client.get(url, headers=admin).headers["etag"] == weak.headers["etag"]


def test_a_malformed_if_match_is_422_naming_the_header(client, db, tokens):
    c = make_customer(db)
    db.commit()
    r = client.patch(
        f"/api/v1/customers/{c.id}",
        json={"note": "x"},
        headers={**tokens["admin"], "If-Match": "yesterday"},
    )
    assert r.status_code == 422 and r.json()["field"] == "If-Match"


def test_lists_show_the_version_of_each_record(client, db, tokens):
    make_customer(db)
    db.commit()
    items = client.get("/api/v1/customers", headers=tokens["admin"]).json()["items"]
    assert items and all(i["version"] >= 1 for i in items)


# --- the web: hidden version and the conflict page ------------------------------------------


def _edit_form(web, url: str) -> dict[str, str]:
    """The named inputs of an edit form as a browser would submit them (unchecked boxes left out)."""
    html = web.get(url).text
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="checkbox"' in tag and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        fields[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        fields[name] = body
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*\sselected', body)
        fields[name] = chosen.group(1) if chosen else ""
    fields.pop("csrf_token", None)
    return fields


def test_a_stale_customer_form_gets_the_conflict_page_with_both_values(web, db, users, tokens):
    c = make_customer(db, name="Acme", phone="111")
    db.commit()
    web.login("manager")
    form = _edit_form(web, f"/customers/{c.id}/edit")
    assert form["version"] == "1"

    # Meanwhile the admin changes the phone through the API.
    r = web.client.patch(
        f"/api/v1/customers/{c.id}", json={"phone": "222"}, headers=tokens["admin"]
    )
    assert r.status_code == 200

    form["city"] = "Hangzhou"
    page = web.post(f"/customers/{c.id}/edit", data=form)
    assert page.status_code == 409
    html = page.text
    assert "Someone else changed" in html
    # Three-way: only the field this form changed; the phone (the admin's change) is not listed.
    assert '<tr data-field="phone">' not in html
    row = re.search(r'<tr data-field="city">(.*?)</tr>', html, re.S).group(1)
    assert "Hangzhou" in row
    assert "Saved since you opened the form:" in html and "admin" in html
    saved = re.search(r'<p class="muted saved-since">(.*?)</p>', html, re.S).group(1)
    assert re.fullmatch(r"Saved since you opened the form: \S.* \(.+\)", saved.strip()), saved
    assert 'name="version" value="2"' in html  # "apply my values" posts the new version
    db.expire_all()
    stored = db.get(Customer, c.id)
    assert (stored.phone, stored.city, stored.version) == ("222", None, 2)  # nothing reverted

    # "Apply my values to the new version" re-posts the form with version 2: my city on top
    # of the admin's phone.
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    hidden.pop("csrf_token")
    again = web.post(f"/customers/{c.id}/edit", data=hidden)
    assert again.status_code == 303
    db.expire_all()
    stored = db.get(Customer, c.id)
    assert (stored.city, stored.phone, stored.version) == ("Hangzhou", "222", 3)


def test_the_conflict_page_speaks_chinese(web, db, users, tokens):
    c = make_customer(db, name="Acme")
    db.commit()
    web.login("manager")
    web.post("/locale", data={"lang": "zh_CN", "next": "/customers"})
    form = _edit_form(web, f"/customers/{c.id}/edit")
    web.client.patch(f"/api/v1/customers/{c.id}", json={"note": "x"}, headers=tokens["admin"])
    page = web.post(f"/customers/{c.id}/edit", data=form)
    assert page.status_code == 409
    assert "其他人" in page.text and "重新加载" in page.text
    # Chinese punctuation, no space after the full-width colon (QA found "： admin (2026-…)").
    saved = re.search(r'<p class="muted saved-since">(.*?)</p>', page.text, re.S).group(1)
    assert re.fullmatch(r"您打开表单后保存过的修改：\S[^ ]*（[^()]+）", saved.strip()), saved


def test_a_current_form_saves_and_a_422_form_keeps_the_version_it_was_loaded_with(web, db, users):
    c = make_customer(db, name="Acme")
    db.commit()
    web.login("manager")
    form = _edit_form(web, f"/customers/{c.id}/edit")
    bad = web.post(f"/customers/{c.id}/edit", data={**form, "email": "not-an-email"})
    assert bad.status_code == 422
    assert 'name="version" value="1"' in bad.text
    ok = web.post(f"/customers/{c.id}/edit", data={**form, "city": "Ningbo"})
    assert ok.status_code == 303
    db.expire_all()
    assert db.get(Customer, c.id).version == 2


def test_stale_order_complaint_and_user_forms_get_the_conflict_page(web, db, users, tokens):
    customer = make_customer(db)
    order = make_order(db, customer, note="old note")
    complaint = make_complaint(db, actor=users["admin"], customer_id=customer.id)
    agent = make_user(db, role="agent", display_name="Old name")
    db.commit()
    web.login("admin")
    cases = [
        (f"/orders/{order.id}/edit", f"/api/v1/orders/{order.id}", "note", "api note"),
        (
            f"/complaints/{complaint.id}/edit",
            f"/api/v1/complaints/{complaint.id}",
            "subject",
            "API subject",
        ),
        (f"/admin/users/{agent.id}", f"/api/v1/users/{agent.id}", "display_name", "API name"),
    ]
    for page_url, api_url, field, api_value in cases:
        form = _edit_form(web, page_url)
        assert form.get("version"), page_url
        changed = web.client.patch(api_url, json={field: api_value}, headers=tokens["admin"])
        assert changed.status_code == 200, (api_url, changed.text)
        form[field] = "form value"
        page = web.post(page_url, data=form)
        assert page.status_code == 409, (page_url, page.status_code)
        row = re.search(rf'<tr data-field="{field}">(.*?)</tr>', page.text, re.S).group(1)
        assert "form value" in row and api_value in row, page_url
        # Nothing of the stale form was written.
        assert web.client.get(api_url, headers=tokens["admin"]).json()[field] == api_value


def test_a_stale_survey_settings_form_gets_the_conflict_page(web, db, users, tokens):
    from retento.surveys import service as surveys

    survey = surveys.create_survey(db, small_survey_data(), actor=users["admin"])
    db.commit()
    web.login("manager")
    html = web.get(f"/surveys/{survey.id}").text
    settings = re.search(r'<form[^>]*id="settings-form".*?</form>', html, re.S).group(0)
    version = re.search(r'name="version" value="(\d+)"', settings).group(1)
    changed = web.client.patch(
        f"/api/v1/surveys/{survey.id}", json={"name": "Renamed by API"}, headers=tokens["admin"]
    )
    assert changed.status_code == 200, changed.text
    form = {
        "version": version,
        "name": "Renamed in the form",
        "language": survey.language,
        "status": survey.status,
        "expectation_tolerance": str(survey.expectation_tolerance),
        "token_days": str(survey.token_days),
    }
    page = web.post(f"/surveys/{survey.id}/settings", data=form)
    assert page.status_code == 409
    row = re.search(r'<tr data-field="name">(.*?)</tr>', page.text, re.S).group(1)
    assert "Renamed in the form" in row and "Renamed by API" in row
    stored = web.client.get(f"/api/v1/surveys/{survey.id}", headers=tokens["admin"]).json()
    assert stored["name"] == "Renamed by API"
    # The same form with the current version saves.
    form["version"] = str(stored["version"])
    assert web.post(f"/surveys/{survey.id}/settings", data=form).status_code == 303
    stored = web.client.get(f"/api/v1/surveys/{survey.id}", headers=tokens["admin"]).json()
    assert stored["name"] == "Renamed in the form"
