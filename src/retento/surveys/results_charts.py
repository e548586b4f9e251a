"""The ECharts options of the survey results dashboard (moved out of pages.py).

Every axis shows labels (question texts, option labels, translated dimension names), never
raw codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request

from retento.surveys.models import DELIVERED_VALUE_DIMENSIONS
from retento.web.charts import grid
from retento.web.i18n import N_
from retento.web.labels import label_msgid, register_labels
from retento.web.render import tr

LEVEL_COLOURS = {"dissatisfied": "#d1242f", "satisfied": "#bf8700", "highly_satisfied": "#1a7f37"}

register_labels(
    "satisfaction_dimension",
    {
        "basic": N_("Basic facts"),
        "overall": N_("Overall"),
        "product.performance": N_("Product performance"),
        "product.price": N_("Price"),
        "product.quality": N_("Product quality"),
        "product.packaging": N_("Packaging"),
        "service.promise": N_("Service promise"),
        "service.content": N_("Service content"),
        "service.response_time": N_("Response time"),
        "service.staff_attitude": N_("Staff attitude"),
        "communication.channels": N_("Communication channels"),
        "communication.proactive": N_("Proactive communication"),
        "competition": N_("Competition"),
        "intent.repurchase": N_("Repurchase intent"),
        "intent.recommend": N_("Recommendation intent"),
        "problems": N_("Problems"),
    },
)


def dump(option: dict[str, Any]) -> str:
    """An ECharts option as JSON for ``data-chart``."""
    return json.dumps(option, ensure_ascii=False)


def pct(v: float | None) -> float | None:
    """A share as a rounded percentage."""
    return None if v is None else round(100 * v, 1)


CSAT_ROW = 30
"""The height of one dimension's pair of bars in the satisfaction-by-dimension chart (px)."""


