"""Drawing an ECharts option with the vendored ECharts in Debian's Chromium and finding what a
reader would see cut off or drawn over something else: the layout checks of the chart tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from starlette.requests import Request

from retento.web.render import PACKAGE_DIR, Viewer
from tests.web.live import BROWSER_TIMEOUT_MS

HALF, FULL = 574, 1202
"""A half-width and a full-width card's chart at a 1366 px window (the content column is
1280 px, at 1920 px too)."""


def page_request(locale: str) -> Request:
    """A request of a user who reads ``locale`` (all the chart builders need of one)."""
    request = Request({"type": "http", "headers": [], "state": {}})
    request.state.viewer = Viewer(1, "analyst", "Ann Analyst", "analyst", locale)
    return request


# The corners of each drawn text's box, in chart pixels (rotated labels give rotated boxes). A
# box is as wide as the text and 1.17 em high around its middle, as tall as Latin text in the
# default font: on a Chinese page the CJK font's box is 1.45 em high, taller than any glyph in
# it, so two lines 14 px apart (as ECharts sets them) would seem to overlap when no stroke does.
TEXT_BOXES = """el => [...el.querySelectorAll('svg text')]
    .filter(t => t.textContent.trim() && getComputedStyle(t).display !== 'none'
                 && t.getAttribute('opacity') !== '0' && t.getAttribute('fill-opacity') !== '0')
    .map(t => {
        const b = t.getBBox(), m = t.getScreenCTM(), box = el.getBoundingClientRect();
        const em = parseFloat(getComputedStyle(t).fontSize) || 12;
        const h = Math.min(b.height, 1.17 * em), y = b.y + (b.height - h) / 2;
        const at = (px, py) => { const p = new DOMPoint(px, py).matrixTransform(m);
                                 return [p.x - box.left, p.y - box.top]; };
        return {text: t.textContent, corners: [at(b.x, y), at(b.x + b.width, y),
                at(b.x + b.width, y + h), at(b.x, y + h)],
                anchor: t.getAttribute('transform'), line: t.getAttribute('y')};
    })"""


def draw(page, option: dict[str, Any], width: int, height: int) -> list[dict]:
    """Draw ``option`` in a ``width`` × ``height`` box; the boxes of its texts."""
    page.evaluate(
        """([opt, w, h]) => {
            const el = document.getElementById('chart');
            if (el._chart) el._chart.dispose();
            el.style.width = w + 'px'; el.style.height = h + 'px';
            el._chart = echarts.init(el, null, {renderer: 'svg'});
            el._chart.setOption(Object.assign({animation: false}, opt));
        }""",
        [option, width, height],
    )
    return page.eval_on_selector("#chart", TEXT_BOXES)


def outside(boxes: list[dict], width: int, height: int) -> list[str]:
    """Texts drawn (partly) outside the chart: cut off on the page."""
    return [
        b["text"]
        for b in boxes
        if any(x < -1 or x > width + 1 or y < -1 or y > height + 1 for x, y in b["corners"])
    ]


def _separated(p: list, q: list) -> bool:
    """Whether two convex quadrilaterals are at least apart along one of their edges' normals
    (they may touch: 1 px of antialiasing is not an overlap)."""
    for quad in (p, q):
        for i in range(4):
            (x1, y1), (x2, y2) = quad[i], quad[(i + 1) % 4]
            nx, ny = y1 - y2, x2 - x1
            length = (nx * nx + ny * ny) ** 0.5 or 1.0
            a = [(x * nx + y * ny) / length for x, y in p]
            b = [(x * nx + y * ny) / length for x, y in q]
            if max(a) <= min(b) + 1 or max(b) <= min(a) + 1:
                return True
    return False


def _lines_of_one_label(p: dict, q: dict) -> bool:
    """Whether two texts are lines of one label ("Image\n64.5"): ECharts draws each line at the
    label's anchor, moved down by its own ``y``, as close as the font is high."""
    return p["anchor"] is not None and p["anchor"] == q["anchor"] and p["line"] != q["line"]


