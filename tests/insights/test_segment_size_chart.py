"""The segment-size ring names every segment in full (a legend below it, a row a segment), in
English and Chinese, two segments or eight, in a half-width card at 1366 × 768: beside the ring
the long names were cut to "近期高频高消费（高价值、低..."."""

from __future__ import annotations

import pytest

from retento.insights.pages import segments
from tests.web.chart_layout import HALF, chart_page, page_request, problems  # noqa: F401
from tests.web.test_browser import browser  # noqa: F401  (shared fixture)

pytestmark = pytest.mark.browser

NAMES = [
    ("Recent frequent high spenders, with high CLV, safe, engaged", "近期高频高消费（高价值、低流失风险、高互动）"),
    ("Lapsed frequent high spenders, with low CLV, at risk, disengaged", "流失的高频高消费（低价值、高流失风险、低互动）"),
    ("Very recent very frequent top spenders, with high CLV, safe, engaged", "最近超高频顶级消费（高价值、低流失风险、高互动）"),
    ("Recent regular mid spenders, with high CLV, safe, engaged", "近期中频中等消费（高价值、低流失风险、高互动）"),
    ("Lapsed regular mid spenders, with low CLV, disengaged", "流失的中频中等消费（低价值、低互动）"),
    ("Cooling small-ticket one-time buyers, disengaged", "渐冷低消费一次性买家（低互动）"),
    ("Cooling regular mid spenders", "渐冷中频中等消费"),
    ("Recent one-time buyers, with high CLV", "近期一次性买家（高价值）"),
]  # fmt: skip


def _profiles(n: int) -> list[dict]:
    return [
        {"segment": i, "name_en": en, "name_zh": zh, "size": 40 + 130 * i}
        for i, (en, zh) in enumerate(NAMES[:n])
    ]


@pytest.mark.parametrize("n", [2, 8])
def test_every_segment_is_named_in_full_inside_the_chart(chart_page, n):  # noqa: F811
    page, locale = chart_page
    request = page_request(locale)
    profiles = _profiles(n)
    names = [p["name_zh" if locale == "zh_CN" else "name_en"] for p in profiles]
    height = segments._labels(request)["size_chart_height"](n)
    option = segments._size_chart(request, profiles)
    assert problems(page, option, HALF, height, also=names) == {}
