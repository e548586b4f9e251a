"""Browser tests: a real uvicorn server and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.live import BROWSER_TIMEOUT_MS, PASSWORD, LiveServer, wait_js

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with LiveServer(tmp_path_factory.mktemp("live") / "browser.db") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = CspWatchingBrowser(p.chromium.launch(executable_path=CHROMIUM, args=ARGS))
        yield b
        b.close()
    # Every page any test opened ran under the Content-Security-Policy without a violation.
    assert b.csp_violations == []


# Blocked on purpose: ReDoc's footer shows the Redocly logo from Redocly's CDN (the page hides
# the image when it fails to load); the policy keeps third-party requests out.
EXPECTED_BLOCKED = ("https://cdn.redoc.ly/redoc/logo-mini.svg",)


def is_csp_violation(msg) -> bool:
    """A console message reporting something the Content-Security-Policy blocked."""
    return (
        msg.type == "error"
        and "Content Security Policy" in msg.text
        and not any(url in msg.text for url in EXPECTED_BLOCKED)
    )


class CspWatchingBrowser:
    """The Playwright browser; every context it makes records Content-Security-Policy
    violations reported on the console (blocked inline scripts, styles, workers, ...)."""

    def __init__(self, browser):
        self._browser = browser
        self.csp_violations: list[str] = []

    def new_context(self, *args, **kwargs):
        context = self._browser.new_context(*args, **kwargs)
        context.on("console", self._on_console)
        return context

    def _on_console(self, msg) -> None:
        if is_csp_violation(msg):
            self.csp_violations.append(msg.text)

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(BROWSER_TIMEOUT_MS)
    yield pg
    context.close()


def login(page, server, username: str) -> None:
    page.goto(f"{server.base_url}/customers")
    assert "/login" in page.url
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{server.base_url}/customers")


def test_search_open_360_and_add_a_touchpoint(page, server):
    login(page, server, "agent")
    page.fill("#f-q", "acme")
    wait_js(page, "document.querySelectorAll('#customer-table tbody tr').length === 1")
    assert "q=acme" in page.url  # htmx pushed the filter into the address
    page.click("#customer-table a:has-text('Acme Trading Ltd')")
    page.wait_for_selector("#revenue-chart svg")
    assert page.inner_text("#customer-name") == "Acme Trading Ltd"
    before = page.locator("#timeline-list li").count()
    page.fill("#touchpoint-form #f-occurred_at", "2025-06-29T10:15")
    page.select_option("#touchpoint-form #f-channel", "chat")
    page.select_option("#touchpoint-form #f-stage", "after_sales")
    page.fill("#touchpoint-form #f-note", "Browser test: called about the warranty")
    page.click("#touchpoint-form button[type=submit]")
    wait_js(
        page,
        "document.getElementById('timeline-list').innerText.includes('called about the warranty')",
    )
    assert page.locator("#timeline-list li").count() == before + 1
    assert page.locator("#touchpoint-form .flash-ok").is_visible()


def test_bad_value_shows_the_error_next_to_the_field(page, server):
    login(page, server, "manager")
    page.goto(f"{server.base_url}/customers/new")
    page.fill("#f-name", "Browser Co")
    page.fill("#f-email", "not-an-email")
    page.click("#customer-form button[type=submit]")
    error = page.locator(".field.has-error:has(#f-email) .field-error")
    assert "Enter an email address such as name@example.com." in error.inner_text()
    assert page.input_value("#f-name") == "Browser Co"
    page.goto(f"{server.base_url}/customers?q=browser")
    assert "Browser Co" not in page.inner_text("#customer-table")


def test_agent_cannot_open_admin_pages(page, server):
    login(page, server, "agent")
    assert page.locator("nav.mainnav a[href='/admin/users']").count() == 0
    response = page.goto(f"{server.base_url}/admin/users")
    assert response.status == 403
    assert "You do not have access to this page" in page.inner_text("h1")


def test_admin_sees_users_and_audit_log(page, server):
    login(page, server, "admin")
    # The admin pages sit in the Administration menu, closed until opened.
    assert not page.locator("nav.mainnav a[href='/admin/users']").is_visible()
    page.click("nav.mainnav details.adminmenu summary")
    page.click("nav.mainnav a[href='/admin/users']")
    assert page.locator("table.data tbody tr").count() >= 4
    assert "active" in (page.get_attribute("details.adminmenu summary", "class") or "")
    page.click("nav.mainnav details.adminmenu summary")
    page.keyboard.press("Escape")
    assert not page.locator("nav.mainnav a[href='/admin/audit']").is_visible()
    page.click("nav.mainnav details.adminmenu summary")
    page.click("nav.mainnav a[href='/admin/audit']")
    page.click("#audit-table details summary >> nth=0")
    assert page.locator("#audit-table table.diff").first.is_visible()


def test_switch_to_chinese(page, server):
    login(page, server, "analyst")
    page.click("button.lang[value=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    nav = page.inner_text("nav.mainnav")
    assert "客户" in nav
    assert "退出登录" in page.inner_text(".topbar")
    page.click("button.lang[value=en]")
    page.wait_for_selector("html[lang=en]", state="attached")
    assert "Customers" in page.inner_text("nav.mainnav")


# The header's rows: the vertical extent of each entry of the bar (brand, links, menus, language
# switch, bell, user menu, log-out button).
HEADER_ROWS = """() => {
    const items = [...document.querySelectorAll(
        '.topbar-inner > .brand, nav.mainnav > *, .topbar-right > *')];
    const nav = document.querySelector('nav.mainnav').getBoundingClientRect();
    const link = document.querySelector('nav.mainnav > a').getBoundingClientRect();
    return {nav: nav.height, link: link.height, width: document.documentElement.clientWidth,
            centres: items.map(e => { const r = e.getBoundingClientRect();
                                      return [e.textContent.trim(), r.top + r.height / 2]; })};
}"""


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_header_is_one_line_on_a_1366_px_laptop(browser, server, lang):
    """A 1366-px laptop screen less a 17-px scrollbar, as the admin (who has the most entries):
    the links, the More and Administration menus and the user's controls share one line, in
    English and in Chinese, and the pages under More are one click away."""
    context = browser.new_context(viewport={"width": 1349, "height": 768}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        login(page, server, "admin")
        if lang == "zh_CN":
            page.click("button.lang[value=zh_CN]")
            page.wait_for_selector("html[lang=zh-CN]", state="attached")
        rows = page.evaluate(HEADER_ROWS)
        assert rows["width"] == 1349
        assert rows["nav"] < 1.5 * rows["link"], rows  # one line of links, not two
        centres = [y for _, y in rows["centres"]]
        assert max(centres) - min(centres) <= 4, rows["centres"]
        page.click("nav.mainnav details.moremenu summary")
        for href in ("/orders", "/touchpoints", "/complaints/dashboard", "/products", "/imports"):
            assert page.locator(f"nav.mainnav .moremenu a[href='{href}']").is_visible(), href
    finally:
        if lang == "zh_CN":  # the choice is saved on the user: leave the admin in English
            page.click("button.lang[value=en]")
            page.wait_for_selector("html[lang=en]", state="attached")
        context.close()


# Every KPI value: its text, whether it reaches past its box, and its lines (a value wrapped
# onto a second line is taller than 1.6 of its font size).
KPI_FIT = """() => [...document.querySelectorAll('.kpi')].map(k => {
    const v = k.querySelector('.kpi-value'), box = k.getBoundingClientRect();
    const r = v.getBoundingClientRect(), size = parseFloat(getComputedStyle(v).fontSize);
    return {text: v.textContent.trim(), past: v.scrollWidth > v.clientWidth || r.right > box.right,
            lines: Math.round(r.height / (1.6 * size) + 0.49), size};
})"""

# Tables on a page that are not inside the scrolling wrapper, and how wide the page is.
PAGE_FIT = """() => ({width: document.documentElement.scrollWidth,
    bare: [...document.querySelectorAll('table.data')]
        .filter(t => !t.closest('.table-wrap')).map(t => t.id || t.className)})"""


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_kpi_values_and_the_360_page_fit_laptop_and_phone(browser, server, lang):
    """The home page's KPI boxes hold an amount such as the Chinese "US$128,486.84" on one
    line, inside the box, on a 1366-px laptop and a 390-px phone; on the phone the customer
    360 page is no wider than the screen (every panel's table scrolls in its ``table-wrap``)."""
    customer = server.ids["Acme Trading Ltd"]
    for width in (1366, 390):
        context = browser.new_context(
            viewport={"width": width, "height": 844},
            is_mobile=width < 500,
            has_touch=width < 500,
            locale="en-US",
        )
        page = context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        try:
            login(page, server, "manager")
            if lang == "zh_CN":
                page.click("button.lang[value=zh_CN]")
                page.wait_for_selector("html[lang=zh-CN]", state="attached")
            page.goto(f"{server.base_url}/")
            for kpi in page.evaluate(KPI_FIT):
                assert not kpi["past"] and kpi["lines"] == 1, (width, kpi)
            # the amounts the review saw overflow the Chinese home page's boxes
            page.evaluate(
                """() => { document.querySelector('#kpi-revenue .kpi-value').textContent =
                               'US$128,486.84';
                           document.querySelector('#kpi-var .kpi-value').textContent =
                               'US$228,828.67'; }"""
            )
            kpis = {k["text"]: k for k in page.evaluate(KPI_FIT)}
            for amount in ("US$128,486.84", "US$228,828.67"):
                assert not kpis[amount]["past"] and kpis[amount]["lines"] == 1, (width, kpis)
            if width == 1366:  # the laptop keeps the full-size value
                assert kpis["US$128,486.84"]["size"] == 18.75, kpis
                continue
            page.goto(f"{server.base_url}/customers/{customer}")
            page.wait_for_selector("#customer-experiences")
            fit = page.evaluate(PAGE_FIT)
            assert fit == {"width": 390, "bare": []}, fit
            assert page.locator("#customer-journey").count() == 1  # the panel has both tables
        finally:
            if lang == "zh_CN":  # the choice is saved on the user: leave them in English
                page.click("button.lang[value=en]")
                page.wait_for_selector("html[lang=en]", state="attached")
            context.close()