def overlapping(boxes: list[dict]) -> list[tuple[str, str]]:
    """Pairs of texts drawn over each other."""
    out = []
    for i, p in enumerate(boxes):
        for q in boxes[i + 1 :]:
            if not _lines_of_one_label(p, q) and not _separated(p["corners"], q["corners"]):
                out.append((p["text"], q["text"]))
    return out


def axes(option: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every x and y axis of ``option`` (an axis may be one object or a list of them)."""
    for key in ("xAxis", "yAxis"):
        spec = option.get(key) or []
        yield from spec if isinstance(spec, list) else [spec]


def problems(
    page, option_json: str, width: int, height: int, also: Iterable[str] = ()
) -> dict[str, Any]:
    """What is wrong with the chart ``option_json`` drawn ``width`` × ``height``: texts cut off,
    texts over one another, axis names, category labels or the texts ``also`` not drawn (empty
    when nothing is)."""
    option = json.loads(option_json)
    boxes = draw(page, option, width, height)
    # a label broken into lines ("Feel" / "(emotional)") is drawn whole
    lines: dict[str, list[str]] = {}
    for b in boxes:
        if b["anchor"] is not None:
            lines.setdefault(b["anchor"], []).append(b["text"])
    texts = {b["text"] for b in boxes}
    texts |= {sep.join(ls) for ls in lines.values() for sep in (" ", "")}
    # a label cut to its axis' width ("How much did you exp...") is drawn as far as it goes
    texts |= {
        label
        for axis in axes(option)
        for label in map(str, axis.get("data") or [])
        for b in boxes
        if b["text"].endswith("...") and label.startswith(b["text"][:-3])
    }
    found: dict[str, Any] = {
        "outside": outside(boxes, width, height),
        "overlapping": overlapping(boxes),
        # nothing was left out to make room: every axis name and every category of a short axis
        "missing": [
            label
            for axis in axes(option)
            for label in [axis.get("name")]
            + (axis["data"] if axis.get("type") == "category" and len(axis["data"]) <= 20 else [])
            if label and str(label) not in texts
        ]
        + [text for text in also if text not in texts],
    }
    return {k: v for k, v in found.items() if v}


def uses_outer_bounds(option_json: str) -> bool:
    """Whether the chart's grid keeps axis labels and names inside by its outer bounds, its plot
    starting within them (a plot placed outside its bounds is shrunk to a sliver), and not by
    ECharts 6's deprecated ``containLabel``, which leaves axis names out."""
    grid = json.loads(option_json)["grid"]
    return (
        grid.get("outerBoundsContain") == "all"
        and "containLabel" not in grid
        and all(
            isinstance(grid[side], str) or grid[side] >= grid["outerBounds"][side]
            for side in ("left", "right", "top", "bottom")
        )
    )


def chart_page_for(browser, locale: str) -> Iterator[Any]:
    """A 1366 × 768 page with the vendored ECharts and a ``#chart`` box, in ``locale``'s
    language (a Chinese page draws with the CJK font, wider and taller than the Latin one)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    vendor = next((PACKAGE_DIR / "web" / "static" / "vendor").glob("echarts-*.min.js"))
    lang = "zh-CN" if locale == "zh_CN" else "en"
    page.set_content(f'<html lang="{lang}"><body><div id="chart"></div></body></html>')
    page.add_script_tag(path=str(vendor))
    # the pages' own script: it has ECharts measure text in the page's language
    page.add_script_tag(path=str(PACKAGE_DIR / "web" / "static" / "js" / "retento.js"))
    yield page
    context.close()


@pytest.fixture(scope="module", params=["en", "zh_CN"])
def chart_page(browser, request):
    """A chart page in English, then in Chinese: ``(page, locale)``."""
    for page in chart_page_for(browser, request.param):
        yield page, request.param
