"""The forecast download's interval columns read whole in the reader's language: Chinese puts
the bound in full-width brackets like the rest of the UI ("80% 区间（低）"), not "80% 区间 (低)"."""

from __future__ import annotations

import pytest

from tests.insights.test_forecast import _download, shop  # noqa: F401  (the fixture)

HEADERS = {
    "en": [
        "80 % interval (low)",
        "80 % interval (high)",
        "95 % interval (low)",
        "95 % interval (high)",
    ],
    "zh_CN": ["80% 区间（低）", "80% 区间（高）", "95% 区间（低）", "95% 区间（高）"],
}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_forecast_download_names_its_interval_columns_in_the_readers_language(
    web,
    shop,  # noqa: F811  (the fixture imported above)
    db,
    users,
    locale,
):
    users["analyst"].locale = locale
    db.commit()
    web.login("analyst")
    page = web.get("/insights/forecasts?kpi=revenue&freq=M&horizon=3").text
    header = _download(web, page, "forecast-csv")[0]
    assert header[2:6] == HEADERS[locale]
    if locale == "zh_CN":
        assert not any(" (" in h for h in header), header


@pytest.mark.parametrize(
    ("locale", "month"), [("en", r"[A-Z][a-z]{2} \d{4}"), ("zh_CN", r"\d{4}年\d{1,2}月")]
)
def test_monthly_periods_read_as_months(
    web,
    shop,  # noqa: F811  (the fixture imported above)
    db,
    users,
    locale,
    month,
):
    """QA: monthly forecasts labelled each month by its first day ("2024-01-01"), in the chart
    and in the table, in both languages; a month reads "Jan 2024" / "2024年1月"."""
    import html
    import json
    import re

    users["analyst"].locale = locale
    db.commit()
    web.login("analyst")
    page = web.get("/insights/forecasts?kpi=revenue&freq=M&horizon=3").text
    charts = [json.loads(html.unescape(m)) for m in re.findall(r"data-chart='([^']*)'", page)]
    charts += [json.loads(html.unescape(m)) for m in re.findall(r'data-chart="([^"]*)"', page)]
    axes = [c["xAxis"]["data"] for c in charts if isinstance(c.get("xAxis"), dict)]
    assert axes and all(re.fullmatch(month, x) for x in axes[0]), axes
    cells = re.findall(r'<tr><td>([^<]+)</td><td class="num">', page)
    assert cells and all(re.fullmatch(month, c) for c in cells[:3]), cells[:3]
