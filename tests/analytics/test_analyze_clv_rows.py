"""`analyze clv` finds the distinct (x, t_x, T) rows with one packed key: the same rows, order
and inverse as the general `_unique_rows`, which still handles columns that are not day
counts."""

from __future__ import annotations

import numpy as np
import pytest

from retento.analytics.btyd_base import _unique_rows
from retento.analyze.cli import _distinct_rows


@pytest.mark.parametrize("unit", [1.0, 7.0])
def test_packed_rows_equal_general(unit: float) -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    first = rng.integers(0, 400, n)
    last = first + rng.integers(0, 30, n) * (rng.random(n) < 0.6)
    x = np.where(last > first, rng.integers(1, 12, n), 0).astype(float)
    tx = (last - first) / unit
    T = (400 - first) / unit
    (ux, utx, uT), inverse = _distinct_rows(x, tx, T, unit, _unique_rows)
    (gx, gtx, gT), ginverse = _unique_rows([x, tx, T])
    assert len(ux) < n
    for a, b in ((ux, gx), (utx, gtx), (uT, gT)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(inverse, ginverse)


def test_other_columns_go_through_the_general_path() -> None:
    calls = []

    def general(cols):
        calls.append(len(cols))
        return _unique_rows(cols)

    x = np.array([0.0, 1.0, 1.0])
    rows, inverse = _distinct_rows(
        x, np.array([0.0, 0.5, 0.5]), np.array([3.0, 3.0, 3.0]), 1.0, general
    )
    assert calls == [3]
    np.testing.assert_array_equal(inverse, [0, 1, 1])
    _distinct_rows(x[:0], x[:0], x[:0], 7.0, general)
    assert calls == [3, 3]
