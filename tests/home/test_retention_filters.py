"""The retention dashboard's segment and period filters change its numbers."""

from __future__ import annotations

import re

from tests.web.conftest import Browser


def _kpi(html: str, kpi_id: str) -> str:
    m = re.search(rf'id="{kpi_id}">([^<]*)<', html)
    assert m, kpi_id
    return m.group(1).strip()


def test_segment_and_period_filters_on_the_retention_dashboard(client, users, shop):
    web = Browser(client)
    web.login("manager")
    html = web.get("/retention").text
    assert 'id="dash-filters"' in html
    assert _kpi(html, "kpi-var") == "$108.00"
    html = web.get("/retention?segment=value_class:vip").text
    assert _kpi(html, "kpi-var") == "$80.00" and _kpi(html, "kpi-at-risk") == "1"
    assert 'value="value_class:vip" selected' in html
    html = web.get("/retention?segment=value_class:small").text
    assert _kpi(html, "kpi-var") == "$10.00" and _kpi(html, "kpi-at-risk") == "0"
    # the one open alert was raised today: in the last 30 days, not in an old custom period
    old = web.get("/retention?period=custom&from=2020-01-01&to=2020-12-31").text
    recent = web.get("/retention?period=30").text
    assert old.count('id="alerts-chart"') == 0 and recent.count('id="alerts-chart"') == 1
    assert web.get("/retention?segment=nope:x").status_code == 422
