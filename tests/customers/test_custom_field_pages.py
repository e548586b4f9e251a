"""The web side of custom fields: the administrators' page, the customer form's typed inputs,
the 360 page in the reader's language and the list's filter control."""

from __future__ import annotations

import re

from retento.customers.field_models import CustomFieldDefinition
from retento.customers.models import Customer
from tests.customers.test_custom_fields import FIELDS, define
from tests.factories import make_customer
from tests.web.conftest import Browser


def _errors(html: str) -> list[str]:
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', html)


def test_an_admin_defines_and_edits_a_field_on_the_page(client, users, db):
    web = Browser(client)
    web.login("admin")
    assert web.get("/admin/customer-fields").status_code == 200
    r = web.post(
        "/admin/customer-fields/new",
        {"key": "tier", "label": "Tier", "label_zh": "等级", "field_type": "choice",
         "options": "Gold | 金卡\nSilver", "active": "1"},
    )  # fmt: skip
    assert r.status_code in (200, 303), r.text
    d = db.query(CustomFieldDefinition).filter_by(key="tier").one()
    assert d.options == [
        {"value": "Gold", "label_zh": "金卡"},
        {"value": "Silver", "label_zh": None},
    ]
    page = web.get("/admin/customer-fields")
    assert 'id="field-tier"' in page.text and "Gold, Silver" in page.text and "等级" in page.text
    # a bad key is named next to its input; nothing is saved
    r = web.post(
        "/admin/customer-fields/new", {"key": "Not A Slug", "label": "X", "field_type": "text"}
    )
    assert r.status_code == 422 and len(_errors(r.text)) == 1
    # an edit from a form loaded before someone else saved is a 409
    edit = web.get(f"/admin/customer-fields/{d.id}")
    assert 'id="field-key"' in edit.text and 'name="key"' not in edit.text
    ok = web.post(
        f"/admin/customer-fields/{d.id}",
        {"version": "1", "label": "Level", "label_zh": "等级", "options": "Gold | 金卡\nSilver",
         "active": "1"},
    )  # fmt: skip
    assert ok.status_code in (200, 303)
    stale = web.post(
        f"/admin/customer-fields/{d.id}",
        {"version": "1", "label": "Stale", "options": "Gold", "active": "1"},
    )
    assert stale.status_code == 409
    db.expire_all()
    assert db.get(CustomFieldDefinition, d.id).label == "Level"


def test_managers_cannot_open_the_admin_page(client, users):
    web = Browser(client)
    web.login("manager")
    assert web.get("/admin/customer-fields").status_code == 403


def test_the_customer_form_has_one_typed_input_per_active_field(client, users, db):
    define(db, users["admin"])
    web = Browser(client)
    web.login("manager")
    page = web.get("/customers/new").text
    assert 'name="custom_fields.first_visit" type="date"' in page
    assert 'name="custom_fields.vip" value="1"' in page and 'type="checkbox"' in page
    assert '<select id="f-custom_fields.tier" name="custom_fields.tier"' in page
    assert 'name="custom_fields.budget"' in page
    # no free area on a new customer: every field is defined
    assert 'name="custom_fields"' not in page
    r = web.post(
        "/customers/new",
        {"name": "Form typed", "custom_fields.tier": "Gold", "custom_fields.vip": "1",
         "custom_fields.budget": "12.50", "custom_fields.first_visit": "2025-01-31",
         "custom_fields.store": "Jing'an"},
    )  # fmt: skip
    assert r.status_code in (200, 303), _errors(r.text)
    c = db.query(Customer).filter_by(name="Form typed").one()
    assert c.custom_fields == {
        "tier": "Gold", "vip": True, "budget": "12.50", "first_visit": "2025-01-31",
        "store": "Jing'an",
    }  # fmt: skip


