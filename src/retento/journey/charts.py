"""ECharts options for the journey funnel and experience pages, passed to the page as
``data-chart`` JSON (the strict CSP forbids inline scripts; retento.js draws them)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from retento.journey.dashboard import Summary
from retento.journey.funnel import Funnel
from retento.journey.models import MODES
from retento.touchpoints.models import CHANNELS
from retento.web.charts import chart_json, grid
from retento.web.labels import label_msgid
from retento.web.render import tr


def funnel_chart(request: Request, funnel: Funnel) -> str:
    """Customers reaching each stage, as a funnel, in stage order."""
    data = [
        {"name": tr(request, label_msgid("stage", s.stage)), "value": s.reached}
        for s in funnel.stages
    ]
    return chart_json(
        {
            "tooltip": {"trigger": "item"},
            "series": [
                {
                    "type": "funnel",
                    "sort": "none",
                    "left": "5%",
                    "width": "70%",
                    "minSize": "4%",
                    "label": {"position": "right"},
                    "data": data,
                }
            ],
        }
    )


def channel_chart(request: Request, funnel: Funnel) -> str:
    """Conversion to the next stage per channel (bars grouped by stage)."""
    stages = [s.stage for s in funnel.stages[:-1]]
    present = [c for c in CHANNELS if any(r.channel == c for r in funnel.channels)]
    conv = {(r.stage, r.channel): r.conversion for r in funnel.channels}
    series = [
        {
            "name": tr(request, label_msgid("channel", c)),
            "type": "bar",
            "data": [
                round(100 * conv[(s, c)], 1) if conv.get((s, c)) is not None else None
                for s in stages
            ],
        }
        for c in present
    ]
    return chart_json(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": grid(top=40),
            "xAxis": {
                "type": "category",
                "data": [tr(request, label_msgid("stage", s)) for s in stages],
                "axisLabel": {"rotate": 30},
            },
            "yAxis": {"type": "value", "max": 100, "name": "%"},
            "series": series,
        }
    )


def heatmap_chart(request: Request, summary: Summary) -> str:
    """Mean rating (1–5) by experience mode (rows) × journey stage (columns); the label of a
    cell is its mean, the tooltip adds the count."""
    stages = [s["stage"] for s in summary.by_stage]
    data = []
    for c in summary.cells:
        if c["stage"] in stages:
            data.append(
                [stages.index(c["stage"]), MODES.index(c["mode"]), round(c["mean"], 2), c["n"]]
            )
    return chart_json(
        {
            "tooltip": {"position": "top"},
            # below: the colour scale at the bottom, with its handles' values
            "grid": grid(top=10, below=48),
            "xAxis": {
                "type": "category",
                "data": [tr(request, label_msgid("stage", s)) for s in stages],
                "axisLabel": {"rotate": 30},
                "splitArea": {"show": True},
            },
            "yAxis": {
                "type": "category",
                "data": [tr(request, label_msgid("experience_mode", m)) for m in MODES],
                "splitArea": {"show": True},
            },
            "visualMap": {
                # the colour follows the mean (the third value of a cell), not the count after
                # it: ECharts colours by the last value unless told, and every count is above 5
                "dimension": 2,
                "min": 1,
                "max": 5,
                "calculable": True,
                "orient": "horizontal",
                "left": "center",
                "bottom": 0,
                "inRange": {"color": ["#d94e4e", "#f3d27a", "#3a9d5d"]},
            },
            "series": [
                {
                    "name": tr(request, "Mean rating"),
                    "type": "heatmap",
                    "data": data,
                    "label": {"show": True},
                }
            ],
        }
    )


def mode_chart(request: Request, summary: Summary) -> str:
    """Mean rating per mode, one bar per source (records, survey answers)."""
    modes = [tr(request, label_msgid("experience_mode", m["mode"])) for m in summary.by_mode]

    def rounded(v: float | None) -> float | None:
        return round(v, 2) if v is not None else None

    return chart_json(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": grid(top=36),
            # every mode named ("Feel (emotional)"), on two lines where one is too long
            "xAxis": {
                "type": "category",
                "data": modes,
                "axisLabel": {"interval": 0, "width": 80, "overflow": "break"},
            },
            "yAxis": {"type": "value", "min": 1, "max": 5},
            "series": [
                {
                    "name": tr(request, label_msgid("experience_source", "record")),
                    "type": "bar",
                    "data": [rounded(m["records_mean"]) for m in summary.by_mode],
                },
                {
                    "name": tr(request, label_msgid("experience_source", "survey")),
                    "type": "bar",
                    "data": [rounded(m["answers_mean"]) for m in summary.by_mode],
                },
            ],
        }
    )


def api_url(path: str, dash: Any, **extra: str | tuple[str, ...]) -> str:
    """The JSON API address of a page's numbers: the period as ``since``/``until``; a tuple
    in ``extra`` repeats its parameter."""
    from urllib.parse import urlencode

    params: dict[str, str | tuple[str, ...]] = {}
    if dash.start is not None:
        params["since"] = dash.start.isoformat()
    if dash.end is not None:
        params["until"] = dash.end.isoformat()
    params |= {k: v for k, v in extra.items() if v}
    return f"{path}?{urlencode(params, doseq=True)}" if params else path
