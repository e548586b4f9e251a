"""A sales clerk on a 375-px phone (Playwright, real Chromium), in English and Chinese: the header's
menus on the screen, the order lines and contacts labelled, an order with refunds no wider than
the screen, dates and states on one line in the Chinese tables."""

from __future__ import annotations

import pytest

from tests.web.test_browser import browser, server  # noqa: F401  (shared fixtures)
from tests.web.test_browser_layout import close, open_page

pytestmark = pytest.mark.browser

PHONE = (375, 812)

# Where each open header menu's list sits, the page's width, and the language buttons' heights.
MENUS = """() => ({width: document.documentElement.scrollWidth,
    lists: [...document.querySelectorAll('details.navmenu[open] .navmenu-list')].map(l => {
        const r = l.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.right)]; }),
    langs: [...document.querySelectorAll('.langswitch .lang')].map(b => b.getBoundingClientRect().height)})"""


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
@pytest.mark.parametrize("width", [320, 375])
def test_the_header_menus_open_on_the_screen_of_a_phone(browser, server, lang, width):  # noqa: F811
    """ "More" sits at the right end of the links' last row: its list, anchored at its left
    edge, ran 60 px past a 375-px screen ("Complaint dashboa…") and the page scrolled sideways;
    the Chinese language button broke onto two lines ("简体中/文")."""
    context, page = open_page(browser, server, width, 812, lang)
    try:
        page.goto(f"{server.base_url}/customers")
        for kind in ("moremenu", "adminmenu", "usermenu"):
            menu = page.locator(f"details.{kind}")
            if not menu.count():
                continue
            menu.locator("summary").click()
            fit = page.evaluate(MENUS)
            assert fit["width"] == width, (kind, fit)
            [(left, right)] = fit["lists"]
            assert 0 <= left and right <= width, (kind, fit)
            assert all(h < 36 for h in fit["langs"]), fit
            menu.locator("summary").click()
    finally:
        close(context, page, lang)


# Every field of the order lines / contact rows: its name shown above it, or nothing.
ROW_LABELS = """sel => [...document.querySelectorAll(sel + ' .row:not(.row-head)')].map(row =>
    [...row.querySelectorAll('[data-label]')].map(f => {
        const b = getComputedStyle(f, '::before');
        return b.display === 'none' || b.content === 'none' ? ''
            : b.content.replace(/^"|"$/g, ''); }))"""


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_order_lines_and_contacts_name_their_fields_on_a_phone(browser, server, lang):  # noqa: F811
    """On a phone a row's fields stack under one another: the column headings stood apart at
    the top, so four unnamed inputs a line left "1", "" and "0.00" to guess from."""
    context, page = open_page(browser, server, *PHONE, lang)
    names = {
        "en": (["Product", "Quantity", "Unit price", "Line discount"], "Primary"),
        "zh_CN": (["产品", "数量", "单价", "行折扣"], "主要"),
    }[lang]
    try:
        page.goto(f"{server.base_url}/customers/{server.ids['Li Wei']}/orders/new")
        page.click("[data-add-row='#line-row']")  # a row added in the browser too
        assert not page.locator("#line-rows .row-head").is_visible()
        rows = page.evaluate(ROW_LABELS, "#line-rows")
        assert len(rows) >= 4 and all(r == names[0] for r in rows), rows
        page.goto(f"{server.base_url}/customers/new")
        page.click("[data-add-row='#contact-row']")
        rows = page.evaluate(ROW_LABELS, "#contact-rows")
        assert len(rows) >= 3 and all(r[-1] == names[1] and len(r) == 5 for r in rows), rows
    finally:
        close(context, page, lang)
    # a laptop keeps the headings row and shows no name per field
    context, page = open_page(browser, server, 1366, 768, lang)
    try:
        page.goto(f"{server.base_url}/customers/{server.ids['Li Wei']}/orders/new")
        assert page.locator("#line-rows .row-head").is_visible()
        assert {f for r in page.evaluate(ROW_LABELS, "#line-rows") for f in r} == {""}
    finally:
        close(context, page, lang)


