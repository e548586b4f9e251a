"""The ECharts options of the value dashboard, each as the JSON of a ``data-chart``
attribute: the value pyramid, the Pareto curve, histograms, the P(alive) or churn-risk
scatter, cohorts, the holdout tracking and the stage and label bars; and the number
formatting they share with the other value pages (``_num``, ``_pct``).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request

from retento.web.charts import chart_json, grid
from retento.web.i18n import Formatter
from retento.web.labels import label_msgid
from retento.web.render import request_locale, tr


def _num(value: Any) -> float | None:
    """A finite float or ``None``."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# Numbers are written alike in English and Chinese (',' groups, '.' decimals); through the
# app's formatter a share rounds as the page's text beside the chart rounds it (14.95 → 15.0).
_NUMBERS = Formatter("en")


def _pct(value: Any) -> str:
    """``0.2345`` → ``23.5 %`` (``—`` when unknown)."""
    f = _num(value)
    return "—" if f is None else _NUMBERS.number(f * 100, 1) + " %"


def _numbers(request: Request) -> Formatter:
    """The page's number formatter."""
    return Formatter(request_locale(request))


RANGE_LABELS: dict[str, Any] = {"rotate": 45, "interval": 0, "hideOverlap": True}
"""Category labels of a histogram's ranges ("1,012–1,214"): slanted so twenty of them fit under
a half-width card, every one shown (ECharts otherwise skips some), none drawn over another."""


def _range_labels(edges: list, count: int, number: Any, digits: int) -> list[str]:
    """``lo–hi`` for each of ``count`` bins, the numbers as the page writes them."""
    n = min(count, len(edges) - 1)
    return [f"{number(edges[i], digits)}–{number(edges[i + 1], digits)}" for i in range(n)]


CLASS_COLOURS = {
    "vip": "#7c3aed",
    "major": "#1f6feb",
    "ordinary": "#22a06b",
    "small": "#d4a72c",
    "below_zero": "#cf222e",
}


def _pyramid_chart(request: Request, pyramid: dict[str, Any]) -> str:
    """The value pyramid as an ECharts funnel (VIP on top), labelled with counts and shares."""
    classes = pyramid.get("classes", [])
    number = _numbers(request).number
    data = []
    for width, row in enumerate(classes, start=1):
        name = tr(request, label_msgid("value_class", row["value_class"]))
        count = number(row["customers"])
        data.append(
            {
                "value": width,
                "name": f"{name} · {count} · {_pct(row.get('profit_share'))}",
                "itemStyle": {"color": CLASS_COLOURS.get(row["value_class"], "#8c959f")},
            }
        )
    return chart_json(
        {
            "tooltip": {"show": False},
            "series": [
                {
                    "type": "funnel",
                    "sort": "ascending",
                    "left": "10%",
                    "width": "80%",
                    "top": 8,
                    "bottom": 8,
                    # the top (VIP) band wide enough for its label in Chinese too
                    "minSize": "40%",
                    "gap": 2,
                    "label": {"position": "inside", "color": "#fff", "fontWeight": "bold"},
                    "data": data,
                }
            ],
        }
    )


def _pareto_chart(request: Request, pareto: dict[str, Any]) -> str:
    """Cumulative profit share against customer share, with the 80 % point marked."""
    xs = pareto.get("customer_share", [])
    ys = pareto.get("profit_share", [])
    point = _num(pareto.get("point_80"))
    series: list[dict[str, Any]] = [
        {
            "name": tr(request, "Share of profit"),
            "type": "line",
            "showSymbol": False,
            "data": [[x, y] for x, y in zip(xs, ys, strict=False)],
            "areaStyle": {"opacity": 0.08},
        },
        {
            "name": tr(request, "Equal shares"),
            "type": "line",
            "showSymbol": False,
            "lineStyle": {"type": "dashed", "color": "#8c959f"},
            "data": [[0, 0], [1, 1]],
        },
    ]
    if point is not None:
        label = tr(request, "80 %% of profit from %(share)s of customers", share=_pct(point))
        series[0]["markPoint"] = {
            "symbolSize": 12,
            "symbol": "circle",
            "data": [{"coord": [point, 0.8], "name": "80/20"}],
            # beside the point on the side with room, so the sentence is not cut at an edge
            "label": {
                "show": True,
                "position": "right" if point <= 0.5 else "left",
                "formatter": label,
            },
        }
        series[0]["markLine"] = {
            "symbol": "none",
            "lineStyle": {"type": "dotted"},
            "data": [{"xAxis": point}, {"yAxis": 0.8}],
            "label": {"show": False},
        }
    return chart_json(
        {
            "grid": grid(right=24, top=32),
            "legend": {"top": 0},
            "tooltip": {"trigger": "axis"},
            "xAxis": {
                "type": "value",
                "min": 0,
                "max": 1,
                "name": tr(request, "Share of customers"),
                "nameLocation": "middle",
                "nameGap": 24,
            },
            "yAxis": {"type": "value", "min": 0, "max": 1},
            "color": ["#1f6feb", "#8c959f"],
            "series": series,
        }
    )


