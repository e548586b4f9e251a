"""What every page's ECharts options share: the cartesian grid that keeps axis labels and axis
names inside the chart, and the JSON the page reads them from."""

from __future__ import annotations

import json
import math
from typing import Any

OUTER_BOUNDS = {"left": 2, "right": 4, "top": 2, "bottom": 2}
"""How close to the chart's edges an axis label or axis name may be drawn."""


def grid(
    *,
    left: int = 8,
    right: int | str = 16,
    top: int = 28,
    bottom: int = 8,
    below: int = 0,
) -> dict[str, Any]:
    """A cartesian grid whose plot shrinks until its axis labels *and* axis names lie inside
    the chart (``OUTER_BOUNDS``, and ``below`` px above the bottom edge for a colour scale or
    slider there); ``left`` … ``bottom`` place the plot when they fit anyway (``right`` may be a
    share, ``"28%"``, for a column of labels beside the plot).

    ECharts 6 replaced ``containLabel`` (deprecated) with ``outerBounds``: with
    ``containLabel: true`` it keeps only the tick labels in, so a y-axis name above the plot
    ("Customers", "CLV"), an x-axis name below it or a long Chinese one was cut off at the edge.
    """
    outer = {**OUTER_BOUNDS, "bottom": OUTER_BOUNDS["bottom"] + below}
    # A plot placed beyond the outer bounds is shrunk out of all proportion (ECharts 6.1): each
    # side starts at least as far in as its bound.
    return {
        "left": max(left, outer["left"]),
        "right": right if isinstance(right, str) else max(right, outer["right"]),
        "top": max(top, outer["top"]),
        "bottom": max(bottom, outer["bottom"]),
        "outerBounds": outer,
        "outerBoundsContain": "all",
    }


def chart_json(option: dict[str, Any]) -> str:
    """An ECharts option as JSON for a ``data-chart`` attribute: NaN and infinities become
    ``null`` (the browser's JSON.parse rejects them), other values JSON cannot hold
    (``Decimal``, dates) their text, and non-ASCII text (Chinese labels) stays as it is."""
    return json.dumps(_finite(option), ensure_ascii=False, allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
