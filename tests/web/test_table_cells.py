"""No table cell is made a flex or grid box by a class of the style sheet: a ``<td>`` with
``display: flex`` stops being a table cell, so its border no longer runs at the height of its
row (QA saw the alerts inbox's action column draw its lines half a row off the others). Such a
cell holds a ``<div class="actions">`` instead."""

from __future__ import annotations

import re
from pathlib import Path

import retento

ROOT = Path(retento.__file__).parent
CSS = ROOT / "web" / "static" / "css" / "retento.css"
# ".a, .b { ... display: flex ... }": the classes a rule of their own turns into boxes.
RULE = re.compile(r"^((?:\.[\w-]+\s*,\s*)*\.[\w-]+)\s*\{([^}]*)\}", re.M)
CELL = re.compile(r"<t[dh]\b[^>]*\bclass=\"([^\"]*)\"", re.S)


def box_classes() -> set[str]:
    out = set()
    for selectors, body in RULE.findall(CSS.read_text(encoding="utf-8")):
        if re.search(r"display:\s*(inline-)?(flex|grid)\b", body):
            out |= {s.strip().lstrip(".") for s in selectors.split(",")}
    return out


def test_no_table_cell_is_a_flex_or_grid_box():
    boxes = box_classes()
    found = []
    for path in sorted(ROOT.rglob("*.html")):
        for classes in CELL.findall(path.read_text(encoding="utf-8")):
            bad = boxes & set(classes.split())
            if bad:
                found.append(f"{path.relative_to(ROOT)}: <td class={classes!r}> ({sorted(bad)})")
    assert found == []


def test_the_check_knows_the_box_classes():
    """A guard that finds nothing proves nothing: it reads the style sheet's flex boxes."""
    assert {"actions", "filters", "field", "page-head"} <= box_classes()
