"""The customer 360 revenue chart shows months without orders as zero (an even time axis)."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import UTC, datetime

from tests.factories import make_customer, make_order
from tests.web.conftest import Browser


def test_months_without_orders_are_zero(client, users, db):
    c = make_customer(db, name="Gap Months")
    make_order(db, c, ordered_at=datetime(2025, 11, 3, tzinfo=UTC))  # 20.00
    make_order(db, c, ordered_at=datetime(2026, 2, 10, tzinfo=UTC))
    make_order(db, c, ordered_at=datetime(2026, 2, 11, tzinfo=UTC))
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{c.id}").text
    m = re.search(r'data-chart="([^"]*Revenue[^"]*)"', page)
    assert m, "no revenue chart"
    option = json.loads(html_lib.unescape(m.group(1)))
    assert option["xAxis"]["data"] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    revenue = option["series"][0]["data"]
    assert revenue == [20.0, 0.0, 0.0, 40.0]
