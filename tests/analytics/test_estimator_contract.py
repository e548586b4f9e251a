"""The library's estimators follow scikit-learn's contract: get_params / set_params, clone,
fit returning self, and a clear error when used before fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from retento.analytics import (
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    NextItemRecommender,
    ParetoNBDModel,
    PurchaseSequences,
)
from retento.analytics.basket import BasketAnalysis

MAXITER_MODELS = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, GammaGammaModel]


@pytest.mark.parametrize("model", MAXITER_MODELS)
def test_btyd_models_clone_with_their_params(model: type) -> None:
    est = model(maxiter=123)
    assert est.get_params() == {"maxiter": 123}
    copy = clone(est)
    assert type(copy) is model and copy is not est and copy.get_params() == {"maxiter": 123}
    assert est.set_params(maxiter=7) is est and est.maxiter == 7
    with pytest.raises(ValueError, match="invalid parameter 'tol'"):
        est.set_params(tol=1e-3)


@pytest.mark.filterwarnings("ignore:.*may not have converged")
@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_fit_returns_self_and_clone_is_unfitted(model: type) -> None:
    rng = np.random.default_rng(0)
    x = rng.poisson(2.0, 300).astype(float)
    T = np.full(300, 40.0)
    tx = np.where(x > 0, rng.uniform(1, 40, 300), 0.0)
    est = model()
    assert est.fit(x, tx, T) is est
    assert set(est.params_) and not hasattr(clone(est), "params_")
    with pytest.raises(RuntimeError, match="is not fitted; call fit"):
        clone(est).probability_alive(x, tx, T)


def test_gamma_gamma_fit_returns_self() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, 400).astype(float)
    m = rng.gamma(6.0, 1.0 / rng.gamma(4.0, 1.0 / 15.0, 400))
    est = GammaGammaModel()
    assert est.fit(x, m) is est
    with pytest.raises(RuntimeError, match="GammaGammaModel is not fitted"):
        clone(est).conditional_expected_average_value(x, m)


def test_recommend_before_fit_says_not_fitted() -> None:
    with pytest.raises(RuntimeError, match="BasketAnalysis is not fitted; call fit"):
        BasketAnalysis().recommend(["a"])
    data = PurchaseSequences.from_arrays(
        [1, 1, 2], ["2020-01-01", "2020-02-01", "2020-01-01"], ["a", "b", "a"]
    )
    with pytest.raises(RuntimeError, match="NextItemRecommender is not fitted; call fit"):
        NextItemRecommender().recommend(data)
