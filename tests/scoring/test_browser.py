"""Browser test of the value dashboard: a real server and Debian's Chromium through Playwright."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.web.test_browser import browser, login, page, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

CHART = "svg, canvas"


def test_manager_runs_scoring_sees_charts_and_chinese(page, server):  # noqa: F811
    login(page, server, "manager")
    page.click("nav.mainnav a[href='/value']")
    page.wait_for_url(f"{server.base_url}/value")
    assert page.locator("#value-empty").is_visible()
    page.select_option("#f-model", "bgnbd")
    page.fill("#f-as_of", "2025-06-30")
    page.click("#run-button")
    # The run works in the background: the page shows its progress, then reloads with results.
    page.wait_for_selector(".flash-ok:has-text('customers scored')", timeout=60_000)
    assert re.search(r"/value\?run=\d+$", page.url)
    for chart in ("pyramid", "pareto", "clv", "scatter", "cohort", "tracking", "stage"):
        page.wait_for_selector(f"#{chart}-chart {CHART}", state="attached")
    assert page.locator("#pyramid-table tbody tr").count() == 5
    assert page.locator("#runs-table tbody tr").count() == 1

    # Clicking a point of the risk/CLV scatter opens that customer's 360 page (once the points
    # have finished growing in: a click during the entrance animation can miss a 2-px symbol).
    # The point clicked is the one farthest from the others, so no neighbour takes the click; a
    # busy machine may still redraw under the mouse, so the click is tried up to three times.
    page.wait_for_selector("#scatter-chart[data-chart-ready]", state="attached")
    for attempt in range(3):
        target = page.evaluate(
            """() => {
                const el = document.getElementById("scatter-chart");
                el.scrollIntoView({block: "center"});
                const data = el._chart.getOption().series[0].data;
                const px = data.map(p => el._chart.convertToPixel({seriesIndex: 0}, [p[0], p[1]]));
                let best = 0, bestGap = -1;
                px.forEach((a, i) => {
                    let gap = Infinity;
                    px.forEach((b, j) => { if (i !== j) gap = Math.min(gap, Math.hypot(a[0] - b[0], a[1] - b[1])); });
                    if (gap > bestGap) { bestGap = gap; best = i; }
                });
                const box = el.getBoundingClientRect();
                return {x: box.left + px[best][0], y: box.top + px[best][1]};
            }"""
        )
        page.mouse.click(target["x"], target["y"])
        try:
            page.wait_for_url(re.compile(r".*/customers/\d+$"), timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    assert page.locator("#panel-scores #customer-scores").is_visible()
    assert page.locator("#score-value-class").inner_text().strip()

    page.goto(f"{server.base_url}/value")
    page.click("button.lang[value=zh_CN]")
    page.wait_for_selector("html[lang=zh-CN]", state="attached")
    assert page.locator("#pyramid h2").inner_text() == "客户金字塔"
    page.wait_for_selector(f"#pyramid-chart {CHART}", state="attached")
    assert "贵宾型" in page.locator("#pyramid-table").inner_text()
    page.click("button.lang[value=en]")
    page.wait_for_selector("html[lang=en]", state="attached")


def test_agent_has_no_run_button(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/value")
    assert page.locator("h1").inner_text() == "Customer value"
    assert page.locator("#run-button").count() == 0
