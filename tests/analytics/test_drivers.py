"""Driver analysis on simulated data with planted effects: ranking, interval coverage, R²."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retento.analytics import DriverAnalysis, importance_performance


def _simulate(n: int, seed: int = 3) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    X["f1"] += 0.6 * X["f0"]  # correlated drivers, as frequency and spend are
    raw = np.array([2.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    y = X.to_numpy() @ raw + rng.normal(scale=1.5, size=n)
    std = raw * X.std(ddof=0).to_numpy() / y.std(ddof=0)
    return X, pd.Series(y), std


@pytest.mark.parametrize("ci", ["bootstrap", "ols"])
def test_planted_driver_ranks_first_and_its_interval_covers_the_truth(ci):
    X, y, truth = _simulate(1500)
    m = DriverAnalysis(ci=ci, n_bootstrap=200, labels={"f0": "visits per month"}).fit(X, y)
    s = m.summary()
    assert s.index[0] == "f0" and s.index[1] == "f1"
    assert s.loc["f0", "label"] == "visits per month"
    for j, name in enumerate(["f0", "f1"]):
        assert s.loc[name, "ci_lower"] <= truth[j] <= s.loc[name, "ci_upper"], (name, ci)
        assert s.loc[name, "significant"]
    # per-unit coefficients come back in the outcome's units
    assert m.coef_raw_[0] == pytest.approx(2.0, abs=0.15)
    # noise features explain little and the held-out R² is near the true one (4.25+..)/...
    assert s.loc[["f2", "f3", "f4", "f5"], "importance"].sum() < 0.1
    true_r2 = 1 - 1.5**2 / y.var(ddof=0)
    assert m.r2_test_ == pytest.approx(true_r2, abs=0.06)
    assert m.n_test_ == 375 and m.n_train_ == 1125
    assert m.importance_.sum() == pytest.approx(1.0)
    assert m.score(X, y) == pytest.approx(m.r2_train_, abs=0.05)


def test_bootstrap_interval_of_a_null_feature_contains_zero():
    X, y, _ = _simulate(800, seed=5)
    m = DriverAnalysis(n_bootstrap=100).fit(X, y)
    s = m.summary()
    nulls = s.loc[["f2", "f3", "f4", "f5"]]
    assert ((nulls["ci_lower"] <= 0) & (nulls["ci_upper"] >= 0)).sum() >= 3


def test_constant_columns_dropped_missing_values_filled_and_contract():
    X, y, _ = _simulate(300)
    X["const"] = 1.0
    X.loc[::7, "f2"] = np.nan
    m = DriverAnalysis(n_bootstrap=20, random_state=1)
    assert m.get_params()["n_bootstrap"] == 20
    assert m.set_params(level=0.9) is m
    assert m.fit(X, y) is m
    assert m.dropped_ == ["const"]
    assert "const" not in m.summary().index
    assert np.isfinite(m.predict(X)).all()
    with pytest.raises(ValueError, match="invalid parameter"):
        m.set_params(bogus=1)


def test_bad_input_is_refused_with_a_reason():
    X, y, _ = _simulate(100)
    with pytest.raises(ValueError, match="same number of rows"):
        DriverAnalysis().fit(X, y[:50])
    with pytest.raises(ValueError, match="same for every row"):
        DriverAnalysis().fit(X, np.ones(len(X)))
    with pytest.raises(ValueError, match="too few rows"):
        DriverAnalysis().fit(X.head(10), y.head(10))
    with pytest.raises(ValueError, match="ci must be"):
        DriverAnalysis(ci="magic").fit(X, y)
    with pytest.raises(ValueError, match="'name' is not numeric"):
        DriverAnalysis().fit(X.assign(name="a"), y)
    with pytest.raises(RuntimeError, match="not fitted"):
        DriverAnalysis().summary()


def test_importance_performance_quadrants_match_the_csi_driver_matrix():
    out = importance_performance(
        {"price": 0.5, "staff": 0.4, "parking": 0.05, "packaging": 0.05},
        {"price": 55.0, "staff": 80.0, "parking": 60.0, "packaging": 85.0},
    )
    assert list(out.index) == ["price", "staff", "parking", "packaging"]
    assert out.loc["price", "quadrant"] == "concentrate here"
    assert out.loc["staff", "quadrant"] == "keep up the good work"
    assert out.loc["parking", "quadrant"] == "low priority"
    assert out.loc["packaging", "quadrant"] == "possible overkill"
    with pytest.raises(ValueError, match="no performance for driver 'b'"):
        importance_performance({"a": 1.0, "b": 2.0}, {"a": 3.0})
