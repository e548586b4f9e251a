"""The order form's stale-edit page compares three ways (web.conflict): two tabs on one order,
each changing something. The second save lists only what the second tab changed, and "Apply
my values" keeps the first tab's change, its lines too (the lines are one field: changed by
this tab, they are applied whole)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retento.orders.models import Order
from tests.factories import make_customer, make_order, make_product
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser


@pytest.fixture
def order(db, users):
    c = make_customer(db, name="Buyer", owner_id=users["agent"].id)
    kettle = make_product(db, name="Kettle", unit_price=Decimal("40.00"))
    mug = make_product(db, name="Mug", unit_price=Decimal("5.00"))
    o = make_order(db, c, lines=[(kettle, 2), (mug, 4)], note="first note")
    db.commit()
    return o


def _tabs(client, users, db, o, locale: str = "en"):
    users["agent"].locale = locale
    db.commit()
    tab = Browser(client)
    tab.login("agent")
    url = f"/orders/{o.id}/edit"
    return tab, url, form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)


def _stored(db, o) -> Order:
    db.expire_all()
    return db.get(Order, o.id)


@pytest.mark.parametrize(("locale", "label"), [("en", "Note"), ("zh_CN", "备注")])
def test_other_field_listed_alone_and_the_other_tabs_lines_survive(
    client, users, db, order, locale, label
):
    tab, url, first, second = _tabs(client, users, db, order, locale)
    assert second["base.lines.1.quantity"] == "4" and second["base.note"] == "first note"
    assert tab.post(url, {**first, "lines.1.quantity": "6"}).status_code == 303
    stale = tab.post(url, {**second, "note": "second note"})
    assert stale.status_code == 409, stale.text
    assert rows_of(stale.text) == {"note": ("second note", "first note")}
    assert f'<th scope="row">{label}</th>' in stale.text
    again = form_of(stale.text, url)
    assert again["lines.1.quantity"] == "6" and again["base.lines.1.quantity"] == "6"
    assert tab.post(url, again).status_code == 303
    o = _stored(db, order)
    assert o.note == "second note"
    assert sorted(ln.quantity for ln in o.lines) == [2, 6]


def test_same_field_shows_both_values(client, users, db, order):
    tab, url, first, second = _tabs(client, users, db, order)
    assert tab.post(url, {**first, "note": "from tab one", "discount": "3.00"}).status_code == 303
    stale = tab.post(url, {**second, "note": "from tab two"})
    assert stale.status_code == 409
    assert rows_of(stale.text) == {"note": ("from tab two", "from tab one")}
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    o = _stored(db, order)
    assert (o.note, o.discount) == ("from tab two", Decimal("3.00"))


def test_lines_changed_by_this_tab_are_applied_whole(client, users, db, order):
    tab, url, first, second = _tabs(client, users, db, order)
    assert tab.post(url, {**first, "note": "tab one", "lines.0.quantity": "3"}).status_code == 303
    stale = tab.post(url, {**second, "lines.1.quantity": "5"})
    assert stale.status_code == 409
    assert list(rows_of(stale.text)) == ["lines"]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    o = _stored(db, order)
    # My rows as I sent them (the kettle back at 2): one field, applied whole, as the page said.
    assert o.note == "tab one" and sorted(ln.quantity for ln in o.lines) == [2, 5]
