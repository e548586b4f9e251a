"""The counter in a real Chromium (QA as a loyalty desk clerk): the "Find member" button stood
below the search box, level with the box's help line, in English and Chinese."""

from __future__ import annotations

import pytest

from tests.web.test_browser import browser, login, page, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_find_member_button_is_level_with_the_search_box(page, server, lang):  # noqa: F811
    login(page, server, "agent")
    if lang == "zh_CN":
        page.click("button.lang[value=zh_CN]")
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
    try:
        page.goto(f"{server.base_url}/loyalty/counter")
        box = page.locator("#counter-form input.picker-search").bounding_box()
        button = page.locator("#counter-form button[type=submit]").bounding_box()
        assert box is not None and button is not None
        assert abs(button["y"] - box["y"]) <= 4, (box, button)
        assert button["x"] > box["x"] + box["width"]  # beside it, not under it
    finally:
        if lang == "zh_CN":  # the choice is saved on the user: leave them in English
            page.click("button.lang[value=en]")
            page.wait_for_selector("html[lang=en]", state="attached")