def test_bad_values_on_the_form_are_shown_next_to_their_inputs_in_chinese(client, users, db):
    define(db, users["admin"])
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post(
        "/customers/new",
        {"name": "Form bad", "custom_fields.budget": "lots", "custom_fields.tier": "Bronze"},
    )
    assert r.status_code == 422
    html = r.text
    for name in ("budget", "tier", "store"):
        assert re.search(rf'id="f-custom_fields\.{name}"[^>]*aria-invalid="true"', html), name
    assert "必须是数字，例如 12.50。" in html and "此项为必填。" in html
    assert db.query(Customer).filter_by(name="Form bad").count() == 0


def test_editing_keeps_legacy_and_retired_values_and_offers_the_other_fields_area(
    client, users, db
):
    tier, vip = define(db, users["admin"], FIELDS[:2])
    tier.active = False
    c = make_customer(
        db, name="Old data", custom_fields={"tier": "Gold", "segment": "food", "score": 7}
    )
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{c.id}/edit").text
    assert 'name="custom_fields.tier"' not in page  # retired: not on the form
    area = re.search(r'<textarea id="f-custom_fields" name="custom_fields"[^>]*>([^<]*)<', page)
    assert area and area.group(1).splitlines() == ["segment: food", "score: 7"]
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = web.post(
        f"/customers/{c.id}/edit",
        {"version": version, "name": "Old data", "custom_fields": "segment: food\nscore: 7",
         "custom_fields.vip": "1"},
    )  # fmt: skip
    assert r.status_code in (200, 303), _errors(r.text)
    db.expire_all()
    assert db.get(Customer, c.id).custom_fields == {
        "tier": "Gold", "segment": "food", "score": 7, "vip": True,
    }  # fmt: skip
    # a new key in the free area is refused there
    page = web.get(f"/customers/{c.id}/edit").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = web.post(
        f"/customers/{c.id}/edit",
        {"version": version, "name": "Old data", "custom_fields": "segment: food\nnew: x"},
    )
    assert r.status_code == 422
    assert any("No custom field &#39;new&#39; is defined" in e for e in _errors(r.text))


def test_the_360_page_shows_labels_in_the_readers_language(client, users, db):
    tier, vip, *_ = define(db, users["admin"])
    c = make_customer(
        db,
        name="Shown",
        custom_fields={"tier": "Gold", "vip": True, "first_visit": "2025-03-01", "legacy": "x"},
    )
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{c.id}").text
    assert "<dt>Tier</dt>" in page.replace("\n", "") or ">Tier<" in page
    assert 'data-key="vip">Yes<' in page and 'id="other-fields"' in page and "legacy:" in page
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/customers/{c.id}").text
    assert "等级" in page and 'data-key="tier">金卡<' in page and 'data-key="vip">是<' in page


def test_the_list_has_one_filter_control_for_choice_and_yes_no_fields(client, users, db):
    define(db, users["admin"], FIELDS[:3])
    gold = make_customer(db, name="Filter Gold", custom_fields={"tier": "Gold"})
    make_customer(db, name="Filter Silver", custom_fields={"tier": "Silver"})
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get("/customers").text
    assert '<select id="f-field" name="field"' in page
    assert 'value="tier:Gold"' in page and 'value="vip:yes"' in page
    assert "budget:" not in page  # numbers are not offered
    page = web.get("/customers", params={"field": "tier:Gold"}).text
    assert f"/customers/{gold.id}" in page and "Filter Silver" not in page
    assert web.get("/customers", params={"field": "tier:Tin"}).status_code == 422


def test_the_list_filter_names_field_and_value_with_a_chinese_colon(client, users, db):
    """ "等级：金卡" on a Chinese page (the English ": " read "等级: 金卡")."""
    define(db, users["admin"], FIELDS[:2])
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get("/customers").text
    assert ">等级：金卡<" in page and ">贵宾：是<" in page and "等级: " not in page
    web = Browser(client)
    web.login("manager")
    assert ">Tier: Gold<" in web.get("/customers").text