def test_an_order_with_refunds_is_no_wider_than_a_phone(browser, server):  # noqa: F811
    """The refunds table (and the locked lines on the edit page) sat outside a scrolling
    wrapper: with a refund recorded the order page was 418 px wide on a 375-px screen."""
    context, page = open_page(browser, server, *PHONE, "en")
    try:
        page.goto(f"{server.base_url}/customers/{server.ids['Maria Rossi']}")
        page.locator("#orders-table tbody a").first.click()
        page.wait_for_selector("#refund-form")
        page.fill("#refund-form #f-amount", "1.00")
        page.select_option("#refund-form #f-line_id", index=1)
        page.fill("#refund-form #f-quantity", "1")
        page.fill("#refund-form #f-reason", "The box arrived dented at one corner")
        page.click("#refund-form button[type=submit]")
        page.wait_for_selector("#refunds-table")
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE[0]
        page.click("#edit-order")
        page.wait_for_selector("#lines-locked")
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE[0]
    finally:
        close(context, page, "en")


# How many lines each cell of the given columns takes in the table's rows (its text's boxes
# by their tops; a badge's box starts a few pixels above the text on its line).
CELL_LINES = """([sel, cols]) => [...document.querySelectorAll(sel + ' tbody tr')].map(tr =>
    cols.map(i => { const r = document.createRange(); r.selectNodeContents(tr.cells[i]);
        const tops = [...r.getClientRects()].map(x => x.top).sort((a, b) => a - b);
        return tops.filter((t, k) => k === 0 || t - tops[k - 1] > 8).length; }))"""


def test_chinese_dates_and_states_keep_to_one_line_on_a_phone(browser, server):  # noqa: F811
    """A table too wide for the phone squeezed its Chinese cells to one character a line
    ("2026/年11/月27/日", "已/完/成", "王/志/强"); they keep to one line and the table scrolls."""
    context, page = open_page(browser, server, *PHONE, "zh_CN")
    try:
        page.goto(f"{server.base_url}/customers/{server.ids['王芳']}")
        # the recent orders: date, status, channel
        lines = page.evaluate(CELL_LINES, ["#orders-table", [1, 2, 3]])
        assert lines and {n for row in lines for n in row} == {1}, lines
        page.goto(f"{server.base_url}/orders")
        lines = page.evaluate(CELL_LINES, ["#order-table", [1, 3, 4]])
        assert lines and {n for row in lines for n in row} == {1}, lines
        page.goto(f"{server.base_url}/touchpoints")
        lines = page.evaluate(CELL_LINES, ["#touchpoint-table", [0, 2, 3, 4, 5]])
        assert lines and {n for row in lines for n in row} == {1}, lines
        page.goto(f"{server.base_url}/customers?q=王")
        lines = page.evaluate(CELL_LINES, ["#customer-table", [0, 1]])
        assert lines and {n for row in lines for n in row} == {1}, lines
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE[0]
        # a product's name, category and state ("龙/井/礼/盒", "茶/叶")
        page.goto(f"{server.base_url}/products/new")
        page.fill("#f-name", "龙井礼盒")
        page.fill("#f-category", "茶叶")
        page.fill("#f-unit_price", "388")
        page.fill("#f-unit_cost", "190")
        page.click("main form button[type=submit]")
        page.wait_for_selector("#product-table")
        page.goto(f"{server.base_url}/products?q=龙井")
        lines = page.evaluate(CELL_LINES, ["#product-table", [0, 2, 5]])
        assert lines == [[1, 1, 1]], lines
    finally:
        close(context, page, "zh_CN")


def test_the_conflict_page_keeps_its_buttons_on_a_phone(browser, server):  # noqa: F811
    """Two tabs edit one customer: the second save shows the conflict page, whose three
    buttons ran past a 375-px screen in Chinese ("取消" off the edge)."""
    context, page = open_page(browser, server, *PHONE, "zh_CN")
    try:
        url = f"{server.base_url}/customers/{server.ids['Li Wei']}/edit"
        other = context.new_page()
        page.goto(url)
        other.goto(url)
        page.fill("#f-city", "深圳")
        page.click("#customer-form button[type=submit]")
        page.wait_for_url(f"{server.base_url}/customers/{server.ids['Li Wei']}")
        other.fill("#f-city", "广州")
        other.click("#customer-form button[type=submit]")
        other.wait_for_selector(".form-actions")
        assert "其他人修改了" in other.inner_text("h1")
        assert other.evaluate("document.documentElement.scrollWidth") == PHONE[0]
        right = other.evaluate(
            "Math.max(...[...document.querySelectorAll('.form-actions > *')]"
            ".map(e => e.getBoundingClientRect().right))"
        )
        assert right <= PHONE[0]
        other.close()
    finally:
        close(context, page, "zh_CN")
