"""The import wizard shows a file's column names as the file writes them: table headers are
upper-cased by the style sheet, which turned ``external_id`` into "EXTERNAL_ID" on the mapping
step (an exploratory test), as if the file said so."""

from __future__ import annotations

import re

import pytest

from tests.dataio.test_browser_import import _keys, _orders_file
from tests.web.test_browser import browser, login, page, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser


def test_the_mapping_step_shows_column_names_as_written(page, server):  # noqa: F811
    login(page, server, "manager")
    content = _orders_file(*_keys(server), broken=False)
    page.goto(f"{server.base_url}/imports")
    page.select_option("#f-entity", "orders")
    page.set_input_files("#f-file", {"name": "o.csv", "mimeType": "text/csv", "buffer": content})
    page.click("#upload-submit")
    page.wait_for_url(re.compile(r"/imports/\d+/mapping$"))
    shown = page.locator("th.as-written").all_inner_texts()
    assert shown[:2] == ["order_external_id", "customer_external_id"], shown
    # the page's own headings keep the table style
    heading = page.locator("th:not(.as-written)").first
    assert heading.evaluate("e => getComputedStyle(e).textTransform") == "uppercase"
