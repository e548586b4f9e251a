from __future__ import annotations

from tests.scoring.conftest import AS_OF


def test_scoring_api_run_scores_and_reports(client, tokens, db, population):
    db.commit()
    r = client.post(
        "/api/v1/scoring/runs",
        json={"model": "bgnbd", "as_of": AS_OF.isoformat()},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] == "succeeded" and run["report"]["fit"]["params"].keys() == {
        "r",
        "alpha",
        "a",
        "b",
    }
    r = client.get(
        "/api/v1/scores", params={"value_class": "vip", "sort": "-clv"}, headers=tokens["analyst"]
    )
    assert r.status_code == 200 and r.json()["total"] >= 1
    clvs = [float(i["clv"]) for i in r.json()["items"]]
    assert clvs == sorted(clvs, reverse=True)
    cid = r.json()["items"][0]["customer_id"]
    hist = client.get(f"/api/v1/customers/{cid}/scores", headers=tokens["agent"]).json()
    assert hist[0]["run_id"] == run["id"]
    for part in ("pyramid", "pareto", "cohorts", "fit"):
        body = client.get(f"/api/v1/value/{part}", headers=tokens["analyst"]).json()
        assert body["run_id"] == run["id"] and part in body
    # an unknown part is an unknown resource: path validation answers 404
    assert client.get("/api/v1/value/nonsense", headers=tokens["analyst"]).status_code == 404
    assert client.post("/api/v1/scoring/runs", json={}, headers=tokens["agent"]).status_code == 403
    r = client.post("/api/v1/scoring/runs", json={"model": "tree"}, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["field"] == "model"


def test_scores_before_any_run_is_404(client, tokens):
    r = client.get("/api/v1/scores", headers=tokens["analyst"])
    assert r.status_code == 404 and r.json()["field"] == "run_id"


def test_scoring_api_run_queued_for_the_worker(client, tokens, db, population):
    """wait=false: 202 at once with the running run and its work item; the item is then run
    (here by the web process after the response, RETENTO_RUN_WORK_IN_WEB's default)."""
    db.commit()
    r = client.post(
        "/api/v1/scoring/runs?wait=false",
        json={"model": "bgnbd", "as_of": AS_OF.isoformat()},
        headers=tokens["manager"],
    )
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "running" and run["report"] is None
    item = r.headers["location"]
    assert item.startswith("/api/v1/work/")
    done = client.get(f"/api/v1/scoring/runs/{run['id']}", headers=tokens["manager"]).json()
    assert done["status"] == "succeeded" and done["customers_scored"] > 0
    work = client.get(item, headers=tokens["manager"])
    assert work.status_code == 200 and work.json()["status"] == "done"
    # A second queued run while none is running is accepted; bad input is still a 422 at once.
    bad = client.post(
        "/api/v1/scoring/runs?wait=false", json={"model": "tree"}, headers=tokens["manager"]
    )
    assert bad.status_code == 422 and bad.json()["field"] == "model"
