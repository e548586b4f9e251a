"""The period filters of the dashboards in a browser: typed dates are used.

Exploratory testing found that typing From / To on the journey funnel (the experience page and
every dashboard sharing ``form.dash-filters`` alike) and pressing Apply kept the preset period
("Last 365 days"): the server reads the dates only with "Custom dates", so the page went on
showing the preset's figures under the typed dates. retento.js now chooses "Custom dates" when a
date is typed and empties the dates when a preset is chosen."""

from __future__ import annotations

import pytest

from tests.web.live import BROWSER_TIMEOUT_MS
from tests.web.test_browser import browser, login, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["/insights/journey", "/insights/experience"])
@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_typed_dates_choose_custom_and_a_preset_clears_them(browser, server, path, lang):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        login(pg, server, "manager")
        pg.goto(f"{server.base_url}{path}")
        pg.click(f"button.lang[value={lang}]")
        pg.wait_for_selector(f"html[lang={'zh-CN' if lang == 'zh_CN' else 'en'}]", state="attached")
        form = "form.dash-filters"
        assert pg.eval_on_selector(f"{form} select[name=period]", "e => e.value") == "365"
        pg.fill(f"{form} input[name=from]", "2025-01-01")
        pg.fill(f"{form} input[name=to]", "2025-03-31")
        assert pg.eval_on_selector(f"{form} select[name=period]", "e => e.value") == "custom"
        pg.click(f"{form} button[type=submit]")
        pg.wait_for_url("**period=custom&from=2025-01-01&to=2025-03-31**")
        assert pg.input_value(f"{form} input[name=from]") == "2025-01-01"
        assert pg.input_value(f"{form} input[name=to]") == "2025-03-31"
        # Back to a preset: the dates no longer apply and are emptied.
        pg.select_option(f"{form} select[name=period]", "90")
        assert pg.input_value(f"{form} input[name=from]") == ""
        assert pg.input_value(f"{form} input[name=to]") == ""
        pg.click(f"{form} button[type=submit]")
        pg.wait_for_url("**period=90&from=&to=**")
    finally:
        pg.click("button.lang[value=en]")
        context.close()