def csat_dimensions(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The dimensions of the satisfaction-by-dimension chart: those with answers."""
    return [d for d in res["csat"]["by_dimension"] if d["n"]]


def csat_height(res: dict[str, Any]) -> int:
    """The satisfaction-by-dimension chart's height (px): a row per dimension under the legend,
    above the axis. At the cards' usual 240 px, twelve dimensions' names stood 16 px apart,
    touching one another and the bars' pairs too thin to tell apart."""
    return 64 + CSAT_ROW * len(csat_dimensions(res))


def dashboard_charts(
    request: Request,
    res: dict[str, Any],
    value: dict[str, Any] | None,
    csi: dict[str, Any] | None,
    texts: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every chart of the dashboard as ECharts options (``texts``: question code → text)."""
    texts = texts or {}
    t = lambda m: tr(request, m)  # noqa: E731
    charts: dict[str, str] = {}
    nps = res["nps"]["headline"]
    if nps and nps["n"]:
        charts["nps"] = dump(
            {
                "tooltip": {"trigger": "item"},
                "legend": {"bottom": 0},
                "color": ["#1a7f37", "#bf8700", "#d1242f"],
                "series": [
                    {
                        "type": "pie",
                        # the ring and its labels above the legend: a slice at the bottom put
                        # its label over the legend's names
                        "bottom": 28,
                        "radius": ["45%", "70%"],
                        "data": [
                            {"name": t(N_("Promoters")), "value": nps["promoters"]},
                            {"name": t(N_("Passives")), "value": nps["passives"]},
                            {"name": t(N_("Detractors")), "value": nps["detractors"]},
                        ],
                    }
                ],
            }
        )
    trend = res["nps"]["trend"]
    if trend:
        charts["nps_trend"] = dump(
            {
                "grid": grid(right=8, top=24, bottom=4),
                "tooltip": {"trigger": "axis"},
                "xAxis": {"type": "category", "data": [p["month"] for p in trend]},
                "yAxis": {"type": "value", "min": -100, "max": 100},
                "series": [
                    {
                        "name": "NPS",
                        "type": "line",
                        "data": [
                            None if p["score"] is None else round(p["score"], 1) for p in trend
                        ],
                    }
                ],
            }
        )
    dims = csat_dimensions(res)
    if dims:
        charts["csat"] = dump(
            {
                # top: room for the legend above the bars (at 8 it was drawn over the first ones)
                "grid": grid(right=24, top=32, bottom=4),
                "tooltip": {"trigger": "axis"},
                "xAxis": {"type": "value", "max": 100, "name": "%"},
                "yAxis": {
                    "type": "category",
                    "data": [
                        t(label_msgid("satisfaction_dimension", d["dimension"])) for d in dims
                    ],
                    "axisLabel": {"interval": 0},  # every dimension named, none skipped
                },
                "series": [
                    {
                        "name": t(N_("Top-box share")),
                        "type": "bar",
                        "data": [pct(d["top_box_share"]) for d in dims],
                    },
                    {
                        "name": t(N_("Mean (0–100)")),
                        "type": "bar",
                        "data": [
                            None if d["mean_pct"] is None else round(d["mean_pct"], 1) for d in dims
                        ],
                    },
                ],
                "legend": {"top": 0},
            }
        )
    items = [i for i in res["expectation_ratio"]["by_item"] if i["c"] is not None]
    tol = res["tolerance"]
    if items:
        charts["ratio"] = dump(
            {
                # right: room for the tolerance lines' labels (1.05 / 0.95), cut off at 24
                "grid": grid(right=48, top=24, bottom=4),
                "tooltip": {"trigger": "axis"},
                "xAxis": {
                    "type": "category",
                    "data": [texts.get(i["question"], i["question"]) for i in items],
                    "axisLabel": {"interval": 0, "rotate": 30 if len(items) > 4 else 0},
                },
                "yAxis": {"type": "value", "name": "c = b/a", "min": 0},
                "series": [
                    {
                        "type": "bar",
                        "name": "c",
                        "data": [
                            {
                                "value": round(i["c"], 3),
                                "itemStyle": {"color": LEVEL_COLOURS.get(i["level"], "#1f6feb")},
                            }
                            for i in items
                        ],
                        "markLine": {
                            "symbol": "none",
                            # the two lines are close: one value written above its line, the
                            # other below, not over each other
                            "data": [
                                {
                                    "yAxis": round(1 - tol, 3),
                                    "name": t(N_("Dissatisfied")),
                                    "label": {"verticalAlign": "top"},
                                },
                                {
                                    "yAxis": round(1 + tol, 3),
                                    "name": t(N_("Highly satisfied")),
                                    "label": {"verticalAlign": "bottom"},
                                },
                            ],
                        },
                    }
                ],
            }
        )
    if value and value.get("overall"):
        overall = value["overall"]
        dims_v = [d for d in DELIVERED_VALUE_DIMENSIONS if d in overall["dimensions"]]
        charts["value"] = dump(
            {
                "tooltip": {},
                "radar": {
                    "indicator": [
                        {"name": t(label_msgid("value_dimension", d)), "max": 100} for d in dims_v
                    ]
                },
                "series": [
                    {
                        "type": "radar",
                        "data": [
                            {
                                "name": t(N_("Delivered value")),
                                "value": [round(overall["dimensions"][d], 1) for d in dims_v],
                            }
                        ],
                    }
                ],
            }
        )
    funnel = res["funnel"]["stages"]
    if res["funnel"]["respondents"]:
        charts["funnel"] = dump(
            {
                "grid": grid(right=32, top=8, bottom=4),
                "tooltip": {"trigger": "axis"},
                "xAxis": {"type": "value", "minInterval": 1},
                "yAxis": {
                    "type": "category",
                    "inverse": True,
                    "data": [t(label_msgid("funnel_stage", s["stage"])) for s in funnel],
                },
                "series": [
                    {
                        "type": "bar",
                        "label": {"show": True, "position": "right"},
                        "data": [s["count"] for s in funnel],
                    }
                ],
            }
        )
    if csi:
        charts.update(_csi_charts(request, csi))
    return charts


# Value stands below the middle of the path from Quality to Satisfaction: at it (220, 300), that
# path's coefficient was written over Value's name.
CSI_POSITIONS = {
    "Image": (0, 0),
    "Expectation": (0, 200),
    "Quality": (0, 400),
    "Value": (220, 340),
    "Satisfaction": (440, 200),
    "Complaints": (660, 320),
    "Loyalty": (660, 80),
}


def _csi_charts(request: Request, csi: dict[str, Any]) -> dict[str, str]:
    """The CSI path diagram and the driver (importance–performance) matrix."""
    t = lambda m: tr(request, m)  # noqa: E731
    latents = list(
        dict.fromkeys([p["source"] for p in csi["paths"]] + [p["target"] for p in csi["paths"]])
    )
    nodes = []
    for lv in latents:
        x, y = CSI_POSITIONS.get(lv, (330, 0))
        index = csi["indices"].get(lv)
        r2 = csi["r2"].get(lv)
        text = t(label_msgid("csi_latent", lv))
        if index is not None:
            text += f"\n{index:.1f}"
        if r2:
            text += f"\nR² {r2:.2f}"
        nodes.append({"name": lv, "x": x, "y": y, "value": index, "label": {"formatter": text}})
    links = [
        {
            "source": p["source"],
            "target": p["target"],
            "value": round(p["coefficient"], 3),
            "label": {"show": True, "formatter": f"{p['coefficient']:.2f}"},
            "lineStyle": {"width": 1 + 4 * min(abs(p["coefficient"]), 1)},
        }
        for p in csi["paths"]
    ]
    graph = {
        "tooltip": {},
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "symbol": "roundRect",
                # Wide enough for the longest name in a node ("Customer complaints").
                "symbolSize": [136, 56],
                "edgeSymbol": ["none", "arrow"],
                "edgeSymbolSize": 10,
                "label": {"show": True, "color": "#fff"},
                "itemStyle": {"color": "#1f6feb"},
                "lineStyle": {"color": "#57606a", "curveness": 0.1},
                "data": nodes,
                "links": links,
            }
        ],
    }
    drivers = csi["drivers"].get("Satisfaction") or []
    scatter = driver_matrix_option(drivers, t)
    return {"csi": dump(graph), "drivers": dump(scatter)}


def driver_matrix_option(drivers: list[dict[str, Any]], t: Callable[[str], str]) -> dict[str, Any]:
    """The importance–performance scatter of the CSI drivers, with readable point labels.

    Drivers often sit close together (similar total effects and indices), so labels next to
    their points would overlap. The labels stand in a column right of the plot instead, each at
    its point's height, moved apart vertically where they would touch (ECharts ``labelLayout``
    ``moveOverlap: shiftY``, which only moves labels detached from their points) and tied to
    its point by a label line. Dashed lines at the mean importance and the mean performance
    mark the four quadrants of ``importance_performance``; the table under the chart repeats
    every figure. Drivers without a defined importance or performance (None) are left out.
    """
    points = [d for d in drivers if d["importance"] is not None and d["performance"] is not None]
    series: dict[str, Any] = {
        "type": "scatter",
        "symbolSize": 14,
        "label": {
            "show": True,
            "position": "right",
            "formatter": "{b}",
            "minMargin": 2,
            "width": 150,
            "overflow": "truncate",
        },
        "labelLayout": {"x": "74%", "moveOverlap": "shiftY"},
        "colorBy": "data",  # each driver its colour, shared by its label line
        "labelLine": {"show": True, "length2": 4},
        "emphasis": {"focus": "self", "label": {"fontWeight": "bold"}},
        "data": [
            {
                "name": t(label_msgid("csi_latent", d["driver"])),
                "value": [round(d["importance"], 3), round(d["performance"], 1)],
            }
            for d in points
        ],
    }
    if len(points) > 1:
        series["markLine"] = {
            "silent": True,
            "symbol": "none",
            "label": {"show": False},
            "lineStyle": {"type": "dashed", "color": "#8c959f"},
            "data": [
                {"xAxis": round(sum(d["importance"] for d in points) / len(points), 3)},
                {"yAxis": round(sum(d["performance"] for d in points) / len(points), 1)},
            ],
        }
    return {
        # the right 28 % hold the label column (labelLayout x = 74 %)
        "grid": grid(right="28%", top=28, bottom=24),
        "tooltip": {"trigger": "item"},
        "xAxis": {
            "type": "value",
            "name": t(N_("Importance")),
            "nameLocation": "middle",
            "nameGap": 24,
        },
        "yAxis": {"type": "value", "name": t(N_("Performance")), "min": 0, "max": 100},
        "series": [series],
    }
