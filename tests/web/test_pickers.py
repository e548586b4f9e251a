"""Search-as-you-type pickers: the ``/pickers/<kind>`` route with the customer and product
sources, their permissions, and the no-JavaScript fallback of a typed name (SQLite and
PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.customers import service as customers
from retento.customers.schemas import CustomerCreate
from retento.products.models import Product
from retento.web import pickers
from tests.factories import make_product
from tests.web.conftest import Browser


def options(html: str) -> list[str]:
    """The labels of the options of a picker fragment, in order."""
    return re.findall(r'data-label="([^"]*)"', html)


@pytest.fixture
def people(db, users):
    mk = lambda **kw: customers.create_customer(db, CustomerCreate(**kw), actor=users["manager"])  # noqa: E731
    out = {
        "wang": mk(name="王小明", phone="+86 138 0013 8000", email="xm.wang@example.cn"),
        "li": mk(name="李明", external_id="DC0000002"),
        "ava": mk(name="Ava Clark", email="ava.clark@example.com", phone="+44 7000000584"),
    }
    make_product(db, name="Espresso machine Deluxe", external_id="SKU-ESP-900", category="coffee")
    make_product(db, name="Milk frother", external_id="SKU-MF-12", category="coffee")
    make_product(db, name="Espresso cups (old)", external_id="SKU-ESP-001", is_active=False)
    db.commit()
    return out


def test_customer_search_by_chinese_name_fragment(client, people):
    web = Browser(client)
    web.login("agent")
    r = web.get("/pickers/customer", params={"q": "明", "field": "customer_id"})
    assert r.status_code == 200
    assert set(options(r.text)) == {"王小明", "李明"}
    assert 'role="option"' in r.text and f'data-id="{people["wang"].id}"' in r.text
    # Option ids derive from the field, so two pickers on one page do not clash.
    assert f'id="o-customer_id-{people["li"].id}"' in r.text
    r = web.get("/pickers/customer", params={"q": "小明"})
    assert options(r.text) == ["王小明"]


def test_customer_search_by_phone_fragment_and_email(client, people):
    web = Browser(client)
    web.login("agent")
    r = web.get("/pickers/customer", params={"q": "0013 8000"})
    assert options(r.text) == ["王小明"]
    assert "+86 138 0013 8000" in r.text  # the detail line helps tell namesakes apart
    assert options(web.get("/pickers/customer", params={"q": "7000000584"}).text) == ["Ava Clark"]
    assert options(web.get("/pickers/customer", params={"q": "ava.clark"}).text) == ["Ava Clark"]


def test_product_search_by_sku_and_name(client, people):
    web = Browser(client)
    web.login("agent")
    r = web.get("/pickers/product", params={"q": "sku-esp"})
    assert r.status_code == 200
    # Active first; an inactive product is still findable (a complaint may concern it), marked.
    assert options(r.text) == ["Espresso machine Deluxe", "Espresso cups (old)"]
    assert "Inactive" in r.text
    assert options(web.get("/pickers/product", params={"q": "frother"}).text) == ["Milk frother"]


def test_empty_query_gives_no_options_and_no_match_says_so(client, people):
    web = Browser(client)
    web.login("agent")
    r = web.get("/pickers/customer", params={"q": "   "})
    assert r.status_code == 200 and options(r.text) == [] and "picker-empty" not in r.text
    r = web.get("/pickers/customer", params={"q": "Zebedee"})
    assert r.status_code == 200 and options(r.text) == []
    assert "No customer matches “Zebedee”." in r.text
    r = web.get("/pickers/product", params={"q": "nothing-like-this"})
    assert "No product matches “nothing-like-this”." in r.text


def test_messages_in_chinese(client, people):
    web = Browser(client)
    web.login("agent")
    web.post("/locale", {"lang": "zh_CN", "next": "/customers"})
    r = web.get("/pickers/customer", params={"q": "Zebedee"})
    assert "没有与“Zebedee”匹配的客户。" in r.text
    r = web.get("/pickers/product", params={"q": "sku-esp-001"})
    assert "已停用" in r.text


def test_permissions_login_and_unknown_kind(client, people, monkeypatch):
    # Not logged in: the login page (htmx: a redirect header), never data.
    r = client.get("/pickers/customer", params={"q": "明"}, follow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["location"]
    r = client.get("/pickers/customer", params={"q": "明"}, headers={"HX-Request": "true"})
    assert r.headers.get("hx-redirect", "").startswith("/login") and "王小明" not in r.text
    web = Browser(client)
    web.login("agent")
    assert web.get("/pickers/nothing", params={"q": "x"}).status_code == 404
    # A source whose permission the role lacks is refused with 403.
    monkeypatch.setitem(
        pickers._SOURCES,
        "secret",
        pickers.PickerSource(
            "secret",
            "user:manage",
            search=lambda s, q, a, n: [pickers.PickerItem(1, "Top secret record")],
            get=lambda s, i, a: None,
        ),
    )
    r = web.get("/pickers/secret", params={"q": "h"})
    assert r.status_code == 403 and "Top secret record" not in r.text
    admin = Browser(client)
    admin.login("admin")
    assert options(admin.get("/pickers/secret", params={"q": "h"}).text) == ["Top secret record"]


def test_labels_are_escaped(client, db, users):
    customers.create_customer(db, CustomerCreate(name='<b>"Bold" & Co</b>'), actor=users["manager"])
    db.commit()
    web = Browser(client)
    web.login("agent")
    r = web.get("/pickers/customer", params={"q": "Bold"})
    assert "<b>" not in r.text and "&lt;b&gt;" in r.text and "&#34;Bold&#34;" in r.text


def test_complaint_form_resolves_a_typed_name_without_javascript(client, db, people):
    from retento.complaints.models import Complaint
    from retento.complaints.service import category_by_code

    web = Browser(client)
    web.login("agent")
    page = web.get("/complaints/new")
    assert 'data-picker="customer"' in page.text and 'data-picker="product"' in page.text
    form = {
        "kind": "complaint",
        "channel": "phone",
        "category_id": str(category_by_code(db, "delivery").id),
        "severity": "2",
        "emotion": "calm",
        "subject": "Frother broke",
        "description": "Stopped after a week.",
    }
    # Several matches: the field says how many and what to type; nothing is saved.
    r = web.post("/complaints/new", {**form, "customer_id": "明", "product_id": "frother"})
    assert r.status_code == 422
    assert 'id="e-customer_id"' in r.text and "2 customers match “明”" in r.text
    r = web.post("/complaints/new", {**form, "customer_id": "Zebedee"})
    assert r.status_code == 422 and "No customer matches “Zebedee”." in r.text
    # One match each: taken, as if picked.
    r = web.post("/complaints/new", {**form, "customer_id": "小明", "product_id": "frother"})
    assert r.status_code == 303, r.text
    c = db.get(Complaint, int(r.headers["location"].rsplit("/", 1)[1]))
    assert c.customer_id == people["wang"].id
    assert c.product_id == db.scalar(select(Product.id).where(Product.name == "Milk frother"))
    detail = web.get(f"/complaints/{c.id}")
    assert "王小明" in detail.text and "Milk frother" in detail.text
    # The edit form shows the chosen product by name.
    edit = web.get(f"/complaints/{c.id}/edit")
    assert 'class="picker-chosen-label">Milk frother<' in edit.text


def test_a_fuzzy_match_is_offered_but_never_taken_unseen(client, db, people, users):
    from retento.complaints.service import category_by_code

    web = Browser(client)
    web.login("agent")
    customers.create_customer(db, CustomerCreate(name="Ava Clarkson"), actor=users["manager"])
    db.commit()
    # "clarkosn": a typo; the picker offers Ava Clarkson (among close names) ...
    assert "Ava Clarkson" in options(web.get("/pickers/customer", params={"q": "clarkosn"}).text)
    # ... but a form posted without JavaScript does not file the complaint against a guess.
    form = {
        "kind": "complaint",
        "channel": "phone",
        "category_id": str(category_by_code(db, "delivery").id),
        "severity": "1",
        "emotion": "calm",
        "subject": "s",
        "description": "d",
        "customer_id": "clarkosn",
    }
    r = web.post("/complaints/new", form)
    assert r.status_code == 422 and "No customer matches “clarkosn”." in r.text


def test_loyalty_counter_and_rule_form_use_the_pickers(client, db, people, users):
    web = Browser(client)
    web.login("manager")
    page = web.get("/loyalty/counter")
    assert 'data-picker="customer"' in page.text and "data-picker-submit" in page.text
    # The picker submits the id; without JavaScript a name with one match finds the member.
    ava = people["ava"].id
    r = web.get("/loyalty/counter", params={"q": str(ava)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(f"/loyalty/members/{ava}#redeem")
    r = web.get("/loyalty/counter", params={"q": "Ava Clark"}, follow_redirects=False)
    assert r.status_code == 303 and f"/loyalty/members/{ava}" in r.headers["location"]
    r = web.get("/loyalty/counter", params={"q": "明"}, follow_redirects=False)
    assert r.status_code == 200 and "2 customers match “明”" in r.text
    # The earning-rule form picks the product of a product rule, shown by name when re-shown.
    page = web.get("/loyalty/rules/new")
    assert 'data-picker="product"' in page.text
    frother = db.scalar(select(Product.id).where(Product.name == "Milk frother"))
    r = web.post(
        "/loyalty/rules/new",
        {"name": "Frother bonus", "kind": "product", "product_id": str(frother), "rate": "x"},
    )
    assert r.status_code == 422 and 'class="picker-chosen-label">Milk frother<' in r.text


def test_a_mobile_number_typed_without_javascript_is_searched_not_taken_as_an_id(
    client, db, people, users
):
    """Ids are 64-bit, so an 11-digit mobile number is a valid id too: when no record has that
    id the number is searched, in forms and at the loyalty counter."""
    from retento.complaints.models import Complaint
    from retento.complaints.service import category_by_code

    zhao = customers.create_customer(
        db, CustomerCreate(name="赵敏", phone="13912345678"), actor=users["manager"]
    )
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.get("/loyalty/counter", params={"q": "13912345678"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"/loyalty/members/{zhao.id}#redeem")
    form = {
        "kind": "complaint",
        "channel": "phone",
        "category_id": str(category_by_code(db, "delivery").id),
        "severity": "1",
        "emotion": "calm",
        "subject": "s",
        "description": "d",
        "customer_id": "13912345678",
    }
    r = web.post("/complaints/new", form)
    assert r.status_code == 303, r.text
    c = db.get(Complaint, int(r.headers["location"].rsplit("/", 1)[1]))
    assert c.customer_id == zhao.id
    # A record's own id is still taken as it is, and a number nobody has is refused.
    assert pickers.resolve(
        None, db, "customer", "customer_id", str(zhao.id), users["agent"]
    ) == str(zhao.id)
    r = web.post("/complaints/new", {**form, "customer_id": "98765432101"})
    assert r.status_code in (404, 422)
    assert db.scalar(select(Complaint.id).where(Complaint.subject == "s").offset(1)) is None
