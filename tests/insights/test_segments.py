"""Segments in the app: run (k chosen by silhouette / BIC, shown), save, rename (stale → 409),
delete, use as a filter on the customer list (page and API) and survey distributions (API and
page), both languages, bad input → 422 naming the field, and concurrent saves of one name on
PostgreSQL (one wins)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from retento.insights.models import InsightSegment, InsightSegmentMember
from tests.factories import make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers
from tests.insights.data import build_shop


@pytest.fixture
def shop(world_shop, db):
    """The module's shop (tests/insights/conftest.py): built once, each test in a SAVEPOINT."""
    return world_shop.data


def _run(client, h, **body):
    r = client.post("/api/v1/insights/segments/runs", json={"k_max": 4, **body}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def _save(client, h, run_id, name="Spring"):
    return client.post(
        "/api/v1/insights/segments", json={"run_id": run_id, "name": name}, headers=h
    )


def test_run_without_scoring_is_422(client, tokens, users):
    # No shop: before the tests that take it, so that the shared shop is built once.
    r = client.post("/api/v1/insights/segments/runs", json={}, headers=tokens["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "features"


def test_run_chooses_k_and_names_segments(client, tokens, shop):
    run = _run(client, tokens["analyst"])
    assert run["status"] == "succeeded"
    res = run["result"]
    assert res["chosen_by"] == "silhouette" and res["customers"] == 40
    chosen = [s for s in res["scores"] if s["chosen"]]
    assert len(chosen) == 1 and chosen[0]["k"] == res["k"]
    assert [s["k"] for s in res["scores"]] == [2, 3, 4]
    # Loyal customers (2 of 3) and one-time buyers (1 of 3) end up apart, named in plain words.
    sizes = sorted(p["size"] for p in res["profiles"])
    assert sum(sizes) == 40
    names = [p["name_en"] for p in res["profiles"]]
    assert any("one-time" in n for n in names)
    assert all(p["name_zh"] for p in res["profiles"])
    assert {m[1] for m in res["members"]} == set(range(res["k"]))


def test_gmm_chooses_k_by_bic(client, tokens, shop):
    res = _run(
        client, tokens["analyst"], method="gmm", features=["recency", "frequency", "monetary"]
    )["result"]
    assert res["chosen_by"] == "bic" and res["features"] == ["recency", "frequency", "monetary"]
    best = min(s["score"] for s in res["scores"])
    assert [s["k"] for s in res["scores"] if s["chosen"]] == [
        s["k"] for s in res["scores"] if s["score"] == best
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"k_max": 50}, "k_max"),
        ({"method": "dbscan"}, "method"),
        ({"features": ["recency", "height"]}, "features.1"),
        ({"features": ["recency", "frequency"]}, "features"),
        ({"k_min": 5, "k_max": 3}, "k_min"),
        ({"k": 0}, "k"),
        ({"k": 13}, "k"),
    ],
)
def test_bad_run_input_is_422_naming_the_field(client, tokens, shop, body, field):
    r = client.post("/api/v1/insights/segments/runs", json=body, headers=tokens["analyst"])
    assert r.status_code == 422, r.text
    problem = r.json()
    fields = {problem.get("field")} | {e.get("field") for e in problem.get("errors", [])}
    assert field in fields, problem


def test_agent_may_read_but_not_run(client, tokens, shop):
    r = client.post("/api/v1/insights/segments/runs", json={}, headers=tokens["agent"])
    assert r.status_code == 403
    assert client.get("/api/v1/insights/segments", headers=tokens["agent"]).status_code == 200


