"""Pareto/NBD: Schmittlein et al. (1987) as fitted by FHL (2005), CLVTools and R BTYD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from retento.analytics import ParetoNBDModel, simulate_paretonbd

DATA = Path(__file__).parents[1] / "data" / "cdnow"


@pytest.fixture(scope="module")
def hardie() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def fitted(hardie: pd.DataFrame) -> ParetoNBDModel:
    return ParetoNBDModel().fit(hardie["x"], hardie["t_x"], hardie["T"])


def test_reproduces_published_fit(fitted: ParetoNBDModel) -> None:
    paper = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for k, v in paper.items():
        assert fitted.params_[k] == pytest.approx(v, rel=2e-3)
    assert fitted.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert fitted.log_likelihood_ == pytest.approx(-9594.976, abs=0.01)
    clvtools_se = {"r": 0.0476264, "alpha": 0.8427222, "s": 0.1872594, "beta": 6.2105448}
    for k, v in clvtools_se.items():
        assert fitted.standard_errors_[k] == pytest.approx(v, rel=0.01)


def test_r_btyd_derived_quantities(fitted: ParetoNBDModel, hardie: pd.DataFrame) -> None:
    assert fitted.probability_alive(26, 30.86, 31)[0] == pytest.approx(0.9979, abs=0.001)
    assert fitted.conditional_expected_purchases(52, 26, 30.86, 31)[0] == pytest.approx(
        25.46, abs=0.01
    )
    expected = [
        0, 0.05077821, 0.09916088, 0.14542507, 0.18979930,
        0.23247466, 0.27361274, 0.31335159, 0.35181024, 0.38909211,
    ]  # fmt: skip
    np.testing.assert_allclose(
        fitted.expected_purchases_new_customer(np.arange(10)), expected, atol=0.01
    )
    pa = fitted.probability_alive(hardie["x"], hardie["t_x"], hardie["T"])
    assert pa.mean() == pytest.approx(0.4462, abs=1e-3)


def test_quadrature_matches_hypergeometric_closed_form(hardie: pd.DataFrame) -> None:
    m = ParetoNBDModel()
    m.params_ = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    x, tx, T = (hardie[c].to_numpy(float)[:300] for c in ("x", "t_x", "T"))
    r, alpha, s, beta = 0.55, 10.58, 0.61, 11.67
    # alpha < beta branch of the closed form (Fader & Hardie 2005 note).
    c = r + s + x

    def a0(t: np.ndarray) -> np.ndarray:
        return special.hyp2f1(c, r + x, c + 1, (beta - alpha) / (beta + t)) / (beta + t) ** c

    closed = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        + np.log(1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / c * (a0(tx) - a0(T)))
    )
    np.testing.assert_allclose(m.log_likelihood(x, tx, T), closed, rtol=1e-9)


def test_stable_for_heavy_buyers() -> None:
    m = ParetoNBDModel()
    m.params_ = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    ll = m.log_likelihood([500, 2000], [38.0, 39.0], [39.0, 39.0])
    assert np.all(np.isfinite(ll))
    pa = m.probability_alive([500, 2000], [38.0, 39.0], [39.0, 39.0])
    assert pa[1] == pytest.approx(1.0, abs=1e-6)


def test_gradient_is_exact(hardie: pd.DataFrame) -> None:
    x, tx, T = (hardie[c].to_numpy(float) for c in ("x", "t_x", "T"))
    w = np.ones(len(x))
    m = ParetoNBDModel()

    def f(p: np.ndarray) -> float:
        return m._negll_grad(p, x, tx, T, w)[0]

    def g(p: np.ndarray) -> np.ndarray:
        return m._negll_grad(p, x, tx, T, w)[1]

    p0 = np.log([0.5, 9.0, 0.7, 10.0])
    assert optimize.check_grad(f, g, p0) < 1e-3 * np.linalg.norm(g(p0))


def test_recovers_simulated_parameters() -> None:
    true = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    sim = simulate_paretonbd(10_000, **true, T=(30.0, 80.0), seed=5)
    m = ParetoNBDModel().fit(sim["frequency"], sim["recency"], sim["T"])
    se = m.standard_errors_
    for k, v in true.items():
        assert abs(m.params_[k] - v) < 4 * se[k], (k, m.params_[k], se[k])


def test_large_data_path_matches_lbfgs(hardie: pd.DataFrame, monkeypatch) -> None:
    from retento.analytics import btyd_base

    args = (hardie["x"], hardie["t_x"], hardie["T"])
    plain = ParetoNBDModel().fit(*args)
    monkeypatch.setattr(btyd_base, "_LARGE", 500)
    newton = ParetoNBDModel().fit(*args)
    assert newton.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-3)
    for k in ("r", "alpha", "s", "beta"):
        assert newton.params_[k] == pytest.approx(plain.params_[k], rel=1e-3)


@pytest.mark.parametrize(
    "theta", [(0.55, 10.58, 0.61, 11.67), (0.55, 14.0, 0.61, 3.0), (2.0, 0.5, 3.0, 40.0)]
)
def test_tiered_quadrature_matches_a_400_node_rule(theta: tuple[float, ...]) -> None:
    """Each row's smallest sufficient Gauss-Legendre rule (8-64 nodes) gives the integral and
    its gradient as a 400-node rule does, for light and heavy buyers, both alpha < beta and
    alpha > beta."""
    from retento.analytics.btyd_pnbd import _GL_TIER_BOUNDS, _pnbd_log_integral_rule

    rng = np.random.default_rng(1)
    n = 20_000
    x = rng.integers(0, 120, n).astype(float)
    x[:3000] = 0
    T = rng.uniform(1, 80, n)
    tx = np.where(x > 0, T * rng.random(n), 0.0)
    th = np.array(theta)
    logi, grad = ParetoNBDModel._log_integral(th, x, tx, T, True)
    c = min(th[1], th[3])
    lo, hi = np.log(c + tx), np.log(c + T)
    nodes, weights = np.polynomial.legendre.leggauss(400)
    ref, ref_grad = _pnbd_log_integral_rule(
        th, x, lo, 0.5 * (hi - lo), (nodes, np.log(weights)), True
    )
    tiers = np.searchsorted(_GL_TIER_BOUNDS, (th[0] + x + th[2] + 1.0) * 0.5 * (hi - lo))
    assert len(np.unique(tiers)) >= 4  # the data exercise several rules
    np.testing.assert_allclose(logi, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)
