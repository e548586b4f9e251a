"""A search for a customer's own exact email or name puts that customer first, and a Chinese
name typed with a space ("林 涛") finds 林涛 on SQLite as on PostgreSQL (the ``db`` fixture runs
on both).

Before: a whole contact name or email ranked exact like the customer's own, so a company whose
contact had the address (or the name) came first by name; and SQLite looked "林 涛" up in its
trigram table as the three characters "林 涛", which no name has."""

from __future__ import annotations

import re

import pytest

from retento.customers import search, service
from retento.customers.schemas import ContactIn, CustomerCreate

EMAIL = "lin.tao@example.com"


def _create(db, users, **kw):
    return service.create_customer(db, CustomerCreate(**kw), actor=users["manager"], force=True)


def _people(db, users):
    # Names sort before "Zhou Lin": a tie broken by name put them first.
    _create(db, users, name="Acme Trading", contacts=[ContactIn(name="Zhou Lin", email=EMAIL)])
    _create(db, users, name="Alin Tao Shop", email="a" + EMAIL)  # contains the address
    _create(db, users, name="Lin Tao", email="lt@example.com")  # a name like the address
    _create(db, users, name="Zhou Lin", email=EMAIL.upper())
    _create(db, users, name="林涛", phone="+86 139 0000 1111")
    _create(db, users, name="王 小明")  # stored with a space
    db.flush()


def _found(db, q):
    return [(c.name, search.rank_label(r)) for c, r in search.search(db, q)]


def test_the_customer_s_own_exact_email_comes_first(db, users):
    _people(db, users)
    got = _found(db, EMAIL)
    assert got[0] == ("Zhou Lin", "exact")
    # the contact's address is still a whole-field match, after the customer's own
    assert got[1] == ("Acme Trading", "exact")
    assert got[2:] == [("Alin Tao Shop", "substring")]
    assert _found(db, EMAIL.upper())[0] == ("Zhou Lin", "exact")


def test_the_customer_s_own_exact_name_comes_first(db, users):
    _people(db, users)
    got = _found(db, "zhou lin")
    assert got[:2] == [("Zhou Lin", "exact"), ("Acme Trading", "exact")]
    names, _ = service.list_customers(db, actor=users["manager"], q="Zhou Lin")
    assert [c.name for c in names][:2] == ["Zhou Lin", "Acme Trading"]


@pytest.mark.parametrize("q", ["林 涛", "林涛", " 林　涛 "])
def test_a_chinese_name_is_found_with_or_without_a_space(db, users, q):
    _people(db, users)
    assert _found(db, q) == [("林涛", "exact")]


def test_a_chinese_name_stored_with_a_space_is_found_without(db, users):
    _people(db, users)
    assert _found(db, "王小明") == [("王 小明", "exact")]
    assert _found(db, "王小") == [("王 小明", "prefix")]
    assert _found(db, "小明") == [("王 小明", "substring")]
    assert _found(db, "林 小") == []


def _list_names(html: str) -> list[str]:
    return re.findall(r'<td class="name"><a href="/customers/\d+">([^<]+)</a>', html)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_web_list_and_the_picker_show_the_exact_match_first(client, db, users, lang):
    from tests.web.conftest import Browser

    _people(db, users)
    db.commit()
    web = Browser(client)
    web.login("manager")
    web.post("/locale", data={"lang": lang, "next": "/customers"})
    page = web.get("/customers", params={"q": EMAIL, "sort": "relevance"})
    assert page.status_code == 200
    assert _list_names(page.text)[:2] == ["Zhou Lin", "Acme Trading"]
    assert _list_names(web.get("/customers", params={"q": "林 涛"}).text) == ["林涛"]
    options = web.get("/pickers/customer", params={"q": EMAIL, "field": "customer_id"})
    labels = re.findall(r'data-label="([^"]+)"', options.text)
    assert labels[:2] == ["Zhou Lin", "Acme Trading"]
    options = web.get("/pickers/customer", params={"q": "林 涛", "field": "customer_id"})
    assert re.findall(r'data-label="([^"]+)"', options.text) == ["林涛"]
