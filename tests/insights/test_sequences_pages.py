"""Sequences in the app: frequent sequences, the next-product rules and their hit-rate@5 on the
held-out days against the popularity and repeat-purchase baselines (which wins is said), bad
input, and the page in both languages."""

from __future__ import annotations

import pytest


@pytest.fixture
def shop(world_shop, db):
    """The module's shop (tests/insights/conftest.py): built once, each test in a SAVEPOINT."""
    return world_shop.data


def _run(client, h, **body):
    r = client.post(
        "/api/v1/insights/sequences/runs",
        json={"min_support": 0.05, "holdout_days": 120, **body},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_sequences_and_evaluation(client, tokens, shop):
    res = _run(client, tokens["analyst"])["result"]
    p = shop["products"]
    assert res["n_customers"] == 40
    patterns = res["patterns"]
    assert all(len(x["pattern"]) >= 2 for x in patterns)
    supports = [x["support"] for x in patterns]
    assert supports == sorted(supports, reverse=True)
    # Loyal customers buy tea on their second order, after bread and butter.
    assert any(x["pattern"][0] == [p["Bread"].id, p["Butter"].id] for x in patterns)
    assert any(r["antecedent"] == p["Bread"].id for r in res["next"])
    ev = res["evaluation"]
    assert ev["k"] == 5 and ev["n_customers"] > 0
    assert set(ev["hit_rate"]) == {"patterns", "popularity", "repeat"}
    best = max(v for v in ev["hit_rate"].values())
    assert ev["hit_rate"][ev["winner"]] == best


def test_no_evaluation_without_history_before_the_holdout(client, tokens, shop):
    res = _run(client, tokens["analyst"], holdout_days=730)["result"]
    assert res["evaluation"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"min_support": 0}, "min_support"),
        ({"holdout_days": 3}, "holdout_days"),
        ({"max_len": 1}, "max_len"),
        ({"max_gap_days": -1}, "max_gap_days"),
        ({"level": "colour"}, "level"),
        ({"max_patterns": 1}, "min_support"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, tokens, shop, body, field):
    r = client.post("/api/v1/insights/sequences/runs", json=body, headers=tokens["analyst"])
    assert r.status_code == 422, r.text
    problem = r.json()
    fields = {problem.get("field")} | {e.get("field") for e in problem.get("errors", [])}
    assert field in fields, problem


def test_latest_needs_a_run(client, tokens, shop):
    r = client.get("/api/v1/insights/sequences/latest", headers=tokens["agent"])
    assert r.status_code == 404
    run = _run(client, tokens["analyst"], level="category")
    r = client.get("/api/v1/insights/sequences/latest?level=category", headers=tokens["agent"])
    assert r.json()["id"] == run["id"]
    r = client.get(f"/api/v1/insights/sequences/runs/{run['id']}", headers=tokens["agent"])
    assert r.json()["result"]["level"] == "category"
    assert (
        client.get(
            f"/api/v1/insights/baskets/runs/{run['id']}", headers=tokens["agent"]
        ).status_code
        == 404
    )


@pytest.mark.parametrize("zh", [False, True])
def test_page_in_both_languages(web, shop, db, users, zh):
    if zh:
        users["analyst"].locale = "zh_CN"
        db.commit()
    web.login("analyst")
    page = web.get("/insights/sequences")
    assert page.status_code == 200 and 'id="sequence-empty"' in page.text
    r = web.post("/insights/sequences/run", {"min_support": "0.05", "holdout_days": "120"})
    assert r.status_code == 303
    page = web.get(r.headers["location"])
    assert page.status_code == 200
    for marker in (
        'id="winner"',
        'id="hit-chart"',
        'id="hit-table"',
        'id="next-table"',
        'id="sequence-table"',
    ):
        assert marker in page.text
    assert "Bread + Butter" in page.text
    if zh:
        assert "命中率@5" in page.text and "重复购买基线" in page.text
    else:
        assert "Repeat-purchase baseline" in page.text and "best" in page.text
    bad = web.post("/insights/sequences/run", {"holdout_days": "2"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
