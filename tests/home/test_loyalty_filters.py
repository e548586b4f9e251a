"""The loyalty dashboard's segment and period filters count the chosen members."""

from __future__ import annotations

import re
from datetime import timedelta

from retento.loyalty.models import LoyaltyAccount
from tests.factories.loyalty import make_programme
from tests.home.conftest import NOW
from tests.web.conftest import Browser


def _kpi(html: str, kpi_id: str) -> str:
    m = re.search(rf'id="{kpi_id}">([^<]*)<', html)
    assert m, kpi_id
    return m.group(1).strip()


def test_loyalty_dashboard_filters(client, users, db, shop):
    make_programme(db)
    for key, points, joined, active in (
        ("vip", 500, 5, 2),  # joined 5 days ago, active 2 days ago
        ("small", 120, 200, 100),
        ("old", 30, 900, 400),
    ):
        db.add(
            LoyaltyAccount(
                kind="wallet",
                customer_id=shop[key].id,
                balance=points,
                joined_at=NOW - timedelta(days=joined),
                last_activity_at=NOW - timedelta(days=active),
            )
        )
    db.commit()
    web = Browser(client)
    web.login("manager")
    html = web.get("/loyalty").text
    assert 'id="dash-filters"' in html and 'id="loyalty-filtered"' not in html
    html = web.get("/loyalty?period=30").text
    assert _kpi(html, "filtered-members") == "3"
    assert _kpi(html, "filtered-active") == "1" and _kpi(html, "filtered-joined") == "1"
    assert _kpi(html, "filtered-points") == "650"
    html = web.get("/loyalty?period=365&segment=value_class:small").text
    assert _kpi(html, "filtered-members") == "1" and _kpi(html, "filtered-active") == "1"
    assert _kpi(html, "filtered-points") == "120"
    html = web.get("/loyalty?period=all&segment=value_class:vip").text
    assert _kpi(html, "filtered-points") == "500"
    assert web.get("/loyalty?period=custom&from=2026-01-01").status_code == 422
