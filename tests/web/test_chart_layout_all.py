"""Every label of the charts outside the value dashboard (tests/scoring/test_chart_layout.py) is
drawn inside its chart and none over another, in English and in Chinese: the ECharts options of
the home page, the retention dashboard, the customer 360 page, the loyalty types page, the
complaints dashboard, the survey results and the Insights pages, drawn by the vendored ECharts
in Debian's Chromium at the sizes those pages give them in a 1366 × 768 window."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from starlette.requests import Request

from retento.analytics.csi_models import ECSI_MODEL
from retento.complaints.pages import dashboard as complaints_dashboard
from retento.customers import pages as customer_pages
from retento.home import pages as home_pages
from retento.insights.pages import basket, drivers, forecast, propensity, segments, sequences
from retento.journey import charts as journey_charts
from retento.journey.dashboard import Summary
from retento.journey.funnel import ChannelRow, Funnel, StageRow
from retento.journey.models import MODES
from retento.loyalty import measure_pages
from retento.retention import pages_dashboard as retention_dashboard
from retento.retention import pages_uplift
from retento.retention.pages_common import reason_label
from retento.retention.queries_web import ClassRisk, TrendPoint
from retento.surveys import results_charts, results_pages
from retento.surveys.pages import common as _survey_labels  # noqa: F401  (registers labels)
from retento.touchpoints.models import STAGES
from retento.web.labels import label_msgid
from retento.web.render import tr
from tests.web.chart_layout import (
    FULL,
    HALF,
    axes,
    chart_page,  # noqa: F401  (shared fixture)
    draw,
    page_request,
    problems,
    uses_outer_bounds,
)
from tests.web.test_browser import browser  # noqa: F401  (shared fixture)

pytestmark = pytest.mark.browser

CUSTOMER_CHART = 846
"""The revenue chart's width on the customer 360 page (two thirds of the column)."""
SURVEY_HALF = 593
"""A question's distribution and the driver matrix on the survey results page."""

MONTHS = [f"{2024 + m // 12}-{m % 12 + 1:02d}" for m in range(24)]


class Chart:
    """A chart's option JSON, the size its page draws it at, and whether every category of its
    axes must be labelled (a time axis may label every other month)."""

    def __init__(self, option: str, width: int, height: int, *, every_category: bool = True):
        self.option, self.width, self.height = option, width, height
        self.every_category = every_category


