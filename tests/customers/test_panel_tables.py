"""Every table of the customer 360 page's panels sits in the scrolling ``table-wrap``: on a
390-px phone the journey panel's tables, outside it, made the whole page 659 px wide. Read from
the templates of every registered panel, so a panel added later is checked too (the browser
test ``tests/web/test_browser.py`` measures the page itself)."""

from __future__ import annotations

from html.parser import HTMLParser

from retento.customers import panels
from retento.web.render import environment


class _Tables(HTMLParser):
    """The ids of ``<table>`` elements with no ``<div class="table-wrap">`` around them."""

    VOID = {"br", "input", "img", "hr", "meta", "link", "col", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str]] = []
        self.bare: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables += 1
            if not any(t == "div" and "table-wrap" in c.split() for t, c in self.open):
                self.bare.append(a.get("id") or f"table {self.tables}")
        if tag not in self.VOID:
            self.open.append((tag, a.get("class") or ""))

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break


def test_every_panel_table_scrolls_in_its_wrapper(app):
    env = environment("en")
    checked = {}
    for panel in panels.CUSTOMER_PANELS:
        source, _, _ = env.loader.get_source(env, panel.template)
        parser = _Tables()
        parser.feed(source)
        checked[panel.template] = parser.tables
        assert parser.bare == [], f"{panel.template}: {parser.bare} outside table-wrap"
    # the panels with tables are among those checked (journey: stages and experiences)
    assert checked["journey/_panel.html"] == 2 and checked["complaints/_panel.html"] == 1