def test_save_rename_delete_and_members(client, tokens, shop, db):
    h = tokens["analyst"]
    run = _run(client, h)
    r = _save(client, h, run["id"])
    assert r.status_code == 201, r.text
    seg = r.json()
    assert seg["k"] == run["result"]["k"] and seg["customers"] == 40 and seg["version"] == 1
    assert r.headers["etag"] == '"1"'
    # Retrying the same save is harmless; another run under the same name is refused.
    again = _save(client, h, run["id"])
    assert again.status_code == 200 and again.json()["id"] == seg["id"]
    other = _run(client, h, seed=1)
    clash = _save(client, h, other["id"])
    assert clash.status_code == 409 and clash.json()["field"] == "name"
    assert db.scalar(select(func.count()).select_from(InsightSegment)) == 1

    members = client.get(f"/api/v1/insights/segments/{seg['id']}/members?limit=500", headers=h)
    assert members.json()["total"] == 40
    c0 = client.get(f"/api/v1/insights/segments/{seg['id']}/members?cluster=0", headers=h).json()
    assert c0["total"] == seg["profile"]["profiles"][0]["size"]

    r = client.patch(
        f"/api/v1/insights/segments/{seg['id']}",
        json={"name": "Loyal first", "version": 1},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["name"] == "Loyal first"
    stale = client.patch(
        f"/api/v1/insights/segments/{seg['id']}", json={"name": "Other", "version": 1}, headers=h
    )
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    stale = client.patch(
        f"/api/v1/insights/segments/{seg['id']}",
        json={"name": "Other"},
        headers=h | {"If-Match": '"1"'},
    )
    assert stale.status_code == 409
    assert client.get(f"/api/v1/insights/segments/{seg['id']}", headers=h).json()["name"] == (
        "Loyal first"
    )
    blank = client.patch(f"/api/v1/insights/segments/{seg['id']}", json={"name": "  "}, headers=h)
    assert blank.status_code == 422 and blank.json()["field"] == "name"

    assert client.delete(f"/api/v1/insights/segments/{seg['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/insights/segments/{seg['id']}", headers=h).status_code == 404
    assert db.scalar(select(func.count()).select_from(InsightSegmentMember)) == 0


def _saved(client, h) -> dict:
    run = _run(client, h)
    seg = _save(client, h, run["id"], name="Shoppers").json()
    return seg


def test_customer_list_filter_page_and_api(client, tokens, shop, web):
    h = tokens["analyst"]
    seg = _saved(client, h)
    prof = seg["profile"]["profiles"]
    one_time = next(p for p in prof if p["median"]["frequency"] <= 1)
    value = f"{seg['id']}:{one_time['segment']}"
    r = client.get(f"/api/v1/customers?segment={value}&limit=100", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == one_time["size"]
    ids = {c["id"] for c in r.json()["items"]}
    loyal_ids = {c.id for i, c in enumerate(shop["customers"]) if i % 3 != 0}
    assert ids and not ids & loyal_ids
    for bad in ("abc", "1", f"{seg['id']}:9", "999:0"):
        r = client.get(f"/api/v1/customers?segment={bad}", headers=h)
        assert r.status_code == 422 and r.json()["field"] == "segment", (bad, r.text)

    web.login("analyst")
    page = web.get(f"/customers?segment={value}")
    assert page.status_code == 200
    assert f'<option value="{value}" selected>' in page.text
    shown = set(re.findall(r'href="/customers/(\d+)"', page.text))
    assert shown and {int(i) for i in shown} <= {c.id for c in shop["customers"]} - loyal_ids
    assert web.get("/customers?segment=x:y").status_code == 422
    count = web.get(f"/customers/count?segment={value}")
    assert str(one_time["size"]) in count.text


def test_survey_distribution_to_a_saved_segment(client, tokens, shop, web):
    seg = _saved(client, tokens["analyst"])
    h = tokens["manager"]
    r = client.post("/api/v1/surveys/from-template", json={"template": "standard"}, headers=h)
    sid = r.json()["id"]
    assert client.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=h).is_success
    first = seg["profile"]["profiles"][0]
    r = client.post(
        f"/api/v1/surveys/{sid}/distributions",
        json={
            "channel": "online",
            "segment": {"kind": "insight", "value": f"{seg['id']}:{first['segment']}"},
        },
        headers=h,
    )
    assert r.status_code == 202, r.text  # queued; the test app runs it after the response
    r = client.get(r.json()["url"], headers=h)
    assert r.json()["status"] == "done" and r.json()["invited"] == first["size"]
    assert r.json()["segment_kind"] == "insight"
    for value, code in (("nope", 422), (f"{seg['id']}:7", 422), (None, 422)):
        r = client.post(
            f"/api/v1/surveys/{sid}/distributions",
            json={"channel": "online", "segment": {"kind": "insight", "value": value}},
            headers=h,
        )
        assert r.status_code == code, r.text
        fields = {r.json().get("field")} | {e.get("field") for e in r.json().get("errors", [])}
        assert fields & {"segment.value", "segment"}, r.json()

    # The web form offers the saved segment and sends to it.
    web.login("manager")
    page = web.get(f"/surveys/{sid}/distribute")
    second = seg["profile"]["profiles"][1]
    assert f'value="{seg["id"]}:{second["segment"]}"' in page.text
    r = web.post(
        f"/surveys/{sid}/distribute",
        {
            "channel": "phone",
            "segment_kind": "insight",
            "insight_segment": f"{seg['id']}:{second['segment']}",
        },
    )
    assert r.status_code == 303, r.text[-1500:]
    r = web.post(f"/surveys/{sid}/distribute", {"channel": "phone", "segment_kind": "insight"})
    assert r.status_code == 422 and 'name="insight_segment" aria-invalid="true"' in r.text


@pytest.mark.parametrize("zh", [False, True])
def test_pages_in_both_languages(web, shop, db, users, zh):
    if zh:
        users["analyst"].locale = "zh_CN"
        db.commit()
    headers: dict = {}
    web.login("analyst")
    page = web.get("/insights/segments", headers=headers)
    assert page.status_code == 200 and 'id="segment-empty"' in page.text
    r = web.post(
        "/insights/segments/run",
        {
            "method": "kmeans",
            "k_min": "2",
            "k_max": "4",
            "features": ["recency", "frequency", "monetary"],
        },
    )
    assert r.status_code == 303
    page = web.get(r.headers["location"], headers=headers)
    assert page.status_code == 200
    assert 'id="k-chart"' in page.text and 'id="profile-table"' in page.text
    if zh:
        assert "一次性买家" in page.text and "轮廓系数" in page.text
    else:
        assert "one-time buyers" in page.text and "k chosen by the highest silhouette" in page.text
    run_id = re.search(r'name="run_id" value="(\d+)"', page.text).group(1)
    r = web.post("/insights/segments/save", {"run_id": run_id, "name": "Web segments"})
    assert r.status_code == 303
    detail = web.get(r.headers["location"], headers=headers)
    assert detail.status_code == 200 and "Web segments" in detail.text
    assert "/customers?segment=" in detail.text
    # A duplicate name is shown on the form.
    dup = web.post("/insights/segments/save", {"run_id": run_id, "name": "Web segments "})
    assert dup.status_code == 303  # the same run under the same name: already saved
    bad = web.post("/insights/segments/run", {"k_max": "x"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    bad = web.post("/insights/segments/run", {"features": ["recency"]})
    assert bad.status_code == 422 and "features" in bad.text


def test_page_rename_stale_form_is_409(web, shop, client, tokens):
    seg = _saved(client, tokens["analyst"])
    web.login("analyst")
    ok = web.post(f"/insights/segments/{seg['id']}/rename", {"name": "Renamed", "version": "1"})
    assert ok.status_code == 303
    stale = web.post(f"/insights/segments/{seg['id']}/rename", {"name": "Late", "version": "1"})
    assert stale.status_code == 409
    page = web.get(f"/insights/segments/{seg['id']}")
    assert "Renamed" in page.text and "Late" not in page.text
    stale_delete = web.post(f"/insights/segments/{seg['id']}/delete", {"version": "1"})
    assert stale_delete.status_code == 409 and "Nothing was deleted" in stale_delete.text
    assert client.get(
        f"/api/v1/insights/segments/{seg['id']}", headers=tokens["analyst"]
    ).is_success
    gone = web.post(f"/insights/segments/{seg['id']}/delete", {"version": "2"})
    assert gone.status_code == 303
    assert (
        client.get(f"/api/v1/insights/segments/{seg['id']}", headers=tokens["analyst"]).status_code
        == 404
    )


def test_concurrent_saves_of_one_name_one_wins(live_pg):
    """Two analysts save different runs under the same name at the same moment (PostgreSQL)."""
    with live_pg.session() as s:
        build_shop(s, customers=30)
        analyst = make_user(s, role="analyst")
        headers = bearer_headers(s, analyst, 4)
        s.commit()
    with live_pg.client() as c:
        runs = [_run(c, headers[0], seed=i)["id"] for i in range(4)]

    def save(i: int) -> int:
        with live_pg.client() as c:
            return _save(c, headers[i], runs[i], name="Same name").status_code

    codes = run_parallel(4, save)
    assert sorted(codes) == [201, 409, 409, 409], codes
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(InsightSegment)) == 1
        seg = s.scalar(select(InsightSegment))
        members = s.scalar(
            select(func.count())
            .select_from(InsightSegmentMember)
            .where(InsightSegmentMember.segment_id == seg.id)
        )
        assert members == 30


def test_concurrent_retries_of_one_save_create_one(live_pg):
    with live_pg.session() as s:
        build_shop(s, customers=20)
        analyst = make_user(s, role="analyst")
        headers = bearer_headers(s, analyst, 4)
        s.commit()
    with live_pg.client() as c:
        run_id = _run(c, headers[0])["id"]

    def save(i: int) -> int:
        with live_pg.client() as c:
            return _save(c, headers[i], run_id, name="Retried").status_code

    codes = run_parallel(4, save)
    assert sorted(codes) == [200, 200, 200, 201], codes
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(InsightSegment)) == 1


def test_dashboards_filter_on_a_saved_segment(client, tokens, shop, web, db):
    from retento.scoring import queries as scoring_queries

    seg = _saved(client, tokens["analyst"])
    one_time = next(p for p in seg["profile"]["profiles"] if p["median"]["frequency"] <= 1)
    value = f"insight:{seg['id']}:{one_time['segment']}"
    chosen = scoring_queries.segment_customers(
        shop["run"].id, "insight", f"{seg['id']}:{one_time['segment']}"
    )
    assert len(db.scalars(chosen).all()) == one_time["size"]
    frame = scoring_queries.run_scores_frame(
        db, shop["run"].id, segment=("insight", f"{seg['id']}:{one_time['segment']}")
    )
    assert len(frame) == one_time["size"] and (frame["order_count"] == 1).all()
    web.login("analyst")
    # /value also draws the relationship charts, whose segment filter reads the stored segment
    # columns directly (scoring.relationship._segment_ids): checked once it uses
    # queries.segment_customers like the other dashboards.
    for url in ("/", "/retention", "/loyalty"):
        page = web.get(url)
        assert page.status_code == 200, url
        assert f'value="{value}"' in page.text, url
        filtered = web.get(f"{url}?period=all&segment={value}")
        assert filtered.status_code == 200, (url, filtered.text[-2000:])
        assert f'value="{value}" selected' in filtered.text, url
    for bad in ("insight:999:0", f"insight:{seg['id']}:9", "insight:x"):
        assert web.get(f"/retention?segment={bad}").status_code == 422, bad


def test_running_and_interrupted_runs_on_the_page(web, shop, db, users):
    from datetime import UTC, datetime, timedelta

    from retento.insights import runs
    from retento.insights.models import InsightRun

    live = InsightRun(
        kind="segments", status="running", params={}, created_by_id=users["analyst"].id
    )
    old = InsightRun(
        kind="segments",
        status="running",
        params={},
        created_at=datetime.now(UTC) - timedelta(hours=3),
    )
    db.add_all([live, old])
    db.commit()
    runs.PROGRESS[live.id] = runs.Progress("clustering", 40)
    try:
        web.login("analyst")
        page = web.get(f"/insights/segments?run={live.id}")
        assert 'id="insight-progress"' in page.text and "40 %" in page.text
        assert f'hx-get="/insights/runs/{live.id}/progress"' in page.text
        box = web.get(f"/insights/runs/{live.id}/progress", headers={"HX-Request": "true"})
        assert box.status_code == 200 and "Clustering" in box.text
    finally:
        runs.PROGRESS.pop(live.id, None)
    page = web.get(f"/insights/segments?run={old.id}")
    assert 'id="segment-failed"' in page.text
    assert web.get(f"/insights/segments?run={old.id}").status_code == 200


def test_large_segmentation_runs_in_the_background(live_pg, monkeypatch):
    import time

    from retento.insights import runs

    monkeypatch.setitem(runs.INLINE_ROWS, "segments", 0)
    with live_pg.session() as s:
        build_shop(s, customers=30)
        analyst = make_user(s, role="analyst")
        (h,) = bearer_headers(s, analyst, 1)
        s.commit()
    with live_pg.client() as c:
        run = c.post("/api/v1/insights/segments/runs", json={"k_max": 3}, headers=h).json()
        deadline = time.monotonic() + 60
        while run["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            run = c.get(f"/api/v1/insights/segments/runs/{run['id']}", headers=h).json()
        assert run["status"] == "succeeded", run
        assert _save(c, h, run["id"], name="Background").status_code == 201
