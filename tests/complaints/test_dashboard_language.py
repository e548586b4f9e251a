"""The complaints dashboard named categories in English on Chinese pages ("Delivery 13"), though
every category has a Chinese name; the table and the chart now follow the reader's language,
and the analytics API gives both names."""

from __future__ import annotations

import pytest

from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser


@pytest.mark.parametrize(
    ("locale", "shown", "hidden"), [("zh_CN", "配送", "Delivery"), ("en", "Delivery", "配送")]
)
def test_dashboard_names_categories_in_the_reader_s_language(
    client, db, users, locale, shown, hidden
):
    make_complaint(db, users["agent"], customer_id=make_customer(db).id, category="delivery")
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get("/complaints/dashboard")
    assert page.status_code == 200
    assert f"<td>{shown}</td><td>1</td>" in page.text
    assert f"<td>{hidden}</td>" not in page.text
    chart = page.text.split('id="chart-category"', 1)[1][:2000]
    assert f'"{shown}"' in chart.replace("&#34;", '"').replace("&quot;", '"')


def test_analytics_api_gives_both_names(client, db, users, tokens):
    make_complaint(db, users["agent"], customer_id=make_customer(db).id, category="delivery")
    db.commit()
    r = client.get("/api/v1/complaints/analytics", headers=tokens["manager"])
    assert r.status_code == 200
    (row,) = r.json()["volume"]["by_category"]
    assert (row["category"], row["name"], row["name_zh"], row["count"]) == (
        "delivery",
        "Delivery",
        "配送",
        1,
    )
