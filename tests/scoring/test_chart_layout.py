"""Every label of the value dashboard's charts is drawn inside its chart and none over another,
in English and in Chinese: the ECharts options the page builds, drawn by the vendored ECharts in
Debian's Chromium at the sizes the dashboard gives them (half-width cards are 574 px wide and
full-width ones 1202 px, at 1366 and 1920 px windows alike: the content column is 1280 px)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.requests import Request

import retento.scoring.pages  # noqa: F401  (registers the names of value classes, stages, labels)
from retento.scoring import pages_charts, pages_relationship
from retento.scoring.models import LABELS, STAGES
from retento.web.labels import label_msgid
from retento.web.render import tr
from tests.web.chart_layout import (
    FULL,
    HALF,
    chart_page,  # noqa: F401  (shared fixture)
    page_request,
    problems,
    uses_outer_bounds,
)
from tests.web.test_browser import browser  # noqa: F401  (shared fixture)

pytestmark = pytest.mark.browser


def histogram(top: float, bins: int) -> dict[str, list]:
    """Bins of equal width up to ``top``, most customers in the first, a few in the last."""
    edges = [top * i / bins for i in range(bins + 1)]
    counts = [max(1500 // (i + 1) ** 2, 0) for i in range(bins)]
    counts[-1] = 27
    return {"edges": edges, "counts": counts}


def options(request: Request) -> dict[str, tuple[dict[str, Any], int, int]]:
    """Each chart's option with the width and height the dashboard draws it at."""
    pyramid = {
        "classes": [
            {"value_class": c, "customers": n, "profit_share": s}
            for c, n, s in (
                ("vip", 100, 0.587),
                ("major", 300, 0.265),
                ("ordinary", 1504, 0.158),
                ("small", 10, 0.0),
                ("below_zero", 86, -0.0104),
            )
        ]
    }
    xs = [i / 100 for i in range(101)]
    curve = {"customer_share": xs, "profit_share": [min(1.0, (x * 3) ** 0.5) for x in xs]}
    weeks = range(1, 157)
    holdout = {
        "tracking": [
            {
                "period": w,
                "holdout": w > 130,
                "actual_cumulative": 0.28 * w * w,
                "expected_cumulative": 0.27 * w * w,
            }
            for w in weeks
        ]
    }
    months = [f"{2023 + (m + 11) // 12}-{(m + 11) % 12 + 1:02d}" for m in range(36)]
    cohorts = {
        "cohorts": months,
        "periods": list(range(37)),
        "shares": [[1.0] + [0.2] * (36 - y) for y in range(36)],
    }
    rates = {
        "points": [
            {"period": p, "partial": i == 35, "retention_rate": 0.38, "repeat_rate": 0.81}
            for i, p in enumerate(months)
        ]
    }
    sow = {"edges": [i / 10 for i in range(11)], "counts": [3] * 10, "over_100": 4}
    scatter = [[i / 50, 18_000 * (1 - i / 50) ** 4, i + 1] for i in range(50)]

    def bars(group: str, codes: tuple[str, ...], counts: list[int]) -> list[tuple[str, int]]:
        return [(tr(request, label_msgid(group, c)), n) for c, n in zip(codes, counts, strict=True)]

    return {
        "pyramid": (pages_charts._pyramid_chart(request, pyramid), HALF, 240),
        "pareto": (pages_charts._pareto_chart(request, {**curve, "point_80": 0.15}), HALF, 300),
        # the 80 % point far right: its sentence must not run off the right edge
        "pareto-late": (
            pages_charts._pareto_chart(request, {**curve, "point_80": 0.86}),
            HALF,
            300,
        ),
        "clv": (
            pages_charts._histogram_chart(request, histogram(40_460, 20), "CLV", 0),
            HALF,
            240,
        ),
        "risk": (pages_charts._histogram_chart(request, histogram(1, 10), "Risk", 1), HALF, 240),
        "p_alive": (
            pages_charts._histogram_chart(request, histogram(1, 20), "P(alive)", 2),
            HALF,
            240,
        ),
        "scatter": (pages_charts._scatter_chart(request, scatter, tr(request, "CLV")), HALF, 240),
        "cohorts": (pages_charts._cohort_chart(request, cohorts), FULL, 120 + 22 * 36),
        "tracking": (pages_charts._tracking_chart(request, holdout), HALF, 280),
        "stages": (
            pages_charts._bars_chart(
                request, bars("loyalty_stage", STAGES, [10, 969, 634, 310, 77]), "#22a06b"
            ),
            HALF,
            180,
        ),
        "labels": (
            pages_charts._bars_chart(
                request, bars("value_label", LABELS, [400, 86, 86, 1428]), "#7c3aed"
            ),
            HALF,
            180,
        ),
        "rates": (pages_relationship._rates_chart(request, rates), FULL, 280),
        "share-of-wallet": (pages_relationship._sow_chart(request, sow), HALF, 240),
    }


def test_every_label_is_inside_its_chart_and_clear_of_the_others(chart_page):  # noqa: F811
    page, locale = chart_page
    request = page_request(locale)
    for name, (option_json, width, height) in options(request).items():
        counts = []
        if name in ("stages", "labels"):
            # every bar's count is drawn too, as the page writes numbers
            counts = [d["label"]["formatter"] for d in json.loads(option_json)["series"][0]["data"]]
            assert "1,428" in counts or "969" in counts
        assert problems(page, option_json, width, height, also=counts) == {}, (name, locale)


def test_axis_names_are_kept_inside_by_the_grid():
    """ECharts 6 keeps only tick labels inside with the deprecated ``containLabel``; the grid's
    outer bounds must contain the axis names too (``retento.web.charts.grid``)."""
    request = page_request("zh_CN")
    for name, (option_json, _, _) in options(request).items():
        if name == "pyramid":  # a funnel: no axes
            continue
        assert uses_outer_bounds(option_json), name


def test_histogram_ranges_and_shares_are_written_as_the_page_writes_numbers():
    request = page_request("en")
    option = json.loads(pages_charts._histogram_chart(request, histogram(40_460, 20), "CLV", 0))
    assert option["xAxis"]["data"][-1] == "38,437–40,460"
    assert option["xAxis"]["axisLabel"]["interval"] == 0  # every range labelled
    # 0.1495 is 14.95 %: rounded as the sentence above the Pareto chart rounds it
    assert pages_charts._pct(0.1495) == "15.0 %"
    pyramid = json.loads(
        pages_charts._pyramid_chart(
            request,
            {"classes": [{"value_class": "ordinary", "customers": 1504, "profit_share": 0.2}]},
        )
    )
    assert pyramid["series"][0]["data"][0]["name"] == "Ordinary · 1,504 · 20.0 %"
