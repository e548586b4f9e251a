"""Gamma-Gamma spend model: Fader & Hardie (2013) on CDNOW, and recovery on simulated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from retento.analytics import GammaGammaModel, simulate_gammagamma

DATA = Path(__file__).parents[1] / "data" / "cdnow"


@pytest.fixture(scope="module")
def hardie() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


def test_reproduces_fader_hardie_2013(hardie: pd.DataFrame) -> None:
    gg = GammaGammaModel().fit(hardie["x"], hardie["zbar"])
    assert gg.params_["p"] == pytest.approx(6.25, abs=0.01)
    assert gg.params_["q"] == pytest.approx(3.74, abs=0.01)
    assert gg.params_["v"] == pytest.approx(15.44, abs=0.02)
    # CLVTools: -4055.9177 (from unrounded spend); Hardie's zbar is rounded to cents.
    assert gg.log_likelihood_ == pytest.approx(-4055.9177, abs=0.01)
    se = gg.standard_errors_
    assert all(np.isfinite(v) and v > 0 for v in se.values())
    first10 = gg.conditional_expected_average_value(hardie["x"][:10], hardie["zbar"][:10])
    expected = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    np.testing.assert_allclose(first10, expected, atol=0.1)


def test_repeat_spend_statistics(hardie: pd.DataFrame) -> None:
    z = hardie.loc[hardie["x"] > 0, "zbar"]
    assert len(z) == 946
    assert z.mean() == pytest.approx(35, abs=1)
    assert z.median() == pytest.approx(27, abs=1)


def test_weights_equal_expanded_rows(hardie: pd.DataFrame) -> None:
    rep = hardie[hardie["x"] > 0].head(200)
    expanded = pd.concat([rep, rep.head(50)])
    w = np.r_[np.where(np.arange(200) < 50, 2.0, 1.0)]
    a = GammaGammaModel().fit(expanded["x"], expanded["zbar"])
    b = GammaGammaModel().fit(rep["x"], rep["zbar"], weights=w)
    for k in ("p", "q", "v"):
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-5)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)


def test_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(1, 12, size=20_000).astype(float)
    z = simulate_gammagamma(x, 6.0, 4.0, 15.0, seed=rng)
    gg = GammaGammaModel().fit(x, z)
    se = gg.standard_errors_
    for k, true in (("p", 6.0), ("q", 4.0), ("v", 15.0)):
        assert abs(gg.params_[k] - true) < 4 * se[k] + 0.02 * true


def test_errors() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        GammaGammaModel().conditional_expected_average_value([1], [2.0])
    with pytest.raises(ValueError, match="positive"):
        GammaGammaModel().fit([1, 2, 3], [1.0, 0.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        GammaGammaModel().fit([1, 2, 3], [1.0, np.nan, 3.0])


def test_gradient_is_exact(hardie: pd.DataFrame) -> None:
    rep = hardie[hardie["x"] > 0]
    x, z = rep["x"].to_numpy(float), rep["zbar"].to_numpy(float)
    w = np.ones(len(x))

    def f(p: np.ndarray) -> float:
        return GammaGammaModel._negll_grad(p, x, z, w)[0]

    def g(p: np.ndarray) -> np.ndarray:
        return GammaGammaModel._negll_grad(p, x, z, w)[1]

    p0 = np.log([5.0, 3.0, 12.0])
    assert optimize.check_grad(f, g, p0) < 1e-4 * np.linalg.norm(g(p0))
