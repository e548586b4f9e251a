"""Purchase propensity on simulated baskets with a planted signal: time split, AUC vs baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retento.analytics import (
    PropensityModel,
    lift_table,
    prepare_lines,
    propensity_features,
    propensity_holdout,
)


def _simulate(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Customers buy snacks, gifts and cups; tea is launched on day 600 and then joins the
    baskets of customers who bought cups (the planted co-purchase signal). Counting earlier
    tea purchases (the baseline) knows little about a new product; cup ownership does."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows = []
    for c in range(n):
        rate = rng.gamma(2.0, 4.0)
        days = np.sort(rng.integers(0, 760, rng.poisson(rate)))
        has_cups = False
        for d in days:
            day = start + pd.Timedelta(days=int(d))
            item = rng.choice(["snacks", "gifts", "cups"], p=[0.5, 0.4, 0.1])
            has_cups |= item == "cups"
            rows.append((c, day, item, float(rng.integers(5, 50))))
            if d >= 600 and has_cups and rng.random() < 0.6:
                rows.append((c, day, "tea", 30.0))
            elif d >= 600 and rng.random() < 0.03:
                rows.append((c, day, "tea", 30.0))
    return pd.DataFrame(rows, columns=["cust", "date", "item", "amount"])


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return prepare_lines(_simulate(), "cust", "date", "item", "amount")


def test_beats_the_bought_before_baseline_on_the_later_period(lines):
    as_of = pd.Timestamp("2024-01-01") + pd.Timedelta(days=700)
    for method in ("gb", "logistic"):
        rep = propensity_holdout(
            PropensityModel("tea", horizon_days=60, method=method), lines, as_of
        )
        assert rep["model"]["roc_auc"] > rep["baseline"]["roc_auc"] + 0.1, method
        assert rep["model"]["roc_auc"] > 0.75
        assert rep["model"]["lift_at_10"] > 2.5
        assert rep["model"]["pr_auc"] > rep["baseline"]["pr_auc"]
    lift = rep["lift"]
    assert list(lift["decile"]) == list(range(1, 11))
    assert lift["cumulative_gain"].iloc[-1] == pytest.approx(1.0)
    assert lift["lift"].iloc[0] > lift["lift"].iloc[-1]


def test_never_trains_on_the_evaluation_period(lines, monkeypatch):
    """Every training label ends by the cut-off, and corrupting everything after the cut-off
    leaves the fitted model unchanged."""
    cut = pd.Timestamp("2024-01-01") + pd.Timedelta(days=640)
    m = PropensityModel("tea", horizon_days=60, n_windows=3).fit_transactions(lines, cut)
    assert len(m.windows_) == 3
    assert all(pd.Timestamp(w["label_end"]) <= cut for w in m.windows_)
    assert m.cutoff_ == cut.date().isoformat()
    scrambled = lines.copy()
    after = scrambled["day"] > cut
    scrambled.loc[after, "item"] = "tea"  # everyone buys tea after the cut-off
    m2 = PropensityModel("tea", horizon_days=60, n_windows=3).fit_transactions(scrambled, cut)
    f = m.features_at(lines, cut)
    np.testing.assert_allclose(m.predict_proba(f), m2.predict_proba(f))
    rep = propensity_holdout(
        PropensityModel("tea", horizon_days=60), lines, cut + pd.Timedelta(days=60)
    )
    assert rep["trained_until"] == rep["cutoff"] == cut.date().isoformat()


def test_features_use_only_the_history_and_the_invite_list(lines):
    cut = pd.Timestamp("2024-01-01") + pd.Timedelta(days=660)
    f = propensity_features(lines, cut, "tea", horizon_days=60)
    hist = lines[lines["day"] <= cut]
    assert set(f.index) == set(hist["customer"].unique())
    c = f.index[0]
    own = hist[hist["customer"] == c]
    assert f.loc[c, "purchases"] == own["day"].nunique()
    assert f.loc[c, "spend_total"] == pytest.approx(own["amount"].sum())
    assert f.loc[c, "target_purchases"] == own.loc[own["item"] == "tea", "day"].nunique()
    shares = f[[col for col in f if col.startswith("share:")]]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    # cup buyers have the highest co-purchase affinity with tea
    cups = hist.loc[hist["item"] == "cups", "customer"].unique()
    assert f.loc[cups, "copurchase_lift"].mean() > 1.5 * f.drop(cups)["copurchase_lift"].mean()

    m = PropensityModel("tea", horizon_days=60).fit_transactions(lines, cut)
    inv = m.invite_list(lines, cut, top_k=25)
    assert list(inv["rank"]) == list(range(1, 26))
    assert inv["propensity"].is_monotonic_decreasing
    assert inv["propensity"].between(0, 1).all()


def test_contract_and_bad_input(lines):
    m = PropensityModel("tea")
    assert set(m.get_params()) >= {"target", "horizon_days", "method"}
    assert m.set_params(horizon_days=30) is m
    with pytest.raises(ValueError, match="never appears"):
        PropensityModel("coffee").fit_transactions(lines, "2025-12-31")
    with pytest.raises(ValueError, match="not enough history"):
        PropensityModel("tea", horizon_days=60).fit_transactions(lines, "2024-02-01")
    with pytest.raises(ValueError, match="method must be"):
        PropensityModel("tea", method="svm").fit_transactions(lines, "2025-12-31")
    with pytest.raises(ValueError, match="column 'when' is missing"):
        prepare_lines(_simulate(5), "cust", "when", "item")
    bad = _simulate(5).astype({"date": object})
    bad.loc[2, "date"] = "yesterday"
    with pytest.raises(ValueError, match="column 'date', row 3: not a date"):
        prepare_lines(bad, "cust", "date", "item")
    with pytest.raises(RuntimeError, match="not fitted"):
        PropensityModel("tea").predict_proba(pd.DataFrame({"a": [1.0]}))


def test_lift_table_on_a_perfect_score():
    y = np.r_[np.ones(10), np.zeros(90)]
    t = lift_table(y, np.linspace(1, 0, 100))
    assert t["lift"].iloc[0] == pytest.approx(10.0)
    assert t["cumulative_gain"].iloc[0] == pytest.approx(1.0)
