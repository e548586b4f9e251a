"""Earning rules name what they earn on and the event they are for: QA saw the raw codes
(``spend``, ``product``, ``category``, ``event``; ``birthday`` under "Applies to" on the
programme page) where a Chinese or English reader expects words."""

from __future__ import annotations

import re
from decimal import Decimal

from retento.loyalty.models import LoyaltyRule
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

RULES = (
    ("Spend", "按消费金额", "Per currency unit spent", ""),
    ("Tea bonus", "按品类", "Per category", "tea"),
    ("Birthday bonus", "按事件", "Per event", ("生日", "Birthday")),
)


def _rows(html: str, table_start: str) -> dict[str, str]:
    """Rule name → its table row, for the table that starts at ``table_start``."""
    body = html[html.index(table_start) :]
    body = body[: body.index("</table>")]
    out = {}
    for row in re.findall(r"<tr>.*?</tr>", body, re.S):
        for name, *_ in RULES:
            if f">{name}</a>" in row:
                out[name] = row
    return out


def _setup(db, client, users, locale: str) -> Browser:
    make_programme(db)  # adds the "Spend" rule
    db.add_all(
        [
            LoyaltyRule(name="Tea bonus", kind="category", category="tea", fixed_points=5),
            LoyaltyRule(
                name="Birthday bonus", kind="event", event="birthday", fixed_points=200,
                rate=Decimal("0"),
            ),
        ]
    )  # fmt: skip
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    return web


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_rules_page_names_kinds_and_events_in_chinese(db, client, users):
    web = _setup(db, client, users, "zh_CN")
    rows = _rows(web.get("/loyalty/rules").text, 'id="rules-table"')
    assert set(rows) == {name for name, *_ in RULES}
    for name, zh, _en, applies in RULES:
        cells = _cells(rows[name])
        assert cells[1] == zh, cells
        if isinstance(applies, tuple):
            assert cells[4] == applies[0], cells
    assert not any(
        c in ("spend", "category", "event", "birthday") for r in rows.values() for c in _cells(r)
    )


def test_rules_on_the_programme_page_read_in_english(db, client, users):
    web = _setup(db, client, users, "en")
    html = web.get("/loyalty/programme").text
    rows = _rows(html, 'id="rules"')
    for name, _zh, en, applies in RULES:
        cells = _cells(rows[name])
        assert cells[1] == en, cells
        # "Applies to": the event's name, a category as typed
        assert cells[4] == (applies[1] if isinstance(applies, tuple) else applies), cells
