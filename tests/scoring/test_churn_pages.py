"""Churn risk and model labels on the value pages, in English and Chinese."""

from __future__ import annotations

import re

import pytest

from retento.analytics.churn_reasons import render_reason
from retento.core.config import get_settings
from retento.customers import panels
from retento.scoring import dashboard_cache, service
from retento.scoring.models import CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from retento.web.i18n import Formatter, standalone
from tests.scoring.conftest import AS_OF, build_scored
from tests.shared_world import World, session_factory_fixture, users_fixture  # noqa: F401
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def only_scores_panel(monkeypatch):
    mine = [p for p in panels.CUSTOMER_PANELS if p.key == "scores"]
    monkeypatch.setattr(panels, "CUSTOMER_PANELS", mine)


def _run(db, model: str, **kw) -> ScoreRun:
    run = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF, model=model, **kw), actor=None)
    db.commit()
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture(scope="module")
def world_bgnbd():
    """The users, the population and one BG/NBD run over it (26 weeks held out, by no one), made
    once per module and backend; each test that takes ``bgnbd_run`` runs in a SAVEPOINT on it.
    Those tests come last in the module, together, so that it is built once per backend."""
    with World.for_module(lambda s: build_scored(s, actor=None, model="bgnbd")) as world:
        yield world


@pytest.fixture
def bgnbd_run(world_bgnbd, db) -> ScoreRun:
    return db.get(ScoreRun, world_bgnbd.data["run_id"])


def _one_time(db, run) -> CustomerScore:
    return (
        db.query(CustomerScore)
        .filter(CustomerScore.run_id == run.id, CustomerScore.frequency == 0)
        .filter(CustomerScore.order_count > 0)
        .order_by(CustomerScore.churn_risk.desc())
        .first()
    )


def _with_reasons(db, run) -> CustomerScore:
    rows = db.query(CustomerScore).filter(CustomerScore.run_id == run.id).all()
    return max((r for r in rows if r.churn_reasons), key=lambda r: len(r.churn_reasons))


def test_dashboard_plots_churn_risk_and_reports_the_holdout(web, db, population):
    run = _run(db, "pareto")
    web.login("manager")
    page = web.get("/value")
    assert 'id="churn-risk"' in page.text and 'id="risk-chart"' in page.text
    assert "Churn risk (90 days) and CLV" in page.text
    assert "Valuable customers on the right are at risk" in page.text
    assert 'id="churn-holdout"' in page.text and "BG/NBD alone" in page.text
    hold = run.report["churn"]["holdout"]
    low, high = hold["metrics"]["roc_auc_ci95"]
    assert f"95 % interval of the ROC AUC: {low:.3f}–{high:.3f}" in page.text
    cmp = hold["comparison"]
    verdict = (
        "the model ranks customers better."
        if cmp["ci95"][0] > 0
        else "BG/NBD alone ranks customers better."
        if cmp["ci95"][1] < 0
        else "no clear difference on this test."
    )
    said = " ".join(page.text.split())
    assert 'id="churn-comparison"' in page.text and "Against BG/NBD alone" in page.text
    assert (
        f"ROC AUC difference {cmp['roc_auc_difference']:+.3f} (95 % interval" in said
        and verdict in said
    )
    above = run.report["churn"]["above_half"]
    assert f'churn_risk_gte=0.5&amp;sort=-churn_risk">{above}<' in page.text
    web.post("/locale", {"lang": "zh_CN", "next": "/value"})
    zh = web.get("/value")
    assert "流失风险（90 天） 与 CLV" in zh.text and "平均流失风险" in zh.text
    assert "ROC AUC 的 95% 置信区间" in zh.text and "与仅用 BG/NBD 相比" in zh.text
    assert "ROC AUC 之差" in zh.text
    assert any(
        v in zh.text for v in ("模型对客户的排序更好", "仅用 BG/NBD 的排序更好", "两者无明显差别")
    )


def test_run_without_enough_history_says_so_on_the_dashboard(web, db, users, population):
    _run(db, "bgnbd", churn=False, holdout_weeks=0)
    web.login("manager")
    page = web.get("/value")
    assert 'id="risk-missing"' in page.text
    assert "Churn risk was not computed in this run" in page.text
    # Without risk the scatter falls back to P(alive), labelled with its model and the warning.
    assert "P(alive) (BG/NBD) and CLV" in page.text and 'id="one-time-note"' in page.text
    web.post("/locale", {"lang": "zh_CN", "next": "/value"})
    assert "本次评分未计算流失风险" in web.get("/value").text


