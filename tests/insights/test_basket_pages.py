"""Market baskets in the app: API runs (product and category level), the top rules by lift with
all measures, caps and bad input (422 naming the field), the page in both languages, the
cross-sell panel on the customer 360 and section on the product page, and a large run computed
in the background with progress the page polls (PostgreSQL, real commits)."""

from __future__ import annotations

import time

import pytest

from retento.insights import runs
from tests.factories import make_customer, make_order, make_user
from tests.factories.race import bearer_headers
from tests.insights.data import build_shop


@pytest.fixture
def shop(world_shop, db):
    """The module's shop (tests/insights/conftest.py): built once, each test in a SAVEPOINT."""
    return world_shop.data


def _run(client, h, **body):
    r = client.post("/api/v1/insights/baskets/runs", json={"min_support": 0.05, **body}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_rules_by_lift_with_every_measure(client, tokens, shop):
    run = _run(client, tokens["analyst"])
    assert run["status"] == "succeeded"
    res = run["result"]
    assert res["n_baskets"] == res["n_lines"] - 0 or res["n_baskets"] > 0
    rules = res["rules"]
    lifts = [r["lift"] for r in rules]
    assert lifts == sorted(lifts, reverse=True)
    p = shop["products"]
    cake_jam = next(
        r for r in rules if r["antecedents"] == [p["Cake"].id] and r["consequents"] == [p["Jam"].id]
    )
    # Cake and Jam are always bought together: confidence 1, infinite conviction (null).
    assert cake_jam["confidence"] == 1.0 and cake_jam["conviction"] is None
    assert cake_jam["lift"] > 1 and cake_jam["leverage"] > 0
    bread_butter = next(
        r
        for r in rules
        if r["antecedents"] == [p["Bread"].id] and r["consequents"] == [p["Butter"].id]
    )
    assert bread_butter["confidence"] == 1.0
    # Bread and Tea never share an order.
    assert not any(
        {p["Bread"].id, p["Tea"].id} <= set(r["antecedents"] + r["consequents"]) for r in rules
    )
    latest = client.get("/api/v1/insights/baskets/latest", headers=tokens["agent"])
    assert latest.status_code == 200 and latest.json()["id"] == run["id"]


def test_category_level(client, tokens, shop):
    res = _run(client, tokens["analyst"], level="category")["result"]
    assert res["level"] == "category"
    items = {x for r in res["rules"] for x in r["antecedents"] + r["consequents"]}
    assert items <= {"bakery", "dairy", "drinks", "pantry"}
    r = client.get("/api/v1/insights/baskets/latest?level=category", headers=tokens["analyst"])
    assert r.json()["params"]["level"] == "category"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"min_support": 0}, "min_support"),
        ({"min_support": 1.5}, "min_support"),
        ({"level": "brand"}, "level"),
        ({"max_len": 9}, "max_len"),
        ({"since": "yesterday"}, "since"),
        ({"min_confidence": -1}, "min_confidence"),
        ({"max_itemsets": 1}, "min_support"),  # the cap stops the run: lower it or raise support
        ({"since": "2030-01-01"}, "since"),  # no order lines
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, tokens, shop, body, field):
    r = client.post("/api/v1/insights/baskets/runs", json=body, headers=tokens["analyst"])
    assert r.status_code == 422, r.text
    problem = r.json()
    fields = {problem.get("field")} | {e.get("field") for e in problem.get("errors", [])}
    assert field in fields, problem


def test_run_needs_insight_permission(client, tokens, shop):
    r = client.post("/api/v1/insights/baskets/runs", json={}, headers=tokens["agent"])
    assert r.status_code == 403


def test_cross_sell_api_and_pages(client, tokens, shop, web, db):
    p = shop["products"]
    h = tokens["analyst"]
    assert client.get(
        f"/api/v1/insights/baskets/cross-sell?product_id={p['Cake'].id}", headers=h
    ).json() == {"run_id": None, "items": []}
    _run(client, h)
    r = client.get(f"/api/v1/insights/baskets/cross-sell?product_id={p['Cake'].id}", headers=h)
    items = r.json()["items"]
    assert items[0]["product_id"] == p["Jam"].id and items[0]["name"] == "Jam"
    assert items[0]["because"] == [p["Cake"].id]
    newbie = make_customer(db, name="New buyer")
    make_order(db, newbie, lines=[(p["Cake"], 1)])
    db.commit()
    r = client.get(f"/api/v1/insights/baskets/cross-sell?customer_id={newbie.id}", headers=h)
    assert r.status_code == 200
    suggested = [i["product_id"] for i in r.json()["items"]]
    assert suggested[0] == p["Jam"].id and p["Cake"].id not in suggested
    loyal = newbie
    for q in ("", f"product_id={p['Cake'].id}&customer_id={loyal.id}"):
        bad = client.get(f"/api/v1/insights/baskets/cross-sell?{q}", headers=h)
        assert bad.status_code == 422 and bad.json()["field"] == "product_id"

    web.login("manager")
    page = web.get(f"/products/{p['Cake'].id}/edit")
    assert 'id="product-cross-sell"' in page.text and ">Jam</a>" in page.text
    page = web.get(f"/customers/{loyal.id}")
    assert 'id="cross-sell"' in page.text


@pytest.mark.parametrize("zh", [False, True])
def test_page_in_both_languages(web, shop, db, users, zh):
    if zh:
        users["analyst"].locale = "zh_CN"
        db.commit()
    web.login("analyst")
    page = web.get("/insights/baskets")
    assert page.status_code == 200 and 'id="basket-empty"' in page.text
    r = web.post("/insights/baskets/run", {"level": "product", "min_support": "0.05"})
    assert r.status_code == 303
    page = web.get(r.headers["location"])
    assert page.status_code == 200
    assert 'id="rules-table"' in page.text and 'id="rules-chart"' in page.text
    assert "Cake" in page.text and "Jam" in page.text
    assert ("提升度最高的规则" in page.text) == zh
    assert ("Top rules by lift" in page.text) == (not zh)
    bad = web.post("/insights/baskets/run", {"min_support": "lots"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    assert web.get("/insights").status_code == 200


def test_large_run_computes_in_the_background_with_progress(live_pg, monkeypatch):
    monkeypatch.setitem(runs.INLINE_ROWS, "basket", 0)
    with live_pg.session() as s:
        build_shop(s, customers=30)
        analyst = make_user(s, role="analyst")
        (h,) = bearer_headers(s, analyst, 1)
        s.commit()
    with live_pg.client() as c:
        r = c.post("/api/v1/insights/baskets/runs", json={"min_support": 0.05}, headers=h)
        assert r.status_code == 201, r.text
        run = r.json()
        assert run["result"] is None
        deadline = time.monotonic() + 60
        while run["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            run = c.get(f"/api/v1/insights/baskets/runs/{run['id']}", headers=h).json()
        assert run["status"] == "succeeded", run
        assert run["result"]["n_rules"] > 0 and run["percent"] == 100
        # The page's progress box sends the browser on once the run is over.
        done = c.get(
            f"/insights/runs/{run['id']}/progress",
            headers=h | {"HX-Request": "true"},
            follow_redirects=False,
        )
        assert done.headers.get("HX-Redirect") == f"/insights/baskets?run={run['id']}"
