"""The value dashboard: period and segment filters recompute the customer charts from the
run's score rows; the built dashboard is cached per run and a new run shows at once."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from retento.orders.models import Order
from retento.scoring import dashboard_cache, service
from retento.scoring.models import CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from tests.scoring.conftest import AS_OF
from tests.shared_world import session_factory_fixture, users_fixture  # noqa: F401 (fixtures)
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def scored(world_scored, db) -> ScoreRun:
    """One successful run over the population by the manager (26 weeks held out), made once
    for the module (``world_scored``); each test runs in a SAVEPOINT on it."""
    return db.get(ScoreRun, world_scored.data["run_id"])


def _chart(page: str, chart_id: str) -> dict:
    m = re.search(rf'id="{chart_id}" data-chart="([^"]*)"', page)
    assert m, chart_id
    return json.loads(html_lib.unescape(m.group(1)))


def _bar_counts(chart: dict) -> list[int]:
    """The counts of a bar chart (each bar carries its count written as the page writes it)."""
    return [d["value"] for d in chart["series"][0]["data"]]


def _kpi(page: str, kpi_id: str) -> str:
    m = re.search(rf'id="{kpi_id}">([^<]*)<', page)
    assert m, kpi_id
    return m.group(1).strip()


def test_segment_filter_counts_only_that_segment(web, db, scored):
    web.login("manager")
    vip = db.scalar(
        select(func.count()).where(
            CustomerScore.run_id == scored.id, CustomerScore.value_class == "vip"
        )
    )
    loyal = db.scalar(
        select(func.count()).where(
            CustomerScore.run_id == scored.id, CustomerScore.loyalty_stage == "regular"
        )
    )
    assert vip and loyal
    page = web.get("/value?segment=value_class:vip").text
    assert _kpi(page, "filtered-customers") == str(vip)
    assert 'id="f-segment"' in page and 'value="value_class:vip" selected' in page
    pyramid = _chart(page, "pyramid-chart")
    names = [d["name"] for d in pyramid["series"][0]["data"]]
    assert len(names) == 1 and names[0].startswith(f"VIP · {vip} ·")
    stages = _chart(web.get("/value?segment=stage:regular").text, "stage-chart")
    counts = dict(zip(stages["yAxis"]["data"], _bar_counts(stages), strict=True))
    assert sum(counts.values()) == loyal and counts["Regular customer"] == loyal
    # unfiltered: the whole population and no filter summary
    page = web.get("/value").text
    assert 'id="value-filtered"' not in page
    total = _bar_counts(_chart(page, "stage-chart"))
    assert sum(total) == scored.customers_scored


def test_period_filter_keeps_customers_who_bought_in_it(web, db, scored):
    web.login("manager")
    first, last = "2024-10-01", "2024-12-31"
    buyers = db.scalar(
        select(func.count(func.distinct(Order.customer_id))).where(
            Order.ordered_at >= datetime(2024, 10, 1, tzinfo=UTC),
            Order.ordered_at < datetime(2025, 1, 1, tzinfo=UTC),
        )
    )
    assert 0 < buyers < scored.customers_scored
    page = web.get(f"/value?period=custom&from={first}&to={last}").text
    assert _kpi(page, "filtered-customers") == str(buyers)
    assert sum(_bar_counts(_chart(page, "stage-chart"))) == buyers
    # a period with no orders at all: nobody is shown, the page still renders
    page = web.get("/value?period=custom&from=2030-01-01&to=2030-01-31").text
    assert _kpi(page, "filtered-customers") == "0"


def test_bad_filters_are_422_naming_the_field(web, scored):
    web.login("manager")
    r = web.get("/value?segment=value_class:gold")
    assert r.status_code == 422 and "segment" in r.text
    r = web.get("/value?period=custom&from=2024-01-01")
    assert r.status_code == 422 and "to" in r.text


def test_dashboard_is_built_once_per_run_and_a_new_run_shows(web, db, users, scored):
    web.login("manager")
    dashboard_cache.clear()
    misses = dashboard_cache.stats["misses"]
    hits = dashboard_cache.stats["hits"]
    first = web.get("/value").text
    second = web.get("/value").text
    assert 'id="pyramid-chart"' in first and 'id="pyramid-chart"' in second
    assert dashboard_cache.stats["misses"] == misses + 1
    assert dashboard_cache.stats["hits"] == hits + 1
    assert dashboard_cache.run_ids() == {scored.id}
    assert f"Run #{scored.id}" in second
    # a new scoring run: the default page shows it on the next view, built for it
    new = service.run_scoring(
        db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=users["manager"]
    )
    db.commit()
    assert new.status == "succeeded"
    page = web.get("/value").text
    assert f"Run #{new.id}" in page
    assert dashboard_cache.run_ids() == {scored.id, new.id}
    assert dashboard_cache.stats["misses"] == misses + 2
    # the older run is still reachable, from the cache
    assert f"Run #{scored.id}" in web.get(f"/value?run={scored.id}").text
    assert dashboard_cache.stats["misses"] == misses + 2
    # each language is built once
    web.post("/locale", {"lang": "zh_CN", "next": "/value"})
    assert "客户金字塔" in web.get("/value").text
    assert dashboard_cache.stats["misses"] == misses + 3


def test_cohort_cells_carry_their_percent(web, scored):
    web.login("manager")
    option = _chart(web.get("/value").text, "cohort-chart")
    series = option["series"][0]
    assert series["label"]["show"] is True and series["label"]["formatter"] == "{@[2]}"
    values = [cell[2] for cell in series["data"]]
    assert values and all(isinstance(v, int) and 0 <= v <= 100 for v in values)
    assert option["visualMap"]["max"] == 100
