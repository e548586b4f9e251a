"""MBG/NBD: BTYDplus / lifetimes values on CDNOW, P(alive) of one-time buyers, gradient, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from retento.analytics import BetaGeoModel, ModifiedBetaGeoModel

DATA = Path(__file__).parents[1] / "data" / "cdnow"
# BTYDplus mbgnbd.EstimateParameters on the CDNOW calibration summary, as asserted by
# lifetimes' TestModifiedBetaGammaFitter.test_params_out_is_close_to_BTYDplus.
BTYDPLUS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def hardie() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def fitted(hardie: pd.DataFrame) -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoModel().fit(hardie["x"], hardie["t_x"], hardie["T"])


def simulate_mbgnbd(n: int, r: float, alpha: float, a: float, b: float, T, seed: int):
    """MBG/NBD generative story: after every purchase, the first included, drop out with p."""
    rng = np.random.default_rng(seed)
    ages = rng.uniform(*T, size=n)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    arrivals = rng.poisson(lam * ages)
    # Survivals before the drop-out: geometric on {1, 2, ...} minus one.
    x = np.minimum(arrivals, rng.geometric(np.clip(p, 1e-12, 1.0)) - 1)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = ages[pos] * rng.beta(x[pos], arrivals[pos] - x[pos] + 1)
    return x.astype(float), tx, ages


def test_reproduces_btydplus_on_cdnow(fitted: ModifiedBetaGeoModel) -> None:
    for k, v in BTYDPLUS.items():
        assert fitted.params_[k] == pytest.approx(v, abs=1e-3)
    se = fitted.standard_errors_
    assert all(0 < se[k] < fitted.params_[k] for k in BTYDPLUS)
    # One more parameter-free modification than BG/NBD: CDNOW fits slightly better.
    assert fitted.log_likelihood_ == pytest.approx(-9582.13, abs=0.05)


def test_hardie_sheet_values_within_lifetimes_tolerance(fitted: ModifiedBetaGeoModel) -> None:
    # lifetimes checks MBG/NBD against the BG/NBD spreadsheet values within 5 %.
    assert fitted.conditional_expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(
        1.226, abs=0.05
    )
    t = [0.1429, 1, 3, 31.8571, 32, 78]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    np.testing.assert_allclose(fitted.expected_purchases_new_customer(t), expected, rtol=0.05)


def test_one_time_buyers_are_not_certainly_alive(
    fitted: ModifiedBetaGeoModel, hardie: pd.DataFrame
) -> None:
    bg = BetaGeoModel().fit(hardie["x"], hardie["t_x"], hardie["T"])
    ages = np.array([1.0, 10.0, 38.86, 78.0])
    assert np.all(bg.probability_alive(0, 0, ages) == 1.0)
    pa = fitted.probability_alive(0, 0, ages)
    assert np.all(pa < 1.0) and np.all(np.diff(pa) < 0)
    # Closed form: 1 / (1 + a/b ((alpha+T)/alpha)^r).
    p = fitted.params_
    closed = 1 / (1 + p["a"] / p["b"] * ((p["alpha"] + 38.86) / p["alpha"]) ** p["r"])
    assert pa[2] == pytest.approx(closed, rel=1e-12)
    grid = fitted.probability_alive(
        np.repeat(np.arange(0, 100, 10.0), 10), np.tile(np.arange(0, 100, 10.0), 10), 100.0
    )
    assert np.all((grid >= 0) & (grid <= 1))


def test_analytic_gradient_and_per_customer_loglik(
    fitted: ModifiedBetaGeoModel, hardie: pd.DataFrame
) -> None:
    x, tx, T = (hardie[c].to_numpy(float) for c in ("x", "t_x", "T"))
    w = np.ones(len(x))
    m = ModifiedBetaGeoModel()
    f = lambda p: m._negll_grad(p, x, tx, T, w)  # noqa: E731
    for p0 in (np.log([0.5, 6.0, 0.9, 1.6]), np.log([2.0, 1.0, 3.0, 0.3])):
        num = optimize.approx_fprime(p0, lambda p: f(p)[0], 1e-6)
        np.testing.assert_allclose(f(p0)[1], num, rtol=1e-4, atol=1e-3)
    assert fitted.log_likelihood(x, tx, T).sum() == pytest.approx(fitted.log_likelihood_, rel=1e-10)


def test_collapsed_weights_equal_expanded_rows(hardie: pd.DataFrame) -> None:
    counts = hardie.groupby(["x", "t_x", "T"]).size().reset_index(name="n")
    weighted = ModifiedBetaGeoModel().fit(counts["x"], counts["t_x"], counts["T"], counts["n"])
    full = ModifiedBetaGeoModel().fit(hardie["x"], hardie["t_x"], hardie["T"])
    for k in BTYDPLUS:
        assert weighted.params_[k] == pytest.approx(full.params_[k], rel=1e-5)


@pytest.mark.slow
def test_recovers_simulated_parameters_on_large_data() -> None:
    # 300,000 continuous ages: beyond the subsample-then-Newton threshold of the fitter.
    truth = {"r": 0.6, "alpha": 5.0, "a": 1.2, "b": 2.5}
    x, tx, T = simulate_mbgnbd(300_000, *truth.values(), T=(20.0, 80.0), seed=7)
    m = ModifiedBetaGeoModel().fit(x, tx, T)
    se = m.standard_errors_
    for k, v in truth.items():
        assert abs(m.params_[k] - v) < 4 * se[k], (k, m.params_[k], v, se[k])
