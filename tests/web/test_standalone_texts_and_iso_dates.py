"""Dates a saved result holds as ISO text are written as every other date of the pages, and a
phrase shown on its own starts with a capital in English.

Exploratory testing found the saved segments page reading "评分截至 2026-12-07" (the result's
``as_of`` printed as stored), and English churn reasons listed as "no purchase for 5 months; …".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retento.web.i18n import Formatter, standalone
from retento.web.render import PACKAGE_DIR

INSIGHTS_TEMPLATES = PACKAGE_DIR / "insights" / "templates" / "insights"


@pytest.mark.parametrize(("locale", "shown"), [("en", "Dec 7, 2026"), ("zh_CN", "2026年12月7日")])
def test_a_day_stored_as_iso_text_reads_as_a_date(locale, shown):
    fmt = Formatter(locale)
    assert fmt.date("2026-12-07") == shown
    assert fmt.date("2026-12-07T00:00:00") == shown  # a timestamp's text: its day
    assert fmt.date("") == fmt.date(None) == "—"


def test_insights_templates_print_no_stored_day_as_it_is():
    """Every day a saved insight holds as text (``as_of``, ``cutoff``, ``period_end``, a
    forecast's ``period``) goes through ``fmt.date`` (a forecast period ``fmt.period``: a month
    reads as its month)."""
    raw = re.compile(
        r"(?<!fmt\.date\()(?<!fmt\.period\()(?<![\w.])[\w.]+\.(as_of|cutoff|period_end|period)\b(?!\()"
    )
    found = [
        (path.name, m.group(0))
        for path in sorted(Path(INSIGHTS_TEMPLATES).glob("*.html"))
        for expr in re.findall(r"{{(.*?)}}", path.read_text(), re.S)
        for m in raw.finditer(expr)
    ]
    assert found == []


@pytest.mark.parametrize(
    ("locale", "text", "shown"),
    [
        ("en", "no purchase for 5 months; usually buys every 6 weeks", "No purchase for 5 months; usually buys every 6 weeks"),
        ("en", "The purchase-pattern model gives only a 7 %", "The purchase-pattern model gives only a 7 %"),
        ("en", "", ""),
        ("zh_CN", "已5个月未购买；通常每6周购买一次", "已5个月未购买；通常每6周购买一次"),
        ("zh_CN", "model BG/NBD", "model BG/NBD"),  # Chinese pages change nothing
    ],
)  # fmt: skip
def test_a_phrase_shown_on_its_own_starts_with_a_capital_in_english(locale, text, shown):
    assert standalone(locale, text) == shown
