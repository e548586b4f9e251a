"""The vectorised reasons give exactly what predicting every moved copy gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

import retento.analytics.churn as churn
from retento.analytics.churn import ChurnRiskModel, _distinct_rows
from retento.analytics.churn_reasons import tx_reason
from retento.analytics.churn_trees import FlatTrees


def _data(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "days_since_last": rng.integers(0, 365, n).astype(float),
            "median_gap_days": np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2, 20, n)),
            "purchases": rng.integers(1, 12, n).astype(float),
            "spend_total": rng.gamma(2, 50, n),
            "tenure_days": rng.integers(30, 400, n).astype(float),
        }
    )
    logit = 0.01 * X["days_since_last"] - 0.3 * X["purchases"] + rng.normal(0, 1, n)
    y = (logit > np.median(logit)).astype(int).to_numpy()
    return X, y


@pytest.mark.parametrize("leaves", [2, 4, 8])
def test_flat_trees_equal_scikit_learn_bit_for_bit(leaves: int) -> None:
    X, y = _data()
    est = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=leaves, random_state=0)
    est.fit(X, y)
    flat = FlatTrees.from_estimator(est)
    assert flat is not None
    Xa = X.to_numpy(np.float64, copy=True)
    Xa[::7, 1] = np.nan  # missing values follow each node's learnt direction
    raw, moved = flat.raw_and_moved(Xa, {"a": {0: 100.0}, "b": {1: np.nan, 3: 80.0}}, chunk=999)
    np.testing.assert_array_equal(raw, est.decision_function(pd.DataFrame(Xa, columns=X.columns)))
    for name, cols in {"a": {0: 100.0}, "b": {1: np.nan, 3: 80.0}}.items():
        shifted = Xa.copy()
        for f, v in cols.items():
            shifted[:, f] = v
        expected = est.decision_function(pd.DataFrame(shifted, columns=X.columns))
        np.testing.assert_allclose(moved[name], expected, rtol=0, atol=1e-12)


def test_categorical_models_are_left_to_scikit_learn() -> None:
    X, y = _data()
    X["kind"] = pd.Categorical(np.where(X["purchases"] > 3, "a", "b"))
    est = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype").fit(X, y)
    assert FlatTrees.from_estimator(est) is None


@pytest.mark.parametrize("linear", [False, True])
def test_contributions_match_predicting_each_moved_copy(monkeypatch, linear: bool) -> None:
    X, y = _data()
    model = ChurnRiskModel(linear=linear, max_iter=40).fit(X, y)
    fast = model.explain(X)
    assert model._flat(model.estimators_[0]) is not None
    # The slow path: every group's moved copy predicted by scikit-learn.
    monkeypatch.setattr(churn.FlatTrees, "from_estimator", classmethod(lambda cls, est: None))
    model.__dict__.pop("_flat_trees", None)
    slow = model.explain(X)
    np.testing.assert_array_equal(fast["churn_risk"], slow["churn_risk"])
    np.testing.assert_array_equal(fast["churn_risk"], model.predict_proba(X)[:, 1])
    for i in (1, 2, 3):
        pd.testing.assert_series_equal(fast[f"reason_code_{i}"], slow[f"reason_code_{i}"])
        np.testing.assert_allclose(
            fast[f"contribution_{i}"], slow[f"contribution_{i}"], rtol=0, atol=1e-12
        )


def test_reason_texts_worded_once_per_distinct_row_are_the_same() -> None:
    # Every built-in group's texts, worded for every row against worded for distinct rows.
    rng = np.random.default_rng(3)
    n = 3000
    X = pd.DataFrame(
        {
            "days_since_last": rng.integers(0, 400, n).astype(float),
            "median_gap_days": np.where(rng.random(n) < 0.3, np.nan, rng.integers(1, 90, n)),
            "purchases": rng.integers(1, 6, n).astype(float),
            "purchases_recent": rng.integers(0, 3, n).astype(float),
            "purchases_prior": rng.integers(0, 3, n).astype(float),
            "tenure_days": rng.integers(0, 800, n).astype(float),
            "spend_recent": rng.choice([0.0, 10.0, 25.5], n),
            "spend_prior": rng.choice([0.0, 10.0, 99.99], n),
            "spend_mean": rng.choice([12.5, 40.0, 1234.567], n),
            "p_alive_mbgnbd": rng.choice([0.1, 0.25, 0.9], n),
            "units_recent": rng.integers(0, 4, n).astype(float),
            "units_prior": rng.integers(0, 4, n).astype(float),
            "units_per_order": rng.choice([1.0, 1.5, 2.25, 7.0], n),
        }
    )
    X["purchase_trend"] = X["purchases_recent"] - X["purchases_prior"]
    X["units_trend"] = X["units_recent"] - X["units_prior"]
    for group, cols in churn._REASON_INPUTS.items():
        first, inverse = _distinct_rows(X[cols])
        assert len(first) < n
        codes, (en, zh) = tx_reason(group, X.iloc[first], 91)
        all_codes, (all_en, all_zh) = tx_reason(group, X, 91)
        np.testing.assert_array_equal(np.asarray(codes, dtype=object)[inverse], all_codes)
        assert list(np.asarray(en, dtype=object)[inverse]) == list(all_en)
        assert list(np.asarray(zh, dtype=object)[inverse]) == list(all_zh)


def test_distinct_rows_treats_missing_values_as_equal() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 1.0, np.nan], "b": [2.0, 3.0, 2.0, 3.0]})
    first, inverse = _distinct_rows(frame)
    assert list(first) == [0, 1] and list(inverse) == [0, 1, 0, 1]
