"""Charts of amounts name their currency on the value axis, as the page writes amounts ("$" on
an English page, "US$" on a Chinese one), and the retention dashboard's bars write their counts
beside the bar where they can be read; in English and Chinese."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from retento.customers import pages as customer_pages
from retento.insights.pages import forecast
from retento.retention import pages_dashboard
from retento.retention.queries_web import ClassRisk
from tests.web.chart_layout import page_request

NAMES = {
    "en": {"var": "Value at risk ($)", "amount": "Amount ($)", "revenue": "Revenue ($)"},
    "zh_CN": {"var": "风险价值（US$）", "amount": "金额（US$）", "revenue": "收入（US$）"},
}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_money_axes_name_their_currency(locale):
    request = page_request(locale)
    names = NAMES[locale]
    classes = [ClassRisk("vip", 12, 4, Decimal("57932.44"), Decimal(1), 0.6)]
    var = json.loads(pages_dashboard._var_chart(request, classes))
    assert var["xAxis"]["name"] == names["var"]
    months = [("2026-10", Decimal("1200.50"), Decimal("300")), ("2026-11", Decimal(900), 0)]
    revenue = json.loads(customer_pages._chart(request, months))
    assert revenue["yAxis"]["name"] == names["amount"]
    history = [{"period": f"2026-{m:02d}-01", "value": 1000.0 * m} for m in range(1, 13)]
    result = {
        "kpi": "revenue",
        "unit": "money",
        "model": "ETS(A,N,N)",
        "seasonal_period": 12,
        "history": history,
        "forecast": [
            {"period": "2027-01-01", "mean": 1.0, "lo80": 0.5, "hi80": 1.5, "lo95": 0, "hi95": 2}
        ],
        "naive_forecast": [{"period": "2027-01-01", "mean": 1.0}],
    }
    assert json.loads(forecast._chart(request, result))["yAxis"]["name"] == names["revenue"]
    nps = {**result, "kpi": "nps", "unit": "points"}
    assert json.loads(forecast._chart(request, nps))["yAxis"]["name"] == "NPS"


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_dashboard_bars_write_their_counts_beside_the_bar(locale):
    option = json.loads(
        pages_dashboard._bars(
            page_request(locale), [("lapsed", 1428), ("few", 8)], "#cf222e", "Customers"
        )
    )
    series = option["series"][0]
    assert series["label"] == {"show": True, "position": "right"}
    assert [d["label"]["formatter"] for d in series["data"]] == ["1,428", "8"]
    assert [d["value"] for d in series["data"]] == [1428, 8]
    assert option["xAxis"]["boundaryGap"] == [0, "15%"]  # room after the longest bar's count
