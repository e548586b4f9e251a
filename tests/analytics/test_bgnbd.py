"""BG/NBD: Fader, Hardie & Lee (2005) on CDNOW, published derived quantities, recovery."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from retento.analytics import BetaGeoModel, GammaGammaModel, simulate_bgnbd

DATA = Path(__file__).parents[1] / "data" / "cdnow"
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def hardie() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def fitted(hardie: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(hardie["x"], hardie["t_x"], hardie["T"])


@pytest.fixture()
def paper_model() -> BetaGeoModel:
    m = BetaGeoModel()
    m.params_ = dict(PAPER)
    return m


def test_reproduces_fader_hardie_lee_2005(fitted: BetaGeoModel) -> None:
    for k, v in PAPER.items():
        assert fitted.params_[k] == pytest.approx(v, abs=0.001)
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    # CLVTools' own fit (same data before rounding to 2 dp).
    clvtools = {"r": 0.2425945, "alpha": 4.4136019, "a": 0.7929199, "b": 2.4258881}
    for k, v in clvtools.items():
        assert fitted.params_[k] == pytest.approx(v, rel=2e-3)
    se = fitted.standard_errors_
    assert set(se) == set(PAPER)
    assert all(0 < se[k] < fitted.params_[k] for k in se)


def test_published_conditional_expectation_and_ex(fitted: BetaGeoModel) -> None:
    assert fitted.conditional_expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(
        1.226, abs=0.001
    )
    t = [0.1429, 1, 3, 31.8571, 32, 78]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    np.testing.assert_allclose(fitted.expected_purchases_new_customer(t), expected, atol=1e-3)


def test_probability_alive_summary(fitted: BetaGeoModel, hardie: pd.DataFrame) -> None:
    pa = fitted.probability_alive(hardie["x"], hardie["t_x"], hardie["T"])
    assert pa.min() == pytest.approx(0, abs=1e-6)
    assert np.quantile(pa, 0.25) == pytest.approx(0.6604, abs=1e-3)
    assert np.median(pa) == 1.0
    assert pa.mean() == pytest.approx(0.8134, abs=1e-3)


def test_probability_of_n_purchases_r_btyd(paper_model: BetaGeoModel) -> None:
    assert paper_model.probability_of_purchases(2, [10])[0] == pytest.approx(1.07869e-07, rel=1e-4)
    assert paper_model.probability_of_purchases(39, [0])[0] == pytest.approx(0.5737864, rel=1e-6)
    expected = [
        0.0019995214, 0.0015170236, 0.0011633150, 0.0009003148, 0.0007023638,
        0.0005517902, 0.0004361913, 0.0003467171, 0.0002769613, 0.0002222260,
    ]  # fmt: skip
    got = paper_model.probability_of_purchases(30, np.arange(11, 21))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_numerically_stable_logp() -> None:
    m = BetaGeoModel()
    m.params_ = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    ll = m.log_likelihood([0, 200], [0, 38], [40, 40])
    np.testing.assert_allclose(ll, [-0.59947382, 100.7957], rtol=1e-6)


def test_gradient_is_exact(hardie: pd.DataFrame) -> None:
    x, tx, T = (hardie[c].to_numpy(float) for c in ("x", "t_x", "T"))
    w = np.ones(len(x))
    m = BetaGeoModel()

    def f(p: np.ndarray) -> float:
        return m._negll_grad(p, x, tx, T, w)[0]

    def g(p: np.ndarray) -> np.ndarray:
        return m._negll_grad(p, x, tx, T, w)[1]

    p0 = np.log([0.3, 5.0, 0.9, 2.0])
    assert optimize.check_grad(f, g, p0) < 1e-3 * np.linalg.norm(g(p0))


def test_weights_and_collapse(hardie: pd.DataFrame) -> None:
    agg = hardie.groupby(["x", "t_x", "T"]).size().reset_index(name="n")
    a = BetaGeoModel().fit(agg["x"], agg["t_x"], agg["T"], weights=agg["n"])
    b = BetaGeoModel().fit(hardie["x"], hardie["t_x"], hardie["T"])
    for k in PAPER:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-5)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-10)


def test_recovers_simulated_parameters() -> None:
    true = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    sim = simulate_bgnbd(50_000, **true, T=(20.0, 60.0), seed=11)
    m = BetaGeoModel().fit(sim["frequency"], sim["recency"], sim["T"])
    se = m.standard_errors_
    for k, v in true.items():
        assert abs(m.params_[k] - v) < 4 * se[k], (k, m.params_[k], se[k])


def test_simulated_mean_matches_expectation() -> None:
    true = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    sim = simulate_bgnbd(100_000, **true, T=30.0, seed=3)
    m = BetaGeoModel()
    m.params_ = true
    assert sim["frequency"].mean() == pytest.approx(
        m.expected_purchases_new_customer(30)[0], rel=0.02
    )


def test_clv_is_discounted_value(fitted: BetaGeoModel, hardie: pd.DataFrame) -> None:
    gg = GammaGammaModel().fit(hardie["x"], hardie["zbar"])
    args = (hardie["x"], hardie["t_x"], hardie["T"], hardie["zbar"])
    clv0 = fitted.customer_lifetime_value(gg, *args, horizon=52, discount_rate=0.0, margin=1.0)
    clv = fitted.customer_lifetime_value(gg, *args, horizon=52, discount_rate=0.1, margin=0.5)
    ey = fitted.conditional_expected_purchases(52, *args[:3])
    value = gg.conditional_expected_average_value(hardie["x"], hardie["zbar"])
    np.testing.assert_allclose(clv0, ey * value, rtol=1e-9)
    assert np.all(clv < 0.5 * clv0) and np.all(clv > 0.5 * clv0 / 1.1)
    # Against a fine Riemann-Stieltjes sum of weekly-discounted increments (first 20 customers).
    grid = np.linspace(0, 52, 5201)
    sub = [np.asarray(a)[:20] for a in args[:3]]
    ey_grid = np.array([fitted.conditional_expected_purchases(t, *sub) for t in grid])
    disc = 1.1 ** (-0.5 * (grid[1:] + grid[:-1]) * 7 / 365.25)
    brute = 0.5 * value[:20] * (np.diff(ey_grid, axis=0) * disc[:, None]).sum(axis=0)
    np.testing.assert_allclose(clv[:20], brute, rtol=1e-6)


def test_errors_and_warnings() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeoModel().probability_alive([1], [1], [2])
    with pytest.raises(ValueError, match="recency"):
        BetaGeoModel().fit([1, 0], [3.0, 0.0], [2.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        BetaGeoModel().fit([1, 0], [np.nan, 0.0], [2.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = BetaGeoModel(maxiter=2).fit([1, 0, 3, 2], [1.0, 0.0, 5.0, 3.0], [5.0, 6.0, 7.0, 8.0])
    assert any("may not have converged" in str(c.message) for c in caught)
    assert all(np.isfinite(v) for v in m.params_.values())


def test_chunked_parallel_likelihood_matches(hardie: pd.DataFrame, monkeypatch) -> None:
    from retento.analytics import btyd

    single = BetaGeoModel().fit(hardie["x"], hardie["t_x"], hardie["T"])
    monkeypatch.setattr(btyd, "_n_threads", lambda n: 3)
    threaded = BetaGeoModel().fit(hardie["x"], hardie["t_x"], hardie["T"])
    assert threaded.log_likelihood_ == pytest.approx(single.log_likelihood_, rel=1e-12)
    for k in PAPER:
        assert threaded.params_[k] == pytest.approx(single.params_[k], rel=1e-6)


def test_fitted_model_pickles(fitted: BetaGeoModel) -> None:
    import pickle

    fitted.standard_errors_  # noqa: B018 - computes and caches
    clone = pickle.loads(pickle.dumps(fitted))
    assert clone.params_ == fitted.params_
    np.testing.assert_allclose(
        clone.probability_alive([1, 3], [10.0, 20.0], [30.0, 30.0]),
        fitted.probability_alive([1, 3], [10.0, 20.0], [30.0, 30.0]),
    )


def test_large_data_path_matches_lbfgs(hardie: pd.DataFrame, monkeypatch) -> None:
    from retento.analytics import btyd_base

    sim = simulate_bgnbd(30_000, **PAPER, T=(27.0, 39.0), seed=8)
    args = (sim["frequency"], sim["recency"], sim["T"])
    plain = BetaGeoModel().fit(*args)
    monkeypatch.setattr(btyd_base, "_LARGE", 1_000)
    newton = BetaGeoModel().fit(*args)
    assert newton.n_iter_ < plain.n_iter_
    assert newton.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-3)
    for k in PAPER:
        assert newton.params_[k] == pytest.approx(plain.params_[k], rel=1e-4)


def test_threaded_chunks_give_the_single_chunk_likelihood(monkeypatch) -> None:
    """Customers split over several threads (as on an idle multi-core machine) must give the
    same likelihood and gradient as one chunk, with and without weights and with x = 0 rows."""
    from retento.analytics import btyd

    sim = simulate_bgnbd(5_000, **PAPER, T=(27.0, 39.0), seed=11)
    x, tx, T = (sim[c].to_numpy() for c in ("frequency", "recency", "T"))
    assert (x == 0).any() and (x > 0).any()
    logp = np.log([0.3, 4.0, 0.9, 2.0])
    for w in (np.ones(len(x)), np.random.default_rng(3).integers(1, 5, len(x)).astype(float)):
        one = BetaGeoModel()._negll_grad(logp, x, tx, T, w)
        monkeypatch.setattr(btyd, "_n_threads", lambda n: 3)
        three = BetaGeoModel()._negll_grad(logp, x, tx, T, w)
        monkeypatch.undo()
        assert three[0] == pytest.approx(one[0], rel=1e-12)
        np.testing.assert_allclose(three[1], one[1], rtol=1e-10)
        # And both agree with the per-customer likelihood summed directly.
        m = BetaGeoModel()
        m.params_ = dict(zip(["r", "alpha", "a", "b"], np.exp(logp), strict=True))
        assert -one[0] == pytest.approx(float(np.dot(w, m.log_likelihood(x, tx, T))), rel=1e-12)
