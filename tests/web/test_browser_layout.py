"""Layout in a real Chromium (Playwright): the wide lists at 1366 × 768, the at-risk list on a
390-px phone, the journey funnel's filter bar; in English and Chinese."""

from __future__ import annotations

import pytest

from tests.retention.test_browser import risky  # noqa: F401  (scores, alerts: the at-risk list)
from tests.web.live import BROWSER_TIMEOUT_MS
from tests.web.test_browser import browser, login, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

WIDE_LISTS = (
    "/customers",
    "/complaints?tab=open",
    "/retention/at-risk",
    "/retention/playbooks",  # its cost and "enabled" columns were behind a scrollbar
    "/loyalty/members",
    "/value",
    "/value/customers",
)

# How wide the page is, the tables outside a scrolling wrapper, and the wrappers whose table
# is wider than they are (cut off behind a scrollbar).
FIT = """() => ({width: document.documentElement.scrollWidth,
    bare: [...document.querySelectorAll('table.data')].filter(t => !t.closest('.table-wrap'))
        .map(t => t.id || t.className),
    cut: [...document.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1)
        .map(w => (w.querySelector('table') || {}).id)})"""


def open_page(browser, server, width, height, lang, user="manager"):  # noqa: F811
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=width < 500,
        has_touch=width < 500,
        locale="en-US",
    )
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    login(page, server, user)
    if lang == "zh_CN":
        page.click("button.lang[value=zh_CN]")
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
    return context, page


def close(context, page, lang) -> None:
    if lang == "zh_CN":  # the choice is saved on the user: leave them in English
        page.click("button.lang[value=en]")
        page.wait_for_selector("html[lang=en]", state="attached")
    context.close()


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_wide_lists_fit_a_1366_px_laptop(browser, risky, lang):  # noqa: F811
    """Every table of the wide lists sits in a ``table-wrap`` and shows all its columns: the
    page is no wider than the screen and no table hides a column behind a scrollbar."""
    context, page = open_page(browser, risky, 1366, 768, lang)
    try:
        for url in WIDE_LISTS:
            page.goto(f"{risky.base_url}{url}")
            page.wait_for_load_state("networkidle")
            fit = page.evaluate(FIT)
            assert fit == {"width": 1366, "bare": [], "cut": []}, (url, fit)
    finally:
        close(context, page, lang)


# The first row of the at-risk list: the key cells' boxes, and whether the other cells show.
AT_RISK_ROW = """() => {
    const row = document.querySelector('#at-risk-table tbody tr');
    const box = c => { const r = c.getBoundingClientRect();
                       return {left: r.left, right: r.right, top: r.top, shown: r.width > 0}; };
    const cells = [...row.cells];
    return {width: document.documentElement.scrollWidth, height: row.getBoundingClientRect().height,
            name: box(cells[0]), risk: box(cells[1]), var: box(cells[2]), why: box(cells[3]),
            extra: cells.slice(5).map(c => getComputedStyle(c).display)};
}"""


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_at_risk_list_shows_its_key_columns_first_on_a_phone(browser, risky, lang):  # noqa: F811
    """On a 390-px phone the customer, the churn risk, the value at risk and the reason are on
    screen without scrolling, each row a few lines; the other columns wait on the 360 page."""
    context, page = open_page(browser, risky, 390, 844, lang)
    try:
        page.goto(f"{risky.base_url}/retention/at-risk")
        row = page.evaluate(AT_RISK_ROW)
        assert row["width"] == 390, row
        for key in ("name", "risk", "var", "why"):
            assert row[key]["shown"] and 0 <= row[key]["left"] and row[key]["right"] <= 390, (
                key,
                row,
            )
        # customer, risk and value at risk on one line, the reason under them
        assert (
            abs(row["name"]["top"] - row["risk"]["top"]) < 20
            and row["why"]["top"] > row["name"]["top"]
        )
        assert row["height"] < 220, row
        assert set(row["extra"]) == {"none"}, row
    finally:
        close(context, page, lang)
    # the laptop keeps every column, the key ones first
    context, page = open_page(browser, risky, 1366, 768, lang)
    try:
        page.goto(f"{risky.base_url}/retention/at-risk")
        heads = page.locator("#at-risk-table thead th").all_inner_texts()
        assert len(heads) == 9
        expected = ["CUSTOMER", "CHURN RISK", "VALUE AT RISK", "WHY"] if lang == "en" else None
        if expected:
            assert [h.strip().upper() for h in heads[:4]] == expected
    finally:
        close(context, page, lang)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_journey_filters_keep_apply_on_their_line(browser, server, lang):  # noqa: F811
    """Both check boxes ticked: "Apply" stays on the line of the period and the dates."""
    context, page = open_page(browser, server, 1366, 768, lang)
    try:
        page.goto(f"{server.base_url}/insights/journey?include=orders&include=complaints")
        assert page.is_checked("#f-include-orders") and page.is_checked("#f-include-complaints")
        period = page.locator("#f-period").bounding_box()
        apply = page.locator("#period-apply").bounding_box()
        assert abs((apply["y"] + apply["height"]) - (period["y"] + period["height"])) < 8, (
            period,
            apply,
        )
        assert apply["width"] < 140  # as wide as its word, not a field's width
    finally:
        close(context, page, lang)
