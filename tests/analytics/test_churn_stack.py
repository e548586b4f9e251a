"""The stacker's BG/NBD input (``ChurnRiskModel(btyd_stack=...)``): when it is used, that the
vectorised reasons still equal predicting every moved copy, and that on a log drawn from a
BG/NBD process the model is not worse than BG/NBD's own probability of no purchase."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import retento.analytics.churn as churn
from retento.analytics import compare_roc_auc, simulate_transactions
from retento.analytics.churn import ChurnRiskModel, TransactionLog
from tests.analytics.test_churn_trees import _data


def _with_btyd(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = _data(seed=seed)
    rng = np.random.default_rng(seed + 1)
    # A noisy but informative probability, missing for some customers (no BTYD fit).
    p = 1 / (1 + np.exp(-(0.012 * X["days_since_last"] - 0.25 * X["purchases"])))
    p = np.clip(p + rng.normal(0, 0.05, len(p)), 0.0, 1.0)
    X["p_no_purchase_bgnbd"] = np.where(rng.random(len(p)) < 0.05, np.nan, p)
    return X, y


@pytest.mark.parametrize("linear", [False, True])
def test_reasons_with_the_btyd_input_match_predicting_each_moved_copy(monkeypatch, linear):
    X, y = _with_btyd()
    model = ChurnRiskModel(linear=linear, max_iter=40).fit(X, y)
    assert model.stack_columns_ == ["p_no_purchase_bgnbd"]
    assert model.stacker_.coef_.shape == (1, (2 if linear else 1) + 1)
    fast = model.explain(X)
    monkeypatch.setattr(churn.FlatTrees, "from_estimator", classmethod(lambda cls, est: None))
    model.__dict__.pop("_flat_trees", None)
    slow = model.explain(X)
    np.testing.assert_allclose(fast["churn_risk"], slow["churn_risk"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast["churn_risk"], model.predict_proba(X)[:, 1], atol=1e-12)
    for i in (1, 2, 3):
        pd.testing.assert_series_equal(fast[f"reason_code_{i}"], slow[f"reason_code_{i}"])
        np.testing.assert_allclose(
            fast[f"contribution_{i}"], slow[f"contribution_{i}"], rtol=0, atol=1e-12
        )
    # The column belongs to the "btyd" reason group: moving it to the median changes the risk
    # through the stacker too.
    contrib = model.contributions(X)
    assert (contrib["btyd"].abs() > 0).mean() > 0.5


def test_btyd_stack_can_be_switched_off_and_must_have_its_column() -> None:
    X, y = _with_btyd()
    off = ChurnRiskModel(btyd_stack=False, linear=False, max_iter=20).fit(X, y)
    assert off.stack_columns_ == [] and off.stacker_.coef_.shape == (1, 1)
    plain, y2 = _data()
    assert ChurnRiskModel(linear=False, max_iter=20).fit(plain, y2).stack_columns_ == []
    with pytest.raises(ValueError, match="p_no_purchase_bgnbd"):
        ChurnRiskModel(btyd_stack=True, max_iter=20).fit(plain, y2)


def test_on_a_bgnbd_world_the_model_is_not_worse_than_bgnbd() -> None:
    # When the log is a BG/NBD process, BG/NBD's probability of no purchase is the right
    # ranking; the stacker leans on it, so the paired test finds no significant loss.
    tx = simulate_transactions(4000, 0.5, 20.0, 0.7, 3.0, seed=2, observation_days=730)
    log = TransactionLog(tx, "customer_id", "date", "amount")
    cut = log.first_day + pd.Timedelta(days=610)
    model = ChurnRiskModel(horizon_days=90).fit_transactions(log, cut)
    assert model.stack_columns_ == ["p_no_purchase_bgnbd"]
    assert model.stacker_.coef_[0, -1] > 0  # more BG/NBD risk, more risk
    scores = model.score_transactions(log, cut, top=1)
    y = log.labels(cut, 90, scores.index).to_numpy()
    test = compare_roc_auc(y, scores["churn_risk"], scores["p_no_purchase_bgnbd"].fillna(1.0))
    assert test.high >= 0.0, test
    assert abs(test.difference) < 0.005, test
