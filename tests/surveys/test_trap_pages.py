"""The results page's satisfaction trap, a page at a time with the one pager of every list
(``macros.pager``, its own ``trap_offset``): the review counted ~177 rows on one page."""

from __future__ import annotations

import re

import pytest

from retento.surveys import reports, results_pages
from tests.factories import make_customer
from tests.web.conftest import Browser


@pytest.fixture
def trapped(db, users, small_survey, monkeypatch):
    """Seven respondents in the trap, three rows a page."""
    customers = [make_customer(db, name=f"Trapped {i:02d}") for i in range(7)]
    db.commit()
    rows = [
        {"customer_id": c.id, "response_id": i, "level": "satisfied"}
        for i, c in enumerate(customers)
    ]
    monkeypatch.setattr(reports, "satisfaction_trap", lambda *a, **k: rows)
    monkeypatch.setattr(results_pages, "TRAP_PAGE", 3)
    return small_survey


def names(html: str) -> list[str]:
    table = re.search(r'id="trap-table".*?</table>', html, re.S).group(0)
    return re.findall(r"Trapped \d\d", table)


@pytest.mark.parametrize(
    ("locale", "count"),
    [("en", "7 customers in the satisfaction trap"), ("zh_CN", "7 位客户陷入满意陷阱")],
)
def test_the_trap_is_paged(client, db, users, trapped, locale, count):
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    url = f"/surveys/{trapped.id}/results"
    first = web.get(url).text
    assert names(first) == ["Trapped 00", "Trapped 01", "Trapped 02"]
    assert count in first
    assert 'href="?trap_offset=3"' in first  # Next, no Previous on the first page
    assert "trap_offset=0" not in first
    # htmx asks for the trap's box only
    part = web.get(
        f"{url}?trap_offset=6", headers={"HX-Request": "true", "HX-Target": "trap-results"}
    )
    assert part.status_code == 200 and "<html" not in part.text
    assert names(part.text) == ["Trapped 06"]
    assert 'href="?trap_offset=3"' in part.text and "trap_offset=9" not in part.text
    # junk offsets start from the top, as every list's
    assert names(web.get(f"{url}?trap_offset=x").text) == names(first)
