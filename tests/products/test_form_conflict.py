"""The product form's stale-edit page compares three ways (web.conflict): two tabs on one
product, each changing something. The second save lists only what the second tab changed, and
"Apply my values" keeps the first tab's change."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retento.products.models import Product
from tests.factories import make_product
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser


def _tabs(client, users, db, locale: str = "en"):
    p = make_product(db, name="Kettle", unit_price=Decimal("40.00"), category="kitchen")
    users["manager"].locale = locale
    db.commit()
    tab = Browser(client)
    tab.login("manager")
    url = f"/products/{p.id}/edit"
    return p, tab, url, form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)


def _stored(db, p) -> Product:
    db.expire_all()
    return db.get(Product, p.id)


@pytest.mark.parametrize(("locale", "label"), [("en", "Category"), ("zh_CN", "类别")])
def test_other_field_listed_alone_and_both_changes_survive(client, users, db, locale, label):
    p, tab, url, first, second = _tabs(client, users, db, locale)
    assert second["base.unit_price"] == "40.00"
    assert tab.post(url, {**first, "unit_price": "45.00"}).status_code == 303
    stale = tab.post(url, {**second, "category": "home"})
    assert stale.status_code == 409, stale.text
    assert rows_of(stale.text) == {"category": ("home", "kitchen")}
    assert f'<th scope="row">{label}</th>' in stale.text
    assert _stored(db, p).category == "kitchen"  # nothing of the stale form was written
    again = form_of(stale.text, url)
    assert again["unit_price"] == "45.00" and again["base.unit_price"] == "45.00"
    assert tab.post(url, again).status_code == 303
    stored = _stored(db, p)
    assert (stored.unit_price, stored.category) == (Decimal("45.00"), "home")


def test_same_field_shows_both_values(client, users, db):
    p, tab, url, first, second = _tabs(client, users, db)
    assert tab.post(url, {**first, "unit_price": "45.00", "name": "Big kettle"}).status_code == 303
    stale = tab.post(url, {**second, "unit_price": "39.50"})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert list(rows) == ["unit_price"] and "39.5" in rows["unit_price"][0]
    assert "45" in rows["unit_price"][1]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    stored = _stored(db, p)
    assert (stored.unit_price, stored.name) == (Decimal("39.50"), "Big kettle")


def test_a_form_with_errors_keeps_the_values_it_was_loaded_with(client, users, db):
    p, tab, url, first, second = _tabs(client, users, db)
    assert tab.post(url, {**first, "unit_price": "45.00"}).status_code == 303
    bad = tab.post(url, {**second, "category": "home", "unit_cost": "1.005"})
    assert bad.status_code == 422
    shown = form_of(bad.text, url)
    assert shown["version"] == second["version"] and shown["base.unit_price"] == "40.00"
    assert shown["category"] == "home"
    stale = tab.post(url, {**shown, "unit_cost": second["unit_cost"]})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["category"]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    stored = _stored(db, p)
    assert (stored.unit_price, stored.category) == (Decimal("45.00"), "home")
