"""The CSI path diagram in a real Chromium (QA on the survey results): "Customer complaints" ran
over both edges of its 110 px node; every latent variable's name fits inside its node, in
English and Chinese."""

from __future__ import annotations

import json

import pytest

from retento.web.i18n import translate
from retento.web.labels import label_msgid
from tests.web.chart_layout import chart_page, draw, page_request  # noqa: F401 (fixture)
from tests.web.test_browser import browser  # noqa: F401 (fixture)
from tests.web.test_chart_layout_all import survey_charts

pytestmark = pytest.mark.browser


def test_every_latent_name_fits_in_its_node(chart_page):  # noqa: F811
    page, locale = chart_page
    chart = survey_charts(page_request(locale))["csi"]
    option = json.loads(chart.option)
    (series,) = option["series"]
    node_width = series["symbolSize"][0]
    names = {translate(locale, label_msgid("csi_latent", n["name"])) for n in series["data"]}
    boxes = draw(page, option, chart.width, chart.height)
    widths = {
        b["text"]: max(x for x, _ in b["corners"]) - min(x for x, _ in b["corners"])
        for b in boxes
        if b["text"] in names
    }
    assert set(widths) == names
    too_wide = {name: round(w) for name, w in widths.items() if w > node_width - 8}
    assert too_wide == {}, (locale, node_width)
