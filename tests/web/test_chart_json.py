"""One ``chart_json`` for every page's ECharts options (five domains had their own copy, two
of them failing on a ``Decimal``), in the web layer, which imports no domain."""

from __future__ import annotations

import ast
import importlib
import json
import math
from decimal import Decimal
from pathlib import Path

import pytest

from retento.web import charts
from retento.web.charts import chart_json


def test_non_finite_numbers_become_null_at_any_depth():
    option = {"series": [{"data": [1.5, math.nan, (math.inf, -math.inf)]}], "n": 3}
    text = chart_json(option)
    assert json.loads(text) == {"series": [{"data": [1.5, None, [None, None]]}], "n": 3}
    assert "NaN" not in text and "Infinity" not in text


def test_decimals_are_written_as_their_text_and_chinese_stays_readable():
    text = chart_json({"name": "价值", "data": [Decimal("12.50")]})
    assert text == '{"name": "价值", "data": ["12.50"]}'


@pytest.mark.parametrize(
    "module",
    [
        "retento.retention.pages_dashboard",
        "retento.insights.pages.basket",
        "retento.insights.pages.drivers",
        "retento.insights.pages.forecast",
        "retento.insights.pages.propensity",
        "retento.insights.pages.segments",
        "retento.insights.pages.sequences",
        "retento.journey.charts",
        "retento.loyalty.measure_pages",
        "retento.scoring.pages_charts",
        "retento.scoring.pages_relationship",
    ],
)
def test_every_chart_page_uses_the_web_layers_chart_json(module):
    assert importlib.import_module(module).chart_json is chart_json


def test_the_web_charts_module_imports_no_domain():
    tree = ast.parse(Path(charts.__file__).read_text(encoding="utf-8"))
    imported = [
        n.module if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    ]
    assert imported and not [m for m in imported if m and m.startswith("retento")]