def _histogram_chart(request: Request, hist: dict[str, Any], name: str, digits: int) -> str:
    """A histogram from stored bin edges and counts."""
    edges = hist.get("edges", [])
    counts = hist.get("counts", [])
    cats = _range_labels(edges, len(counts), _numbers(request).number, digits)
    return chart_json(
        {
            "grid": grid(),
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": cats, "axisLabel": RANGE_LABELS},
            "yAxis": {"type": "value", "name": tr(request, "Customers")},
            "color": ["#1f6feb"],
            "series": [{"name": name, "type": "bar", "barCategoryGap": "8%", "data": counts}],
        }
    )


def _scatter_chart(request: Request, points: list, x_name: str) -> str:
    """Churn risk or P(alive) against CLV, one point per customer (the third value is the
    customer id); ``x_name`` names the measure and the model behind it."""
    return chart_json(
        {
            "grid": grid(),
            "tooltip": {"trigger": "item"},
            "xAxis": {
                "type": "value",
                "min": 0,
                "max": 1,
                "name": x_name,
                "nameLocation": "middle",
                "nameGap": 24,
            },
            "yAxis": {"type": "value", "name": tr(request, "CLV")},
            "color": ["#7c3aed"],
            "series": [
                {
                    "name": tr(request, "Customers"),
                    "type": "scatter",
                    "symbolSize": 7,
                    "cursor": "pointer",
                    "data": points,
                }
            ],
        }
    )


def _cohort_chart(request: Request, cohorts: dict[str, Any]) -> str:
    """The share of each first-purchase cohort still buying, month by month, as a heat map."""
    rows = cohorts.get("cohorts", [])
    periods = cohorts.get("periods", [])
    data = []
    for y, shares in enumerate(cohorts.get("shares", [])):
        for x, share in enumerate(shares):
            if _num(share) is not None:
                # Percent, so each cell can print its value ("37") without a JS formatter.
                data.append([x, y, round(float(share) * 100)])
    return chart_json(
        {
            # the colour scale and its handles' values take the bottom 64 px, below the axis name
            "grid": grid(right=8, top=8, below=64),
            "tooltip": {"position": "top"},
            "xAxis": {
                "type": "category",
                "data": [str(p) for p in periods],
                "name": tr(request, "Months since first purchase"),
                "nameLocation": "middle",
                "nameGap": 24,
                "splitArea": {"show": True},
            },
            "yAxis": {"type": "category", "data": rows, "inverse": True},
            "visualMap": {
                "min": 0,
                "max": 100,
                "calculable": True,
                "text": ["100 %", "0 %"],
                "orient": "horizontal",
                "left": "center",
                "bottom": 0,
                "itemHeight": 120,
                "inRange": {"color": ["#f6f8fa", "#9ecbff", "#1f6feb", "#0a3069"]},
            },
            "series": [
                {
                    "name": tr(request, "Still buying"),
                    "type": "heatmap",
                    "data": data,
                    "label": {
                        "show": True,
                        "formatter": "{@[2]}",
                        "fontSize": 10 if len(periods) <= 24 else 8,
                    },
                }
            ],
        }
    )


def _tracking_chart(request: Request, holdout: dict[str, Any]) -> str:
    """Cumulative repeat purchases, actual against expected, with the holdout period shaded."""
    rows = holdout.get("tracking", [])
    periods = [str(r["period"]) for r in rows]
    first_holdout = next((str(r["period"]) for r in rows if r.get("holdout")), None)
    actual: dict[str, Any] = {
        "name": tr(request, "Actual"),
        "type": "line",
        "showSymbol": False,
        "data": [r.get("actual_cumulative") for r in rows],
    }
    if first_holdout is not None:
        actual["markLine"] = {
            "symbol": "none",
            "lineStyle": {"type": "dashed", "color": "#cf222e"},
            "label": {"formatter": tr(request, "Holdout starts")},
            "data": [{"xAxis": first_holdout}],
        }
        actual["markArea"] = {
            "itemStyle": {"color": "rgba(207,34,46,0.06)"},
            "data": [[{"xAxis": first_holdout}, {"xAxis": periods[-1]}]],
        }
    return chart_json(
        {
            "grid": grid(top=32),
            "legend": {"top": 0},
            "tooltip": {"trigger": "axis"},
            "xAxis": {
                "type": "category",
                "data": periods,
                "name": tr(request, "Week"),
                "nameLocation": "middle",
                "nameGap": 24,
            },
            "yAxis": {"type": "value", "name": tr(request, "Repeat purchases")},
            "color": ["#1f6feb", "#22a06b"],
            "series": [
                actual,
                {
                    "name": tr(request, "Expected"),
                    "type": "line",
                    "showSymbol": False,
                    "lineStyle": {"type": "dashed"},
                    "data": [r.get("expected_cumulative") for r in rows],
                },
            ],
        }
    )


def _bars_chart(request: Request, items: list[tuple[str, int]], colour: str) -> str:
    """A small horizontal bar chart of counts, each written right of its bar as the page writes
    numbers ("1,428"): inside a short bar it did not fit, and the axis leaves room after the
    longest bar so its count is not cut off at the right edge."""
    number = _numbers(request).number
    data = [{"value": c, "label": {"formatter": number(c)}} for _, c in items]
    return chart_json(
        {
            "grid": grid(right=16, top=4, bottom=4),
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "value", "minInterval": 1, "boundaryGap": [0, "15%"]},
            "yAxis": {"type": "category", "data": [n for n, _ in items], "inverse": True},
            "color": [colour],
            "series": [{"type": "bar", "data": data, "label": {"show": True, "position": "right"}}],
        }
    )
