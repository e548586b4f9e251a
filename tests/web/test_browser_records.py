"""Issue 14 points 5 and 8 in the browser: a manager creates, edits and deactivates a product and
exports the filtered list; creating a customer that already exists warns, and merging the
duplicate moves its orders to the kept customer."""

from __future__ import annotations

import pytest

from tests.web.live import wait_js
from tests.web.test_browser import browser, login, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_manager_creates_edits_deactivates_and_exports_a_product(page, server):  # noqa: F811
    login(page, server, "manager")
    page.goto(f"{server.base_url}/products/new")
    page.fill("#f-name", "Walk-through teapot")
    page.fill("#f-external_id", "WT-TEAPOT-1")
    page.fill("#f-category", "Kitchen")
    page.fill("#f-unit_price", "39.90")
    page.fill("#f-unit_cost", "12.5")
    page.click("#product-form button[type=submit]")
    page.wait_for_url("**/products**")
    page.goto(f"{server.base_url}/products")
    page.fill("#f-q", "teapot")
    page.wait_for_url("**q=teapot*")
    wait_js(page, "document.getElementById('results').innerText.includes('WT-TEAPOT-1')")
    assert "39.90" in page.inner_text("#results")
    page.click("#results a:has-text('Walk-through teapot')")
    page.wait_for_selector("#product-form")
    page.fill("#f-unit_price", "42")
    page.click("#product-form button[type=submit]")
    page.goto(f"{server.base_url}/products?q=teapot")
    assert "42.00" in page.inner_text("#results")
    page.click("#results a:has-text('Walk-through teapot')")
    page.click("button[name=active][value='0']")
    page.wait_for_selector("button[name=active][value='1']")  # now offered: reactivate
    # The export follows the list's filter and is a real CSV.
    page.goto(f"{server.base_url}/products?q=teapot")
    href = page.get_attribute("#export-csv", "href")
    assert "q=teapot" in href
    csv = page.request.get(f"{server.base_url}{href}")
    assert csv.ok and "text/csv" in csv.headers["content-type"]
    lines = csv.text().strip().splitlines()
    assert len(lines) == 2 and "WT-TEAPOT-1" in lines[1] and "42.00" in lines[1]


def test_a_duplicate_is_flagged_on_create_and_merged_with_its_orders(page, server):  # noqa: F811
    login(page, server, "manager")
    keep = server.ids["Globex Corporation"]
    page.goto(f"{server.base_url}/customers/new")
    page.fill("#f-name", "Globex Corp.")
    page.fill("#f-email", "buyer@globex.example")  # Globex Corporation's address
    page.click("#customer-form button[type=submit]")
    page.wait_for_selector("#duplicate-warning")
    assert "Globex Corporation" in page.inner_text("#duplicate-list")
    page.click("#create-anyway")
    page.wait_for_selector("#customer-name")
    duplicate_url = page.url
    duplicate_id = int(duplicate_url.rstrip("/").rsplit("/", 1)[-1])
    # An order for the duplicate, then the manager merges it into Globex Corporation.
    page.goto(f"{server.base_url}/customers/{duplicate_id}/orders/new")
    page.fill("#f-ordered_at", "2025-06-20T09:30")
    page.select_option("select[name='lines.0.product_id']", index=1)
    page.fill("input[name='lines.0.quantity']", "2")
    with page.expect_navigation():
        page.click("#order-form button[type=submit]")
    page.goto(duplicate_url)
    assert page.inner_text("#kpi-orders") == "1", page.content()[:3000]
    page.goto(f"{server.base_url}/customers/{keep}")
    orders_before = int(page.inner_text("#kpi-orders").replace(",", ""))
    page.goto(f"{server.base_url}/customers/{keep}/merge?other={duplicate_id}")
    page.wait_for_selector("#merge-review")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#merge-button")
    page.wait_for_url(f"**/customers/{keep}")
    page.goto(duplicate_url)
    assert page.locator("#merged-into").is_visible()
    page.goto(f"{server.base_url}/customers/{keep}")
    assert int(page.inner_text("#kpi-orders").replace(",", "")) == orders_before + 1
