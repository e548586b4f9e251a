"""Churn risk in scoring runs: stored risk and reasons, the too-little-history case, the
feature-provider registry and its providers, and the Gamma-Gamma fit on logs with $0 repeat
purchases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import insert, select

from retento.analytics.churn_reasons import REASONS, render_reason
from retento.customers.models import Customer
from retento.orders.models import Order
from retento.scoring import features, service
from retento.scoring.models import CustomerScore, ScoreRun
from retento.scoring.schemas import ScoreRunCreate
from tests.factories import make_customer, make_touchpoint
from tests.factories.complaints import make_complaint
from tests.scoring.conftest import AS_OF, insert_population
from tests.shared_world import (  # noqa: F401 (fixtures)
    World,
    make_users,
    session_factory_fixture,
    users_fixture,
)


def _scores(db, run) -> list[CustomerScore]:
    return list(db.scalars(select(CustomerScore).where(CustomerScore.run_id == run.id)))


def _customers_with_orders(db, n: int, days: list[int], amounts: list[str], prefix: str):
    db.execute(
        insert(Customer),
        [
            {
                "name": f"{prefix} {i}",
                "name_key": f"{prefix.lower()} {i}",
                "kind": "consumer",
                "party_type": "person",
                "external_id": f"{prefix}{i:03d}",
                "custom_fields": {},
            }
            for i in range(n)
        ],
    )
    ids = [c.id for c in db.query(Customer).filter(Customer.external_id.like(f"{prefix}%")).all()]
    rows = []
    for k, cid in enumerate(ids):
        for d, amount in zip(days, amounts, strict=True):
            value = Decimal(amount)
            rows.append(
                {
                    "customer_id": cid,
                    "ordered_at": AS_OF - timedelta(days=d + k % 3),
                    "status": "completed",
                    "channel": "store",
                    "discount": Decimal("0"),
                    "revenue": value,
                    "cost": value / 2,
                    "profit": value / 2,
                    "refunded": Decimal("0"),
                }
            )
    db.execute(insert(Order), rows)
    db.flush()
    return ids


FREE = 4  # repeat customers whose repeat purchases were free (``world_churn``)


def _build_churn(session) -> dict:
    """The users, the population, FREE customers who paid $30 once and then $0 twice, one
    customer with no orders, and one scoring run over them all by the manager (as of AS_OF,
    the default options)."""
    users = make_users(session)
    session.commit()
    population = insert_population(session)
    free = _customers_with_orders(session, FREE, [300, 200, 100], ["30.00", "0.00", "0.00"], "FREE")
    make_customer(session)  # no orders: not scored for churn
    run = service.run_scoring(session, ScoreRunCreate(as_of=AS_OF), actor=users["manager"])
    session.commit()
    assert run.status == "succeeded", run.error
    return {"population": population, "free": free, "run_id": run.id}


@pytest.fixture(scope="module")
def world_churn():
    """``_build_churn``'s data, made once per module and backend; each test that takes it (or
    ``churn_run``) runs in a SAVEPOINT on it. Those tests are kept together in the module, so
    that it is built once per backend."""
    with World.for_module(_build_churn) as world:
        yield world


@pytest.fixture
def churn_run(world_churn, db) -> ScoreRun:
    return db.get(ScoreRun, world_churn.data["run_id"])


def test_too_little_history_is_reported_not_an_error(db, users):
    _customers_with_orders(db, 12, [30, 10], ["40.00", "25.00"], "NEW")
    run = service.run_scoring(
        db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=users["manager"]
    )
    assert run.status == "succeeded", run.error
    churn = run.report["churn"]
    assert churn["status"] == "skipped" and churn["reason_code"] == "short_history"
    assert "not enough history" in churn["reason"]
    assert run.params["churn"]["status"] == "skipped"
    assert all(s.churn_risk is None and s.churn_reasons is None for s in _scores(db, run))


# --- the feature-provider registry --------------------------------------------------------------


@pytest.fixture
def isolated_registry(monkeypatch):
    monkeypatch.setattr(features, "_PROVIDERS", dict(features._PROVIDERS))


def test_registry_refuses_a_column_two_providers_claim(isolated_registry):
    taken = features.feature_providers()[0].columns[0]
    with pytest.raises(ValueError, match="already come from"):
        features.register_feature_provider(
            features.FeatureProvider("other", (taken,), lambda s, t: pd.DataFrame())
        )


def test_a_column_without_reason_text_is_refused_when_used(isolated_registry, db):
    p = features.FeatureProvider("mystery", ("mystery_signal",), lambda s, t: pd.DataFrame())
    features.register_feature_provider(p)
    with pytest.raises(ValueError, match="no reason text for mystery_signal"):
        features.check_reason_texts(features.feature_providers())


def test_load_features_fills_missing_customers_and_columns_with_zero(isolated_registry, db):
    def load(session, as_of):
        return pd.DataFrame({"customer_id": [7], "touchpoints_recent": [2]}).set_index(
            "customer_id"
        )

    p = features.FeatureProvider("touchpoints", ("touchpoints_recent",), load)
    q = features.FeatureProvider(
        "complaints",
        ("complaints_open", "complaints_breached"),
        lambda s, t: pd.DataFrame({"customer_id": [8], "complaints_open": [1]}).set_index(
            "customer_id"
        ),
    )
    out = features.load_features(db, AS_OF, [p, q])
    assert list(out.columns) == ["touchpoints_recent", "complaints_open", "complaints_breached"]
    assert out.loc[7].tolist() == [2.0, 0.0, 0.0] and out.loc[8].tolist() == [0.0, 1.0, 0.0]


def test_domain_providers_answer_as_of_the_moment(db, users):
    providers = {p.name: p for p in features.feature_providers()}
    c = make_customer(db)
    when = AS_OF - timedelta(days=20)
    make_touchpoint(db, c, occurred_at=when)
    make_complaint(db, customer_id=c.id, severity=3, received_at=when)
    before = features.load_features(
        db, when - timedelta(days=1), [providers["touchpoints"], providers["complaints"]]
    )
    after = features.load_features(
        db, when + timedelta(days=1), [providers["touchpoints"], providers["complaints"]]
    )
    assert c.id not in before.index
    row = after.loc[c.id]
    assert row["touchpoints_recent"] == 1 and row["complaints_open"] == 1
    assert row["complaint_severity"] == 3 and row["complaints_breached"] == 0
    # Three months later the contact is no longer recent.
    later = features.load_features(db, when + timedelta(days=120), [providers["touchpoints"]])
    assert c.id not in later.index or later.loc[c.id, "touchpoints_recent"] == 0


# --- PostgreSQL, real commits ------------------------------------------------------------------


def test_churn_scores_are_stored_and_read_back_on_postgresql(live_pg):
    with live_pg.session() as s:
        insert_population(s)
        s.commit()
    with live_pg.session() as s:
        run = service.run_scoring(s, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=None)
        s.commit()
        run_id = run.id
    with live_pg.session() as s:
        run = s.get(ScoreRun, run_id)
        assert run.status == "succeeded" and run.params["churn"]["status"] == "scored"
        rows = list(s.scalars(select(CustomerScore).where(CustomerScore.run_id == run_id)))
        assert len(rows) == 120 and all(r.churn_risk is not None for r in rows)
        top = list(
            s.scalars(
                select(CustomerScore)
                .where(CustomerScore.run_id == run_id, CustomerScore.churn_risk >= 0.5)
                .order_by(CustomerScore.churn_risk.desc())
            )
        )
        assert len(top) == run.report["churn"]["above_half"]
        reasons = [r for row in rows for r in (row.churn_reasons or [])]
        assert reasons and all(isinstance(r["params"], dict) for r in reasons)


# --- on the module's population and scoring run (``world_churn``), kept together --------------


def test_run_stores_churn_risk_and_reasons(db, churn_run):
    run = churn_run
    churn = run.report["churn"]
    assert churn["status"] == "scored", churn
    assert run.params["churn"] == {
        "model": "ChurnRiskModel",
        "horizon_days": 90,
        "status": "scored",
    }
    # Trained only on windows that end by the as-of date.
    assert churn["training_windows"] and all(
        w["label_end"] <= AS_OF.date().isoformat() for w in churn["training_windows"]
    )
    assert set(churn["features_from"]) == {"complaints", "loyalty", "surveys", "touchpoints"}
    hold = churn["holdout"]
    assert hold["status"] == "computed" and hold["test_days"] == 90
    assert 0.5 < hold["metrics"]["roc_auc"] <= 1.0 and hold["baseline"]["model"] == "BG/NBD"
    scores = _scores(db, run)
    buyers = [s for s in scores if s.order_count > 0]
    assert len(buyers) == churn["customers"] == 120 + FREE  # the population and the FREE ones
    assert all(0.0 <= s.churn_risk <= 1.0 for s in buyers)
    assert churn["above_half"] == sum(s.churn_risk >= 0.5 for s in buyers)
    assert abs(churn["mean_risk"] - sum(s.churn_risk for s in buyers) / len(buyers)) < 1e-4
    with_reasons = [s for s in buyers if s.churn_reasons]
    assert len(with_reasons) > len(buyers) // 2
    for s in with_reasons:
        assert 1 <= len(s.churn_reasons) <= 3
        for r in s.churn_reasons:
            assert set(r) == {"code", "params"} and r["code"] in REASONS
            for lang in ("en", "zh"):
                text = render_reason(r["code"], r["params"], lang)
                assert text and "{" not in text and "?" not in text and "nan" not in text
    assert sum(churn["top_reasons"].values()) == len(with_reasons)
    # A customer long overdue against their own rhythm is told so, in words.
    lapsed = [s for s in with_reasons if s.churn_reasons[0]["code"] == "lapsed"]
    assert lapsed
    r = lapsed[0].churn_reasons[0]
    assert render_reason(r["code"], r["params"], "en").startswith("no purchase for ")
    assert render_reason(r["code"], r["params"], "zh").startswith("已")
    # The risk ranks lapsed customers above recent buyers on average.
    recent = [s for s in buyers if s.last_order_on and (AS_OF.date() - s.last_order_on).days < 30]
    old = [s for s in buyers if s.last_order_on and (AS_OF.date() - s.last_order_on).days > 365]
    assert recent and old
    assert sum(s.churn_risk for s in old) / len(old) > sum(s.churn_risk for s in recent) / len(
        recent
    )


def test_horizon_setting_and_option(db, world_churn, monkeypatch):
    """The setting is a run's horizon; a run's option wins over it (the option of the run that
    ``test_api_gives_churn_risk_and_reasons_and_filters_on_it`` starts under another setting)."""
    monkeypatch.setenv("RETENTO_CHURN_HORIZON_DAYS", "60")
    from retento.core.config import get_settings

    get_settings.cache_clear()
    try:
        run = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=0), actor=None)
        assert run.report["churn"]["horizon_days"] == 60
    finally:
        get_settings.cache_clear()


def test_zero_spend_repeat_customers_are_left_out_of_the_spend_model(db, world_churn, churn_run):
    free = world_churn.data["free"]
    run = churn_run
    spend = run.report["fit"]["spend"]
    assert spend["model"] == "gamma_gamma"
    assert spend["left_out"] == FREE == len(free) and "zero or negative" in spend["left_out_reason"]
    assert set(run.report["fit"]["gamma_gamma"]) == {"p", "q", "v"}
    by_id = {s.customer_id: s for s in _scores(db, run)}
    mean = Decimal(str(round(spend["population_mean_spend"], 2)))
    for cid in free:
        assert by_id[cid].monetary == 0 and by_id[cid].frequency == 2
        assert abs(by_id[cid].expected_spend - mean) <= Decimal("0.01")
        assert by_id[cid].clv is not None and by_id[cid].clv >= 0
    # Everyone else with repeat purchases is in the Gamma-Gamma fit.
    repeaters = [s for s in by_id.values() if s.frequency > 0 and s.monetary > 0]
    assert spend["customers_fitted"] == len(repeaters) > 10


def test_api_gives_churn_risk_and_reasons_and_filters_on_it(client, tokens, db, world_churn):
    from retento.core.config import get_settings

    db.commit()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("RETENTO_CHURN_HORIZON_DAYS", "120")  # the option wins over the setting
            get_settings.cache_clear()
            r = client.post(
                "/api/v1/scoring/runs",
                json={"model": "mbgnbd", "as_of": AS_OF.isoformat(), "churn_horizon_days": 60},
                headers=tokens["manager"],
            )
    finally:
        get_settings.cache_clear()
    assert r.status_code == 201, r.text
    assert r.json()["params"]["churn"]["horizon_days"] == 60
    r = client.get(
        "/api/v1/scores",
        params={"churn_risk_gte": 0.5, "sort": "-churn_risk", "limit": 200},
        headers=tokens["analyst"],
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    risks = [i["churn_risk"] for i in items]
    assert risks and min(risks) >= 0.5 and risks == sorted(risks, reverse=True)
    assert any(i["churn_reasons"] for i in items)
    bad = client.get("/api/v1/scores", params={"churn_risk_gte": 2}, headers=tokens["analyst"])
    assert bad.status_code == 422 and "churn_risk_gte" in bad.text
    bad = client.post(
        "/api/v1/scoring/runs", json={"churn_horizon_days": 5}, headers=tokens["manager"]
    )
    assert bad.status_code == 422 and bad.json()["field"] == "churn_horizon_days"


def test_customers_without_risk_have_sql_null_reasons(db, churn_run):
    from sqlalchemy import func

    run = churn_run  # over a customer with no orders too: not scored for churn
    nulls = db.scalar(
        select(func.count()).where(
            CustomerScore.run_id == run.id,
            CustomerScore.churn_reasons.is_(None),
            CustomerScore.churn_risk.is_(None),
        )
    )
    assert nulls == db.query(CustomerScore).filter_by(run_id=run.id, order_count=0).count() >= 1
