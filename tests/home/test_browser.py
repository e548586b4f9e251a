"""Browser test: manager, agent and analyst log in and land on their own home dashboard;
the period filter changes the numbers; the page switches to Chinese."""

from __future__ import annotations

import pytest

from tests.web.live import PASSWORD
from tests.web.test_browser import browser, page, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser


def login_home(page, server, username: str) -> None:  # noqa: F811
    page.goto(f"{server.base_url}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{server.base_url}/")


def test_each_role_lands_on_its_dashboard(page, server):  # noqa: F811
    login_home(page, server, "manager")
    assert page.locator("h1").inner_text() == "Manager dashboard"
    assert page.locator("#manager-kpis").is_visible()
    assert page.locator("#home-queue").count() == 0
    # The seeded orders are from 2025: nothing in the last 30 days, revenue once "All time".
    assert page.locator("#kpi-revenue .kpi-value").inner_text() == "$0.00"
    page.select_option("#f-period", "all")
    page.click("#dash-apply")
    page.wait_for_url("**/?period=all**")
    assert page.locator("#kpi-revenue .kpi-value").inner_text() != "$0.00"
    assert page.locator("#home-scope").inner_text().startswith("All time")
    # switch to the analyst view, keeping the filters
    page.click("#view-analyst")
    page.wait_for_url("**/?view=analyst**")
    assert page.locator("h1").inner_text() == "Model and data health"
    assert page.locator("#f-period").input_value() == "all"
    page.click("button.lang[value=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    assert page.locator("h1").inner_text() == "模型与数据状况"
    page.click("button.lang[value=en]")
    page.wait_for_selector("html[lang=en]", state="attached")
    page.context.clear_cookies()

    login_home(page, server, "agent")
    assert page.locator("h1").inner_text() == "My work"
    assert page.locator("#home-queue").is_visible() and page.locator("#home-tasks").is_visible()
    assert page.locator("#manager-kpis").count() == 0 and page.locator("#home-views").count() == 0
    page.click("#home-queue a.btn")
    page.wait_for_url("**/complaints?tab=mine")
    page.context.clear_cookies()

    login_home(page, server, "analyst")
    assert page.locator("h1").inner_text() == "Model and data health"
    assert page.locator("#home-model").is_visible()
    assert page.locator("#home-freshness").is_visible()
    assert page.locator("#fresh-order").inner_text() != "—"
    page.click("button.lang[value=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    assert page.locator("#home-freshness h2").inner_text() == "数据新鲜度"
    page.click("button.lang[value=en]")
    page.wait_for_selector("html[lang=en]", state="attached")
