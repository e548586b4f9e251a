"""Forecasts: KPI series from the database, the JSON API, the page in English and Chinese, and
`retento analyze forecast` on a small CSV."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from retento.complaints.models import Complaint
from retento.insights import forecast_queries as fq
from tests.insights.data import MONTHS, month_start


@pytest.fixture
def shop(world_months, db):
    """``build_months`` (tests/insights/data.py), built once per module and backend: each test
    that takes it runs in a SAVEPOINT on it (tests/insights/conftest.py)."""
    return world_months.data


def test_api_without_data(client, tokens):
    # No shop: before the tests that take it, so that the shared shop is built once.
    r = client.get("/api/v1/insights/forecasts/complaints", headers=tokens["analyst"])
    assert r.status_code == 422
    assert "no data" in r.json()["detail"]


def test_kpi_series_match_the_rows(db, shop):
    rev = fq.kpi_series(db, "revenue", "M")
    # Complete months only: the current month is left out, the first starts on the 2nd → out.
    assert rev.series.index[-1].date() == month_start(1)
    assert len(rev.series) == MONTHS - 1
    # Revenue is summed exactly as Decimal and matches the orders of one month.
    last = month_start(1)
    orders = db.query(fq.Order).all()
    expected = sum(
        (o.revenue for o in orders if o.ordered_at.date().replace(day=1) == last), Decimal("0")
    )
    assert rev.totals[last.isoformat()] == expected
    assert rev.series.iloc[-1] == float(expected)
    complaints = fq.kpi_series(db, "complaints", "M")
    n_last = sum(
        1 for c in db.query(Complaint).all() if c.received_at.date().replace(day=1) == last
    )
    assert complaints.series.iloc[-1] == n_last
    nps = fq.kpi_series(db, "nps", "M")
    assert nps.filled > 0  # the months without answers
    assert nps.series.between(-100, 100).all()
    active = fq.kpi_series(db, "active_customers", "M")
    new = fq.kpi_series(db, "new_customers", "M")
    assert (active.series >= 1).all()
    assert new.series.sum() <= len(shop["customers"])
    weekly = fq.kpi_series(db, "revenue", "W")
    assert (weekly.series.index.day_of_week == 0).all()
    assert weekly.series.sum() <= sum(float(o.revenue) for o in orders)


def test_api_forecast_with_backtest_and_intervals(client, tokens, shop):
    fq._CACHE.clear()  # the other backend's run may have cached the same series
    r = client.get("/api/v1/insights/forecasts/revenue?freq=M&horizon=3", headers=tokens["analyst"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kpi"] == "revenue" and body["unit"] == "money"
    assert len(body["forecast"]) == 3
    f = body["forecast"][0]
    assert f["lo95"] <= f["lo80"] <= f["mean"] <= f["hi80"] <= f["hi95"]
    assert f["lo95"] >= 0  # revenue is clipped at 0
    assert body["winner"] in ("model", "naive")
    assert set(body["errors"]) == {"model", "naive"}
    assert len(body["backtest"]) == 4 * 3
    assert body["cached"] is False
    again = client.get(
        "/api/v1/insights/forecasts/revenue?freq=M&horizon=3", headers=tokens["analyst"]
    )
    assert again.json()["cached"] is True
    listing = client.get("/api/v1/insights/forecasts", headers=tokens["agent"]).json()
    assert [k["kpi"] for k in listing["kpis"]] == list(fq.KPIS)


def test_api_nps_and_complaints(client, tokens, shop):
    r = client.get("/api/v1/insights/forecasts/nps?freq=M&horizon=2", headers=tokens["manager"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert all(-100 <= p["lo95"] and p["hi95"] <= 100 for p in body["forecast"])
    assert body["nps_filled"] > 0
    r = client.get(
        "/api/v1/insights/forecasts/complaints?freq=M&horizon=2", headers=tokens["admin"]
    )
    assert r.status_code == 200, r.text


def test_api_bad_input_is_422(client, tokens, shop):
    h = tokens["analyst"]
    assert client.get("/api/v1/insights/forecasts/churn", headers=h).status_code == 404
    assert client.get("/api/v1/insights/forecasts/revenue?freq=Q", headers=h).status_code == 422
    r = client.get("/api/v1/insights/forecasts/revenue?freq=M&horizon=40", headers=h)
    assert r.status_code == 422
    assert "at least 53 needed" in r.json()["detail"]
    assert client.get("/api/v1/insights/forecasts/revenue").status_code == 401


def test_page_in_english(web, shop):
    web.login("analyst")
    r = web.get("/insights/forecasts?kpi=revenue&freq=M&horizon=3")
    assert r.status_code == 200
    assert 'data-tab="forecast"' in r.text and 'aria-current="page"' in r.text
    m = re.search(r'id="forecast-chart" data-chart="([^"]+)"', r.text)
    assert m
    option = json.loads(html.unescape(m.group(1)))
    names = [s["name"] for s in option["series"]]
    assert names[0] == "Actual" and "80 % interval" in names and "Seasonal naive" in names
    n_hist = sum(v is not None for v in option["series"][0]["data"])
    assert len(option["xAxis"]["data"]) == n_hist + 3  # history, then the 3 forecast periods
    model = next(s for s in option["series"] if s["name"].startswith("Forecast ("))
    assert all(v is not None for v in model["data"][-3:])
    assert 'id="backtest-table"' in r.text and "sMAPE" in r.text
    assert 'data-winner="' in r.text
    assert "Seasonal naive" in r.text
    assert "retento analyze forecast orders.csv" in r.text
    assert "/static/vendor/echarts-6.1.0.min.js" in r.text
    index = web.get("/insights")
    assert 'data-insight="forecast"' in index.text


def test_page_in_chinese(web, shop, db, users):
    users["analyst"].locale = "zh_CN"
    db.commit()
    web.login("analyst")
    r = web.get("/insights/forecasts?kpi=complaints&freq=M&horizon=3")
    assert r.status_code == 200
    assert "回测误差" in r.text and "季节性朴素预测" in r.text
    assert "Backtest errors" not in r.text


def test_page_errors_and_too_short(web, shop):
    web.login("analyst")
    r = web.get("/insights/forecasts?kpi=nope&horizon=x")
    assert r.status_code == 422
    assert "Choose one of the KPIs." in r.text
    assert "Enter a whole number of periods" in r.text
    r = web.get("/insights/forecasts?kpi=revenue&freq=M&horizon=60")
    assert r.status_code == 200
    assert 'id="forecast-problem"' in r.text and "at least 73 needed" in r.text


def test_cli_on_a_small_csv(tmp_path):
    from retento.analyze.cli import app

    path = tmp_path / "orders.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ordered_at", "amount"])
        day = date(2022, 1, 1)
        while day < date(2025, 1, 1):
            n = 2 + (day.month in (11, 12)) * 2 + (day.year - 2022)
            for i in range(n):
                w.writerow([day.isoformat(), f"{10 + i}.50"])
            day += timedelta(days=3)
    out = tmp_path / "fc.csv"
    result = CliRunner().invoke(
        app,
        [
            "forecast",
            str(path),
            "--date-col",
            "ordered_at",
            "--value-col",
            "amount",
            "--freq",
            "M",
            "--horizon",
            "4",
            "--output",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["freq"] == "M" and len(body["forecast"]) == 4
    assert body["errors"]["naive"]["smape"] >= 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["kind"] == "history" and rows[-1]["kind"] == "forecast"
    assert sum(r["kind"] == "forecast" for r in rows) == 4
    text = CliRunner().invoke(
        app,
        ["forecast", str(path), "--date-col", "ordered_at", "--freq", "M", "--output", str(out)],
    )
    assert text.exit_code == 0, text.output
    assert "Backtest (4 origins x 6 steps)" in text.output
    bad = CliRunner().invoke(
        app, ["forecast", str(path), "--date-col", "when", "--output", str(out)]
    )
    assert bad.exit_code == 1
    assert "Column 'when' not found" in bad.output
    short = CliRunner().invoke(
        app,
        [
            "forecast",
            str(path),
            "--date-col",
            "ordered_at",
            "--freq",
            "M",
            "--horizon",
            "40",
            "--output",
            str(out),
        ],
    )
    assert short.exit_code == 1 and "needs at least" in short.output


def _table(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [
        [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def _download(web, page: str, link_id: str) -> list[list[str]]:
    url = html.unescape(re.search(rf'id="{link_id}" href="([^"]+)"', page).group(1))
    r = web.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_forecast_and_backtest_download_as_the_page_shows_them(web, shop, db, users, locale):
    from retento.web.i18n import Formatter, gettext

    users["analyst"].locale = locale
    db.commit()
    web.login("analyst")
    page = web.get("/insights/forecasts?kpi=revenue&freq=M&horizon=3").text
    rows = _download(web, page, "forecast-csv")
    assert rows[0][0] == gettext(locale, "Period") and len(rows) == 4
    shown = _table(page, "forecast-table")
    for got, seen in zip(rows[1:], shown, strict=True):
        # The file keeps the ISO first day of the month; the page writes the month.
        assert Formatter(locale).period(got[0], "M") == seen[0]
        assert re.fullmatch(r"-?\d+\.\d\d", got[1])  # an amount: exact to the cent
        assert Decimal(got[1]) == Decimal(re.sub(r"[^\d.\-]", "", seen[1]))
    back = _download(web, page, "backtest-csv")
    assert back[0][0] == gettext(locale, "Forecast") and len(back) == 3
    assert back[1][2] + " %" == _table(page, "backtest-table")[0][2]
    # a count KPI keeps the page's one decimal
    page = web.get("/insights/forecasts?kpi=complaints&freq=M&horizon=3").text
    rows = _download(web, page, "forecast-csv")
    assert all(re.fullmatch(r"-?\d+(\.\d)?", r[1]) for r in rows[1:])


def test_forecast_download_permission_and_bad_filters(web, shop):
    web.login("agent")
    page = web.get("/insights/forecasts?kpi=revenue&freq=M&horizon=3")
    assert page.status_code == 200 and "forecast-csv" not in page.text
    assert web.get("/insights/forecasts/export.csv?kpi=revenue").status_code == 403
    web.client.cookies.clear()
    web.login("analyst")
    as_json = {"accept": "application/json"}
    for query, field in (
        ("kpi=nope", "kpi"),
        ("freq=Y", "freq"),
        ("horizon=x", "horizon"),
        ("horizon=60", "kpi"),  # too little history for 60 months
        ("table=chart", "table"),
    ):
        r = web.get(f"/insights/forecasts/export.csv?{query}", headers=as_json)
        assert r.status_code == 422, query
        assert r.json()["field"] == field, query
