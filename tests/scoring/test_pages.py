"""Value pages through the ASGI app (SQLite and PostgreSQL): dashboard, run button, list, panel."""

from __future__ import annotations

import pytest
from babel.messages.extract import extract_from_dir

from retento.customers import panels
from retento.scoring import service
from retento.scoring.models import CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from retento.web.i18n import translations
from retento.web.render import PACKAGE_DIR
from tests.scoring.conftest import AS_OF
from tests.shared_world import session_factory_fixture, users_fixture  # noqa: F401 (fixtures)
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    """A browser-like client; log in with ``web.login(role)``."""
    return Browser(client)


@pytest.fixture
def only_scores_panel(monkeypatch):
    """The 360 page with only this capability's panel (other domains' panels are tested there)."""
    mine = [p for p in panels.CUSTOMER_PANELS if p.key == "scores"]
    assert mine, "the scores panel is not registered"
    monkeypatch.setattr(panels, "CUSTOMER_PANELS", mine)


@pytest.fixture
def scored(world_scored, db) -> ScoreRun:
    """One successful run over the population by the manager (26 weeks held out), made once
    for the module (``world_scored``); each test that takes it runs in a SAVEPOINT on it. Those
    tests come last in the module, together, so that it is built once per backend."""
    return db.get(ScoreRun, world_scored.data["run_id"])


def test_empty_state_explains_and_offers_the_button(web):
    web.login("manager")
    r = web.get("/value")
    assert r.status_code == 200
    assert 'id="value-empty"' in r.text
    assert "No scoring run yet" in r.text
    assert 'id="run-form"' in r.text and 'hx-indicator="#run-progress"' in r.text
    assert 'href="/value"' in r.text  # the nav entry
    listing = web.get("/value/customers")
    assert listing.status_code == 200 and 'id="value-empty"' in listing.text


def test_too_few_customers_is_a_message_not_an_error(web, db):
    web.login("manager")
    r = web.post("/value/runs", {"model": "bgnbd"})
    assert r.status_code == 303 and r.headers["location"] == "/value"
    page = web.get("/value")
    assert "Scoring could not start" in page.text and "At least 10 customers" in page.text
    db.expire_all()
    assert db.query(ScoreRun).count() == 0


def test_manager_runs_scoring_and_sees_the_dashboard(web, db, population):
    web.login("manager")
    r = web.post(
        "/value/runs", {"model": "pareto", "holdout_weeks": "13", "as_of": AS_OF.date().isoformat()}
    )
    assert r.status_code == 303
    run = db.query(ScoreRun).order_by(ScoreRun.id.desc()).first()
    assert run is not None and run.model == "pareto" and run.status == "succeeded", run.error
    assert r.headers["location"] == f"/value?run={run.id}"
    assert run.as_of.date() == AS_OF.date()
    page = web.get(r.headers["location"])
    assert page.status_code == 200
    # The run executed after the response (TestClient waits for background work).
    assert f"Scoring run #{run.id} started" in page.text
    assert 'id="run-progress-card"' not in page.text
    for element in (
        "pyramid-chart", "pyramid-table", "pareto-chart", "clv-chart", "scatter-chart",
        "cohort-chart", "tracking-chart", "by-frequency", "fit-params", "stage-chart",
        "label-chart", "runs-table",
    ):  # fmt: skip
        assert f'id="{element}"' in page.text, element
    assert "Pareto/NBD" in page.text and "Log-likelihood" in page.text
    assert "NaN" not in page.text  # the charts' JSON must parse in the browser
    assert 'id="run-form"' in page.text


