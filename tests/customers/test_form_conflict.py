"""The customer form's stale-edit page (409) compares three ways (web.conflict): two tabs open
on one customer, each changing something. The second save lists only what the second tab
changed, and "Apply my values" keeps the first tab's changes, custom fields and contacts too."""

from __future__ import annotations

import pytest

from retento.customers.models import Customer
from tests.factories import make_customer
from tests.factories.custom_fields import define_fields
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser


@pytest.fixture
def customer(db):
    define_fields(db, "size", "colour")
    c = make_customer(db, name="Acme", phone="111", city="Ningbo")
    c.custom_fields = {"size": "L", "colour": "red"}
    db.commit()
    return c


def _tabs(client, users, db, c, locale: str = "en"):
    users["manager"].locale = locale
    db.commit()
    tab = Browser(client)
    tab.login("manager")
    url = f"/customers/{c.id}/edit"
    return tab, url, form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)


def _stored(db, c) -> Customer:
    db.expire_all()
    return db.get(Customer, c.id)


@pytest.mark.parametrize(("locale", "label"), [("en", "City"), ("zh_CN", "城市")])
def test_a_different_field_is_listed_alone_and_both_changes_survive(
    client, users, db, customer, locale, label
):
    tab, url, first, second = _tabs(client, users, db, customer, locale)
    assert second["base.phone"] == "111" and second["base.custom_fields.size"] == "L"
    assert tab.post(url, {**first, "phone": "222"}).status_code == 303
    stale = tab.post(url, {**second, "city": "Hangzhou"})
    assert stale.status_code == 409, stale.text
    assert rows_of(stale.text) == {"city": ("Hangzhou", "Ningbo")}
    assert f'<th scope="row">{label}</th>' in stale.text
    assert _stored(db, customer).city == "Ningbo"  # nothing of the stale form was written
    again = form_of(stale.text, url)
    v = int(second["version"])
    assert again["version"] == str(v + 1) and again["phone"] == "222"
    assert again["base.phone"] == "222"
    assert tab.post(url, again).status_code == 303
    c = _stored(db, customer)
    assert (c.phone, c.city, c.version) == ("222", "Hangzhou", v + 2)


def test_the_same_field_changed_by_both_shows_both_values(client, users, db, customer):
    tab, url, first, second = _tabs(client, users, db, customer)
    assert tab.post(url, {**first, "city": "Shanghai", "phone": "222"}).status_code == 303
    stale = tab.post(url, {**second, "city": "Hangzhou"})
    assert stale.status_code == 409
    assert rows_of(stale.text) == {"city": ("Hangzhou", "Shanghai")}
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    c = _stored(db, customer)
    assert (c.city, c.phone) == ("Hangzhou", "222")  # mine where I changed, theirs elsewhere


def test_custom_fields_and_contacts_merge_field_by_field(client, users, db, customer):
    tab, url, first, second = _tabs(client, users, db, customer)
    one = {
        **first,
        "custom_fields.size": "XL",
        "contacts.0.name": "Li Lei",
        "contacts.0.email": "li@example.com",
        "contacts.0.is_primary": "1",
    }
    assert tab.post(url, one).status_code == 303
    stale = tab.post(url, {**second, "custom_fields.colour": "blue", "consent_email": "1"})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert set(rows) == {"custom_fields.colour", "consent_email"}
    assert rows["custom_fields.colour"] == ("blue", "red")
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    c = _stored(db, customer)
    assert c.custom_fields["size"] == "XL" and c.custom_fields["colour"] == "blue"
    assert [(k.name, k.email, k.is_primary) for k in c.contacts] == [
        ("Li Lei", "li@example.com", True)
    ]
    assert c.consent_email is True


def test_changed_contacts_are_applied_as_a_whole(client, users, db, customer):
    """Contact rows are one field: mine (all rows) against the stored ones."""
    tab, url, first, second = _tabs(client, users, db, customer)
    assert tab.post(url, {**first, "phone": "222", "contacts.0.name": "Han"}).status_code == 303
    stale = tab.post(url, {**second, "contacts.0.name": "Wang", "contacts.0.role": "Buyer"})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert list(rows) == ["contacts"]
    assert "Wang" in rows["contacts"][0] and "Han" in rows["contacts"][1]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    c = _stored(db, customer)
    assert [(k.name, k.role) for k in c.contacts] == [("Wang", "Buyer")] and c.phone == "222"


def test_a_form_with_errors_keeps_the_values_it_was_loaded_with(client, users, db, customer):
    tab, url, first, second = _tabs(client, users, db, customer)
    assert tab.post(url, {**first, "phone": "222"}).status_code == 303
    bad = tab.post(url, {**second, "city": "Hangzhou", "email": "not-an-email"})
    assert bad.status_code == 422
    shown = form_of(bad.text, url)
    # The base is the loaded one, not what was typed: the second try still merges.
    assert shown["version"] == second["version"]
    assert shown["base.phone"] == "111" and shown["base.city"] == "Ningbo"
    assert shown["city"] == "Hangzhou"
    stale = tab.post(url, {**shown, "email": "acme@example.com"})
    assert stale.status_code == 409 and set(rows_of(stale.text)) == {"city", "email"}
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    c = _stored(db, customer)
    assert (c.phone, c.city, c.email) == ("222", "Hangzhou", "acme@example.com")