def retention_charts(request: Request) -> dict[str, Chart]:
    classes = [
        ClassRisk(c, n, n // 3, Decimal(v), Decimal(v * 3), 0.4)
        for c, n, v in (
            ("vip", 12, 182_400),
            ("major", 40, 96_300),
            ("ordinary", 180, 41_250),
            ("small", 60, 3_100),
            ("below_zero", 8, 0),
        )
    ]
    reasons = ["lapsed", "lapsed_once", "purchases_falling", "spend_falling", "units_per_order"]
    runs = [
        TrendPoint(i, date(2025, 1, 6) + timedelta(weeks=i), 300, 0.3, 0.2, Decimal(1))
        for i in range(24)
    ]
    bars = [(reason_label(request, c), 40 - 7 * i) for i, c in enumerate(reasons)]
    return {
        "value-at-risk": Chart(retention_dashboard._var_chart(request, classes), HALF, 220),
        "reasons": Chart(
            retention_dashboard._bars(request, bars, "#cf222e", "Customers"),
            HALF,
            60 + 32 * len(bars),
        ),
        "alerts": Chart(
            retention_dashboard._bars(
                request, [("No purchase in 90 days", 118)], "#d4a72c", "Alerts"
            ),
            HALF,
            60 + 32,
        ),
        "trend": Chart(
            retention_dashboard._trend_chart(request, runs), FULL, 260, every_category=False
        ),
        "qini": Chart(pages_uplift.qini_chart(request, QINI_ROW), HALF, 300),
    }


# A playbook's Qini curve as the uplift report gives it: 21 points, 36 customers won back.
QINI_ROW = {
    "qini": [
        {"fraction": i / 20, "value": 36 * (1 - (1 - i / 20) ** 2), "random": 36 * i / 20}
        for i in range(21)
    ],
    "top_k": {"k": 0.3},
}


def customer_charts(request: Request) -> dict[str, Chart]:
    months = [
        (m, Decimal(48_000 + 900 * i), Decimal(-3_000 + 400 * i)) for i, m in enumerate(MONTHS)
    ]
    return {
        "revenue": Chart(
            customer_pages._chart(request, months), CUSTOMER_CHART, 240, every_category=False
        )
    }


def loyalty_charts(request: Request) -> dict[str, Chart]:
    types = [
        (code, tr(request, label_msgid("loyalty_type", code)), n)
        for code, n in (("trust", 41), ("inertia", 120), ("interest", 38), ("none", 1_204))
    ]
    hist = {
        "edges": [10.0 * i for i in range(11)],
        "counts": [3, 9, 40, 88, 160, 210, 95, 31, 9, 2],
    }
    return {
        "types": Chart(measure_pages._types_chart(types), HALF, 240),
        "index": Chart(measure_pages._index_chart(request, hist), HALF, 240),
    }


def home_charts(request: Request) -> dict[str, Chart]:
    points = [
        {"month": m, "nps": 35 - 5 * (i % 4), "answers": 1_200 + 10 * i}
        for i, m in enumerate(MONTHS[-12:])
    ]
    return {"nps": Chart(home_pages._nps_chart(request, points), HALF, 240, every_category=False)}


def complaint_charts(request: Request) -> dict[str, Chart]:
    causes = ["packaging", "supplier batch", "promotion rules", "booking system", "courier"]
    d = {
        "volume": {
            "by_category": [
                {"name": n, "count": c}
                for n, c in (
                    ("Product quality", 12),
                    ("Delivery", 3),
                    ("Pricing and billing", 2),
                    ("Staff attitude", 2),
                    ("Service", 1),
                )
            ],
            "by_channel": [
                {"channel": ch, "count": 4}
                for ch in ("email", "phone", "store", "web_form", "social", "chat")
            ],
        },
        "pareto": [
            {"root_cause": c, "count": 5 - i, "cumulative": (i + 1) / len(causes)}
            for i, c in enumerate(causes)
        ],
        "times": {
            clock: {"median_hours": 7.5, "p90_hours": 96.0, "target_hours_avg": 28.0}
            for clock in ("first_response", "resolution")
        },
        "repurchase": {
            "by_severity": [{"group": g, "rate": 0.25 * g} for g in (1, 2, 3, 4)],
            "by_resolution_speed": [
                {"group": g, "rate": 0.5}
                for g in ("within_1_day", "1_to_7_days", "over_7_days", "unresolved")
            ],
        },
        "monthly": [{"month": m, "count": 3} for m in MONTHS[-6:]],
    }
    charts = complaints_dashboard._charts(request, d)
    # the dashboard shows all but the monthly counts, each in a half-width card
    return {
        name: Chart(charts[name], HALF, 240)
        for name in ("category", "channel", "pareto", "times")
        + ("repurchase_severity", "repurchase_speed")
    }


def survey_charts(request: Request) -> dict[str, Chart]:
    dims = [
        "service.staff_attitude",
        "service.response_time",
        "service.promise",
        "service.content",
        "product.quality",
        "product.price",
        "product.performance",
        "product.packaging",
        "problems",
        "overall",
        "intent.repurchase",
        "competition",
    ]
    items = [
        ("performance", "Product performance", 1.0),
        ("price", "Price", 0.86),
        ("quality", "Product quality", 1.04),
        ("packaging", "Packaging", 1.03),
        ("promise", "Keeping our service promises", 0.96),
        ("content", "Range and content of our service", 0.96),
        ("response", "Response time", 0.92),
        ("staff", "Attitude of our staff", 1.02),
    ]
    res = {
        "nps": {
            "headline": {"n": 180, "promoters": 70, "passives": 45, "detractors": 65},
            "trend": [{"month": m, "score": 12.5 + i} for i, m in enumerate(MONTHS[-12:])],
        },
        "csat": {
            "by_dimension": [
                {"dimension": d, "n": 90, "top_box_share": 0.5 + i / 50, "mean_pct": 60 + i}
                for i, d in enumerate(dims)
            ]
        },
        "expectation_ratio": {
            "by_item": [
                {
                    "question": code,
                    "c": c,
                    "level": "dissatisfied" if c < 0.95 else "satisfied",
                }
                for code, _, c in items
            ]
        },
        "tolerance": 0.05,
        "funnel": {
            "respondents": 180,
            "stages": [
                {"stage": s, "count": n}
                for s, n in (
                    ("expectation", 180),
                    ("purchase", 170),
                    ("satisfied", 120),
                    ("dissatisfied", 50),
                    ("grumble", 40),
                    ("contact", 31),
                    ("handled", 28),
                    ("handled_satisfied", 18),
                    ("handled_not_satisfied", 10),
                    ("formal_complaint", 6),
                    ("complaint_satisfied", 4),
                    ("complaint_not_satisfied", 2),
                    ("leaves", 9),
                )
            ],
        },
    }
    value = {
        "overall": {
            "dimensions": {
                d: 60.0
                for d in (
                    "product",
                    "service",
                    "personnel",
                    "image",
                    "money",
                    "time",
                    "energy",
                    "physical",
                )
            }
        }
    }
    latents = ECSI_MODEL.latents
    csi = {
        "paths": [
            {"source": s, "target": t, "coefficient": 0.61 - 0.05 * n}
            for n, (s, t) in enumerate(ECSI_MODEL.paths)
        ],
        "indices": dict.fromkeys(latents, 64.5),
        "r2": dict.fromkeys(latents, 0.37),
        "drivers": {
            "Satisfaction": [
                {"driver": d, "importance": i, "performance": 64.0 + n}
                for n, (d, i) in enumerate(
                    (("Image", 0.62), ("Expectation", 0.47), ("Quality", 0.26), ("Value", -0.02))
                )
            ]
        },
    }
    texts = {code: text for code, text, _ in items}
    charts = results_charts.dashboard_charts(request, res, value, csi, texts)
    distribution = {
        "question": "overall_satisfaction",
        "text": "Overall satisfaction",
        "qtype": "rating",
        "options": [{"label": str(k), "count": 3 * k} for k in range(1, 6)],
    }
    choice = {
        "question": "problem_reported",
        "text": "Did you report the problem?",
        "qtype": "single_choice",
        "options": [
            {"label": "Yes, to the shop where I bought it", "count": 31},
            {"label": "Yes, to the manufacturer", "count": 12},
            {"label": "No", "count": 77},
        ],
    }
    return {
        "nps": Chart(charts["nps"], HALF, 240),
        "nps-trend": Chart(charts["nps_trend"], HALF, 240, every_category=False),
        # as tall as the page draws it: a row per dimension (at 240 px, 12 names touched)
        "csat": Chart(charts["csat"], FULL, results_charts.csat_height(res)),
        "ratio": Chart(charts["ratio"], FULL, 240),
        "funnel": Chart(charts["funnel"], HALF, 420),
        "delivered-value": Chart(charts["value"], HALF, 240),
        "csi": Chart(charts["csi"], FULL, 420),
        "drivers": Chart(charts["drivers"], SURVEY_HALF, 240),
        "distribution": Chart(
            results_pages.distribution_chart(request, distribution), SURVEY_HALF, 240
        ),
        "distribution-choice": Chart(
            results_pages.distribution_chart(request, choice), SURVEY_HALF, 240
        ),
    }


def insight_charts(request: Request) -> dict[str, Chart]:
    lift = {
        "lift": [{"decile": d, "lift": 3.2 / d} for d in range(1, 11)],
        "baseline_lift": [{"decile": d, "lift": 2.0 / d} for d in range(1, 11)],
    }
    # label, coefficient and its interval, performance: two drivers close together in the matrix
    features = [
        ("Points balance", 0.74, 0.56, 0.9, 62),
        ("Loyalty member", -0.45, -0.58, -0.24, 65),
        ("Days since last order", -0.33, -0.44, -0.19, 68),
        ("How much did you expect it to meet your needs?", 0.13, 0.0, 0.25, 71),
        ("Contacts we started", -0.06, -0.18, 0.07, 74),
        ("Share of spend at a discount", -0.04, -0.14, 0.07, 77),
        ("Contacts the customer started", 0.14, -0.05, 0.17, 71.3),
        ("Mean order value", -0.03, -0.13, 0.04, 83),
    ]
    driver_rows = [
        {
            "label": label,
            "coef": coef,
            "ci_lower": lo,
            "ci_upper": hi,
            "quadrant": "concentrate here",
            "performance": performance,
        }
        for label, coef, lo, hi, performance in features
    ]
    rules = [
        {
            "support": 0.01 + 0.002 * i,
            "confidence": 0.2 + 0.03 * i,
            "lift": 1 + i / 2,
            "antecedents": [i],
            "consequents": [i + 1],
        }
        for i in range(20)
    ]
    names = {str(i): f"Product {i}" for i in range(21)}
    periods = [f"2024-{m:02d}-01" for m in range(1, 13)] + [
        f"2025-{m:02d}-01" for m in range(1, 13)
    ]
    result = {
        "kpi": "revenue",
        "unit": "money",
        "model": "ETS(A,N,A)",
        "freq": "M",  # monthly, as the page passes it: the axis reads "Jan 2026" / "2026年1月"
        "seasonal_period": 12,
        "history": [{"period": p, "value": 48_000.0 + 900 * i} for i, p in enumerate(periods)],
        "forecast": [
            {
                "period": f"2026-{m:02d}-01",
                "mean": 70_000.0,
                "lo80": 60_000.0,
                "hi80": 80_000.0,
                "lo95": 55_000.0,
                "hi95": 85_000.0,
            }
            for m in range(1, 7)
        ],
        "naive_forecast": [{"period": f"2026-{m:02d}-01", "mean": 66_000.0} for m in range(1, 7)],
    }
    evaluation = {
        "hit_rate": {"patterns": 0.56, "popularity": 0.54, "repeat": 0.45},
        "winner": "patterns",
    }
    scores = {
        "method": "kmeans",
        "scores": [{"k": k, "score": 0.41 - k / 100, "chosen": k == 2} for k in range(2, 9)],
    }
    return {
        "propensity-lift": Chart(propensity._lift_chart(request, lift), FULL, 280),
        "driver-coefficients": Chart(
            drivers._coef_chart(request, driver_rows), FULL, 80 + 28 * len(driver_rows)
        ),
        "driver-matrix": Chart(drivers._matrix_chart(request, driver_rows) or "", FULL, 360),
        "basket-rules": Chart(basket._chart(request, rules, names), FULL, 300),
        "forecast": Chart(forecast._chart(request, result), FULL, 360, every_category=False),
        "sequences-hit-rate": Chart(sequences._chart(request, evaluation), FULL, 180),
        "segments-k": Chart(segments._k_chart(request, scores) or "", HALF, 220),
    }


def journey_charts_(request: Request) -> dict[str, Chart]:
    stages = (*STAGES, "unknown")
    funnel = Funnel(
        start=None,
        end=None,
        customers=300,
        stages=[StageRow(s, 300 - 30 * i, 20, 0.8, 0.2) for i, s in enumerate(STAGES)],
        channels=[
            ChannelRow(s, c, 40, 30, 0.75, 0.25)
            for s in STAGES[:-1]
            for c in ("ads", "phone", "web", "store", "email", "chat")
        ],
    )
    summary = Summary(
        start=None,
        end=None,
        n=500,
        mean=3.6,
        by_mode=[{"mode": m, "records_mean": 3.5, "answers_mean": 3.8} for m in MODES],
        by_stage=[{"stage": s} for s in stages],
        cells=[{"stage": s, "mode": m, "mean": 3.61, "n": 20} for s in stages for m in MODES],
    )
    return {
        "journey-channels": Chart(journey_charts.channel_chart(request, funnel), FULL, 300),
        "experience-heatmap": Chart(journey_charts.heatmap_chart(request, summary), HALF, 340),
        "experience-modes": Chart(journey_charts.mode_chart(request, summary), HALF, 220),
    }


def every_chart(request: Request) -> dict[str, Chart]:
    return (
        retention_charts(request)
        | customer_charts(request)
        | loyalty_charts(request)
        | home_charts(request)
        | {f"complaints-{k}": v for k, v in complaint_charts(request).items()}
        | {f"survey-{k}": v for k, v in survey_charts(request).items()}
        | insight_charts(request)
        | journey_charts_(request)
    )


def test_every_label_is_inside_its_chart_and_clear_of_the_others(chart_page):  # noqa: F811
    page, locale = chart_page
    request = page_request(locale)
    found = {}
    for name, chart in every_chart(request).items():
        wrong = problems(page, chart.option, chart.width, chart.height)
        if not chart.every_category and "missing" in wrong:
            # ECharts labels every other month where all do not fit: only axis names must show
            names = {axis.get("name") for axis in axes(json.loads(chart.option))}
            wrong["missing"] = [m for m in wrong["missing"] if m in names]
            wrong = {k: v for k, v in wrong.items() if v}
        if wrong:
            found[name] = wrong
    assert found == {}, locale


MIN_ROW_GAP = 6
"""The least space (px) between two neighbouring names of a vertical category axis: closer,
the names read as one block (the survey results' twelve satisfaction dimensions stood 16 px
apart, 2 px between their boxes, in a 240 px chart)."""


def crowded(page, chart: Chart) -> list[tuple[str, str]]:
    """Neighbouring names of a vertical category axis drawn less than ``MIN_ROW_GAP`` apart."""
    option = json.loads(chart.option)
    boxes = draw(page, option, chart.width, chart.height)
    out = []
    specs = option.get("yAxis") or []
    for axis in specs if isinstance(specs, list) else [specs]:
        if axis.get("type") != "category" or not axis.get("data"):
            continue
        names = {str(n) for n in axis["data"]}
        rows = sorted(
            (min(y for _x, y in b["corners"]), max(y for _x, y in b["corners"]), b["text"])
            for b in boxes
            if b["text"] in names
        )
        out += [
            (a[2], b[2]) for a, b in zip(rows, rows[1:], strict=False) if b[0] - a[1] < MIN_ROW_GAP
        ]
    return out


def test_names_of_a_vertical_category_axis_stand_apart(chart_page):  # noqa: F811
    page, locale = chart_page
    request = page_request(locale)
    found = {name: c for name, chart in every_chart(request).items() if (c := crowded(page, chart))}
    assert found == {}, locale


def test_every_chart_with_axes_keeps_its_axis_names_inside():
    """The grid keeps axis names inside too (``retento.web.charts.grid``), not only the tick
    labels as ECharts 6's deprecated ``containLabel`` did."""
    request = page_request("zh_CN")
    for name, chart in every_chart(request).items():
        option = json.loads(chart.option)
        if "xAxis" in option:
            assert uses_outer_bounds(chart.option), name