def test_htmx_run_redirects_with_a_header(web, db, population):
    web.login("admin")
    r = web.post(
        "/value/runs", {"model": "bgnbd", "as_of": "2025-01-01"}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 200
    assert r.headers["HX-Redirect"].startswith("/value?run=")


def test_agent_post_is_refused_with_a_friendly_403(web, db, population):
    web.login("agent")
    r = web.post("/value/runs", {"model": "bgnbd"})
    assert r.status_code == 403
    assert "You do not have access to this page" in r.text
    assert "<html" in r.text
    db.expire_all()
    assert db.query(ScoreRun).count() == 0


def test_post_without_csrf_token_is_refused(web, population):
    web.login("manager")
    r = web.client.post("/value/runs", data={"model": "bgnbd"}, follow_redirects=False)
    assert r.status_code == 403


def test_panel_is_hidden_before_any_run(web, population, only_scores_panel):
    web.login("agent")
    page = web.get(f"/customers/{population['ids'][5]}")
    assert page.status_code == 200 and 'id="panel-scores"' not in page.text


def test_every_value_msgid_is_translated_into_chinese():
    keywords = {"_": None, "gettext": None, "N_": None, "tr": (2,)}
    methods = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    zh = translations("zh_CN")
    found = [
        msg if isinstance(msg, str) else msg[0]
        for _, _, msg, _, _ in extract_from_dir(
            str(PACKAGE_DIR / "scoring"), methods, keywords=keywords, options_map=options
        )
    ]
    missing = sorted(
        {m for m in found if m and zh.gettext(m) == m and m not in {"RFM", "Pareto/NBD"}}
    )
    assert missing == []


def test_running_run_shows_a_polled_progress_bar_then_reloads_when_done(web, db, users, population):
    run = service.start_run(db, ScoreRunCreate(as_of=AS_OF), actor=users["manager"])
    db.commit()
    service.LIVE_PROGRESS[run.id] = ("fit", 0.25)
    try:
        web.login("manager")
        page = web.get(f"/value?run={run.id}")
        assert 'id="run-progress-card"' in page.text
        assert f'hx-get="/value/runs/{run.id}/progress"' in page.text
        assert 'value="25"' in page.text and "Fitting the models" in page.text
        # A second run is refused while this one is in progress.
        r = web.post("/value/runs", {"model": "bgnbd"})
        assert r.status_code == 303 and r.headers["location"] == "/value"
        assert f"Scoring run #{run.id} is still in progress" in web.get("/value").text
        service.LIVE_PROGRESS[run.id] = ("store", 0.8)
        poll = web.get(f"/value/runs/{run.id}/progress", headers={"HX-Request": "true"})
        assert poll.status_code == 200 and 'value="80"' in poll.text and "<html" not in poll.text
    finally:
        service.LIVE_PROGRESS.pop(run.id, None)
    # Progress unknown in this process (another worker runs it): an indeterminate bar.
    assert "Running in another process" in web.get(f"/value/runs/{run.id}/progress").text
    service.execute_run(db, run, ScoreRunCreate(as_of=AS_OF), actor=users["manager"])
    db.commit()
    done = web.get(f"/value/runs/{run.id}/progress", headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"] == f"/value?run={run.id}"
    assert f"Scoring run #{run.id} finished" in web.get(done.headers["HX-Redirect"]).text


def test_background_failure_is_recorded_on_the_run(db, users, population, session_factory):
    from retento.scoring import jobs

    run = service.start_run(db, ScoreRunCreate(as_of=AS_OF), actor=users["manager"])
    # As of long before any order: the models cannot be fitted; the run must not stay "running".
    run.as_of = AS_OF.replace(year=1990)
    db.commit()
    jobs.execute_started_run(session_factory, run.id, ScoreRunCreate(), users["manager"].id)
    db.expire_all()
    stored = db.get(ScoreRun, run.id)
    assert stored.status == "failed" and "At least 10 customers" in stored.error
    assert run.id not in service.LIVE_PROGRESS


# --- on the module's scoring run (``scored``), kept together -------------------------------------


def test_agent_sees_the_dashboard_without_the_button(web, scored):
    web.login("agent")
    page = web.get("/value")
    assert page.status_code == 200
    assert 'id="pyramid-chart"' in page.text
    assert 'id="run-form"' not in page.text and "Run scoring" not in page.text
    web.login("analyst")  # analysts run the models (score:run, SPEC 9)
    assert 'id="run-form"' in web.get("/value").text


def test_scores_list_filters_sorts_and_links(web, db, scored):
    web.login("agent")
    target = (
        db.query(CustomerScore)
        .filter(CustomerScore.run_id == scored.id, CustomerScore.value_class == "below_zero")
        .all()
    )
    assert target
    r = web.get("/value/customers?value_class=below_zero&sort=-clv")
    assert r.status_code == 200
    rows = r.text.count('<a href="/customers/')
    assert rows == len(target)
    for s in target:
        assert f'<a href="/customers/{s.customer_id}">' in r.text
    assert f"{len(target)} customers match" in r.text or "1 customer" in r.text
    low = (
        db.query(CustomerScore)
        .filter(CustomerScore.run_id == scored.id, CustomerScore.p_alive < 0.5)
        .count()
    )
    part = web.get(
        "/value/customers?p_alive_lt=0.5", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert part.status_code == 200 and "<html" not in part.text
    assert part.text.count('<a href="/customers/') == min(low, 50)
    bad = web.get("/value/customers?p_alive_lt=2")
    assert bad.status_code == 422


def test_scores_list_pages(web, db, scored):
    web.login("manager")
    first = web.get("/value/customers?sort=customer_id")
    assert "Next" in first.text and first.text.count('<a href="/customers/') == 50
    second = web.get("/value/customers?sort=customer_id&offset=50")
    assert "Previous" in second.text and second.text.count('<a href="/customers/') == 50


def test_customer_360_panel_shows_scores_and_history(
    web, db, users, scored, population, only_scores_panel
):
    service.run_scoring(
        db, ScoreRunCreate(as_of=AS_OF, model="pareto", holdout_weeks=0), actor=users["admin"]
    )
    db.commit()
    cid = population["ids"][0]
    web.login("agent")
    page = web.get(f"/customers/{cid}")
    assert page.status_code == 200
    assert 'id="panel-scores"' in page.text
    assert 'id="score-value-class"' in page.text and "Below zero" in page.text
    assert "Probability that the customer is still active" in page.text
    assert 'id="score-history"' in page.text
    assert page.text.count('href="/value?run=') == 2


def test_chinese_dashboard_uses_spec_terms(web, scored):
    web.login("manager")
    web.post("/locale", {"lang": "zh_CN", "next": "/value"})
    page = web.get("/value")
    assert "客户金字塔" in page.text and "贵宾型" in page.text
    assert "顾客终生价值" in page.text
    assert "最有价值客户" in page.text