def test_run_form_takes_a_churn_horizon_and_an_mbgnbd_run_is_labelled(web, db, population):
    """The form's churn horizon; the list of the MBG/NBD run it starts labels P(alive) with its
    model and has no one-time mark."""
    web.login("manager")
    r = web.post(
        "/value/runs",
        {
            "model": "mbgnbd",
            "holdout_weeks": "0",
            "churn_horizon_days": "45",
            "as_of": AS_OF.date().isoformat(),
        },
    )
    assert r.status_code == 303
    run = db.query(ScoreRun).order_by(ScoreRun.id.desc()).first()
    assert run.status == "succeeded", run.error
    assert run.params["churn"]["horizon_days"] == 45
    page = web.get(r.headers["location"])
    assert "Churn risk (45 days)" in page.text and 'id="f-churn_horizon_days"' in page.text
    page = web.get("/value/customers")
    assert "P(alive) (MBG/NBD)" in page.text and "P(alive) (BG/NBD)" not in page.text
    assert 'class="one-time-alive"' not in page.text
    before = db.query(ScoreRun).count()
    for bad in ("abc", "5"):
        r = web.post("/value/runs", {"model": "bgnbd", "churn_horizon_days": bad})
        assert r.status_code == 303 and r.headers["location"] == "/value"
        page = web.get("/value")
        assert "Scoring could not start" in page.text
    assert db.query(ScoreRun).count() == before
    web.post("/locale", {"lang": "zh_CN", "next": "/value/customers"})
    assert "活跃概率（MBG/NBD）" in web.get("/value/customers").text


# --- on the module's BG/NBD run (``bgnbd_run``), kept together ---------------------------------


def test_list_labels_p_alive_with_its_model_and_shows_churn_risk(web, db, bgnbd_run):
    run = bgnbd_run
    once = _one_time(db, run)
    assert once.p_alive == pytest.approx(1.0)  # BG/NBD: every one-time buyer
    web.login("manager")
    page = web.get("/value/customers?sort=-churn_risk")
    assert page.status_code == 200
    assert "P(alive) (BG/NBD)" in page.text and "Churn risk (90 days)" in page.text
    assert 'id="one-time-note"' in page.text and "does not mean they are still" in page.text
    assert 'class="one-time-alive"' in page.text
    risks = [int(x) for x in re.findall(r'class="num churn-risk">(\d+) %', page.text)]
    assert risks and risks == sorted(risks, reverse=True)
    # The at-risk filter: only customers at 50 % or more.
    high = web.get("/value/customers?churn_risk_gte=0.5")
    n = (
        db.query(CustomerScore)
        .filter(CustomerScore.run_id == run.id, CustomerScore.churn_risk >= 0.5)
        .count()
    )
    assert f"{n} customers match" in " ".join(high.text.split())
    bad = web.get("/value/customers?churn_risk_gte=2")
    assert bad.status_code == 422 and "churn_risk_gte" in bad.text
    # In Chinese.
    web.post("/locale", {"lang": "zh_CN", "next": "/value/customers"})
    zh = web.get("/value/customers")
    assert "活跃概率（BG/NBD）" in zh.text and "流失风险（90 天）" in zh.text
    assert "BG/NBD 模型给每位只购买过一次的客户" in zh.text


def test_dashboard_of_a_run_stored_before_the_interval_still_renders(web, db, bgnbd_run):
    run = bgnbd_run
    # The module's run is changed here (as a run stored by an older version looks), which a
    # stored run never is: the dashboard its earlier views cached is forgotten.
    dashboard_cache.clear()
    report = dict(run.report)
    hold = dict(report["churn"]["holdout"])
    hold.pop("comparison")
    hold["metrics"] = {k: v for k, v in hold["metrics"].items() if not k.startswith("roc_auc_")}
    report["churn"] = {**report["churn"], "holdout": hold}
    run.report = report
    db.commit()
    web.login("manager")
    page = web.get("/value")
    assert page.status_code == 200 and 'id="churn-holdout"' in page.text
    assert "95 % interval" not in page.text and 'id="churn-comparison"' not in page.text


def test_360_panel_shows_churn_risk_with_reasons_in_words(web, db, bgnbd_run, only_scores_panel):
    run = bgnbd_run
    s = _with_reasons(db, run)
    web.login("agent")
    page = web.get(f"/customers/{s.customer_id}")
    assert page.status_code == 200
    assert 'id="score-churn-risk"' in page.text and "Churn risk (90 days)" in page.text
    assert f"{round(s.churn_risk * 100)} %" in page.text
    assert "P(alive) (BG/NBD)" in page.text
    # Amounts in a reason are written as money, in the installation's currency.
    currency = get_settings().currency
    money = {lang: Formatter(lang, currency=currency).money for lang in ("en", "zh_CN")}
    for r in s.churn_reasons:
        # each a list item of its own: starting with a capital in English
        text = render_reason(r["code"], r["params"], "en", money=money["en"])
        assert standalone("en", text) in page.text
    web.post("/locale", {"lang": "zh_CN", "next": f"/customers/{s.customer_id}"})
    zh = web.get(f"/customers/{s.customer_id}")
    assert "流失风险（90 天）" in zh.text and "活跃概率（BG/NBD）" in zh.text
    for r in s.churn_reasons:
        assert render_reason(r["code"], r["params"], "zh", money=money["zh_CN"]) in zh.text
    # A one-time buyer's BG/NBD P(alive) of 100 % is marked, never shown as plain safety.
    once = _one_time(db, run)
    web.post("/locale", {"lang": "en", "next": "/value"})
    page = web.get(f"/customers/{once.customer_id}")
    block = page.text.split('id="score-p-alive"')[1].split("</dd>")[0]
    assert "100 % †" in block and "does not mean they are still" in block
