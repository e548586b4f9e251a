"""BG/NBD and MBG/NBD expected purchases at a = 1, where the closed forms read 0/0.

A fit ends there when nobody has bought twice (the likelihood then ignores a and b, which keep
their start value 1): a scoring run on such a log failed with "'predicted_value' has 4 missing,
non-numeric or infinite value(s)" because the expected purchases were NaN and inf.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from retento.analytics import BetaGeoModel, ModifiedBetaGeoModel

X = np.array([0.0, 2.0, 5.0, 12.0])
TX = np.array([0.0, 10.0, 30.0, 38.0])
T = np.array([39.0, 39.0, 39.0, 39.0])


def _model(cls, a: float):
    m = cls()
    m.params_ = {"r": 0.24, "alpha": 4.4, "a": a, "b": 2.4}
    return m


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel])
def test_expected_purchases_at_a_one_lie_between_their_neighbours(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 on the way
        at = _model(cls, 1.0).conditional_expected_purchases(39.0, X, TX, T)
        new = _model(cls, 1.0).expected_purchases_new_customer(39.0)
    assert np.all(np.isfinite(at)) and np.all(at > 0) and np.isfinite(new)
    for h in (1e-3, 1e-4):
        lo = _model(cls, 1.0 - h).conditional_expected_purchases(39.0, X, TX, T)
        hi = _model(cls, 1.0 + h).conditional_expected_purchases(39.0, X, TX, T)
        # Smooth in a: the value at 1 is the midpoint of its neighbours up to O(h^2).
        np.testing.assert_allclose(at, (lo + hi) / 2, rtol=10 * h * h)
        assert np.all(np.minimum(lo, hi) <= at) and np.all(at <= np.maximum(lo, hi))
        lo_n = _model(cls, 1.0 - h).expected_purchases_new_customer(39.0)
        hi_n = _model(cls, 1.0 + h).expected_purchases_new_customer(39.0)
        np.testing.assert_allclose(new, (lo_n + hi_n) / 2, rtol=10 * h * h)


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel])
def test_a_log_where_nobody_bought_twice_scores_finite_and_near_zero(cls):
    T_ = np.array([26.0, 21.6, 17.4, 13.0, 8.7, 4.3] * 2)
    zeros = np.zeros_like(T_)
    m = cls().fit(zeros, zeros, T_)
    ey = m.conditional_expected_purchases(52.0, zeros, zeros, T_)
    assert np.all(np.isfinite(ey)) and np.all((ey >= 0) & (ey < 1e-3)), (m.params_, ey)
    assert np.isfinite(m.expected_purchases_new_customer(52.0))
