"""The customer list as a sales clerk types into it: the best match first, and no stray
out-of-band export buttons for a user who may not export."""

from __future__ import annotations

import re

from tests.factories import make_customer
from tests.web.conftest import Browser

HTMX = {"HX-Request": "true", "HX-Target": "results"}


def _selected_sort(html: str) -> str:
    select = re.search(r'<select id="f-sort" name="sort".*?</select>', html, re.S)
    assert select, "the list has no sort control"
    chosen = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', select.group(0))
    assert chosen, "no sort is selected"
    return chosen.group(1)


def _names(html: str) -> list[str]:
    return re.findall(r'<td class="name"><a href="/customers/\d+">([^<]+)</a>', html)


def test_typing_a_name_into_the_list_puts_the_exact_match_first(client, users, db):
    """The form sends its sort select back with every keystroke: the plain list used to show
    "Name A–Z" there, so a search for "Mia Smith" came back by name, below "Chloe Smith"."""
    for name in ("Chloe Smith", "Daniel Smith", "Mia Smith", "Mia Smithers"):
        make_customer(db, name=name)
    db.commit()
    web = Browser(client)
    web.login("agent")
    sort = _selected_sort(web.get("/customers").text)
    assert sort == "relevance"
    r = web.get("/customers", params={"q": "Mia Smith", "sort": sort}, headers=HTMX)
    assert r.status_code == 200
    assert _names(r.text)[0] == "Mia Smith"
    # without a search the same choice lists by name, and a chosen order is kept
    assert _names(web.get("/customers", params={"sort": sort}).text)[:2] == [
        "Chloe Smith",
        "Daniel Smith",
    ]
    by_name = web.get("/customers", params={"q": "Mia Smith", "sort": "-name"}, headers=HTMX)
    assert _names(by_name.text)[0] == "Mia Smithers"


def test_a_search_sends_export_buttons_only_to_users_who_may_export(client, users, db):
    """The agent's list page has no export buttons: out-of-band copies of them in every search
    answer found no target (htmx logged ``oobErrorNoTarget`` on each keystroke)."""
    make_customer(db, name="Export Probe")
    db.commit()
    web = Browser(client)
    web.login("agent")
    assert 'id="export-link"' not in web.get("/customers").text
    r = web.get("/customers", params={"q": "probe"}, headers=HTMX)
    assert "Export Probe" in r.text and "hx-swap-oob" not in r.text
    web = Browser(client)
    web.login("manager")
    r = web.get("/customers", params={"q": "probe"}, headers=HTMX)
    assert r.text.count('hx-swap-oob="true"') == 2 and "q=probe" in r.text
