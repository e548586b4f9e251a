r"""How sure a holdout ROC AUC is: DeLong's standard error, its 95 % interval, and the paired
test of two scores on the same customers.

A churn model's holdout AUC on a few thousand customers moves by about 0.01 from one sample to
the next. These functions say by how much, so that "0.777 against 0.757 for BG/NBD" is read with
its uncertainty, and a difference between two scores with the test that accounts for both being
measured on the same customers (their errors are correlated).

Method (DeLong, DeLong & Clarke-Pearson 1988). With :math:`m` positives :math:`X_i` and
:math:`n` negatives :math:`Y_j`, and :math:`\psi(x, y) = 1` if :math:`x > y`, :math:`1/2` if
equal, 0 otherwise, the AUC is the Mann-Whitney statistic

.. math:: \hat\theta = \frac{1}{mn} \sum_i \sum_j \psi(X_i, Y_j).

Its structural components are :math:`V_{10}(X_i) = \frac1n \sum_j \psi(X_i, Y_j)` and
:math:`V_{01}(Y_j) = \frac1m \sum_i \psi(X_i, Y_j)`. For :math:`K` scores on the same
customers, with :math:`S_{10}` and :math:`S_{01}` the :math:`K \times K` sample covariance
matrices of the components,

.. math:: \widehat{\mathrm{Cov}}(\hat\theta) = \frac{S_{10}}{m} + \frac{S_{01}}{n}.

The difference of two AUCs has variance :math:`L S L^\top` with :math:`L = (1, -1)`, and
:math:`z = (\hat\theta_1 - \hat\theta_2) / \sqrt{L S L^\top}` is compared with the standard
normal. The components are computed from mid-ranks in :math:`O((m + n) \log(m + n))` per score
(Sun & Xu 2014): with :math:`T_Z` the mid-rank of a value among all :math:`m + n`, :math:`T_X`
among the positives and :math:`T_Y` among the negatives,
:math:`V_{10}(X_i) = (T_Z(X_i) - T_X(X_i)) / n` and
:math:`V_{01}(Y_j) = 1 - (T_Z(Y_j) - T_Y(Y_j)) / m`.

The 95 % interval is :math:`\hat\theta \pm 1.96\,\widehat{\mathrm{se}}`, cut to [0, 1] (the
default of R's pROC ``ci.auc(method = "delong")``).

References
----------
DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Comparing the areas under two or
more correlated receiver operating characteristic curves: a nonparametric approach.
*Biometrics* 44(3), 837-845.

Sun, X. & Xu, W. (2014). Fast implementation of DeLong's algorithm for comparing the areas under
correlated receiver operating characteristic curves. *IEEE Signal Processing Letters* 21(11),
1389-1393.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["AUCComparison", "AUCInterval", "compare_roc_auc", "roc_auc_interval"]

Z_95 = 1.959963984540054  # the standard normal's 97.5 % quantile


@dataclass(frozen=True)
class AUCInterval:
    """A ROC AUC with its DeLong standard error and 95 % interval."""

    auc: float
    se: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | list[float]]:
        return {"roc_auc": self.auc, "roc_auc_se": self.se, "roc_auc_ci95": [self.low, self.high]}


@dataclass(frozen=True)
class AUCComparison:
    """The paired DeLong test of two scores' AUCs on the same labels: the difference (first
    minus second), its standard error, 95 % interval and two-sided p-value."""

    difference: float
    se: float
    low: float
    high: float
    p_value: float

    def as_dict(self) -> dict[str, float | list[float]]:
        return {
            "roc_auc_difference": self.difference,
            "se": self.se,
            "ci95": [self.low, self.high],
            "p_value": self.p_value,
        }


def _labels(y_true: ArrayLike, n: int) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1 or len(y) != n or n == 0:
        raise ValueError("y_true and the scores must be non-empty 1-D arrays of equal length")
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        raise ValueError("y_true must hold 0 and 1 only")
    if values.size < 2:
        raise ValueError("the AUC needs both positives and negatives")
    return y.astype(bool)


def _components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs (K,), V10 (K, m) and V01 (K, n) of the K rows of ``scores`` (Sun & Xu's mid-ranks)."""
    from scipy.stats import rankdata

    pos, neg = scores[:, y], scores[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)  # mid-ranks among all
    tx = rankdata(pos, axis=1)
    ty = rankdata(neg, axis=1)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    auc = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    return auc, v10, v01


def _covariance(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(v10), len(v10)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(v01), len(v01)))
    return s10 / m + s01 / n


def _scores(values: ArrayLike, n: int, name: str) -> np.ndarray:
    s = np.asarray(values, dtype=float)
    if s.shape != (n,):
        raise ValueError(f"{name} must be a 1-D array as long as y_true")
    if not np.isfinite(s).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return s


def roc_auc_interval(y_true: ArrayLike, score: ArrayLike) -> AUCInterval:
    """The ROC AUC of ``score`` for the 0/1 labels ``y_true``, with DeLong's standard error and
    95 % interval (see the module's notes for the equations).

    Parameters
    ----------
    y_true : array of 0/1
        1 for the positive class (for churn: the customer churned).
    score : array of float
        Higher means more likely positive (a churn risk).

    Returns
    -------
    AUCInterval
        ``auc`` equals scikit-learn's ``roc_auc_score`` (ties count one half); ``low`` and
        ``high`` are :math:`\\hat\\theta \\pm 1.96\\,\\widehat{\\mathrm{se}}`, cut to [0, 1].
    """
    n_all = len(np.asarray(y_true))
    y = _labels(y_true, n_all)
    s = _scores(score, n_all, "score")
    auc, v10, v01 = _components(y, s[None, :])
    se = float(np.sqrt(max(_covariance(v10, v01)[0, 0], 0.0)))
    a = float(auc[0])
    return AUCInterval(a, se, max(a - Z_95 * se, 0.0), min(a + Z_95 * se, 1.0))


def compare_roc_auc(y_true: ArrayLike, first: ArrayLike, second: ArrayLike) -> AUCComparison:
    """DeLong's paired test: is the AUC of ``first`` different from that of ``second``, both
    scored on the same customers?

    Parameters
    ----------
    y_true : array of 0/1
    first, second : array of float
        Two scores of the same customers (e.g. the churn model's risk and a BTYD baseline).

    Returns
    -------
    AUCComparison
        ``difference`` = AUC(first) − AUC(second), with the standard error
        :math:`\\sqrt{L S L^\\top}`, the 95 % interval and the two-sided p-value of
        :math:`z = \\text{difference} / \\text{se}` (1.0 when both scores rank identically).
    """
    from scipy.stats import norm

    n_all = len(np.asarray(y_true))
    y = _labels(y_true, n_all)
    s = np.vstack([_scores(first, n_all, "first"), _scores(second, n_all, "second")])
    auc, v10, v01 = _components(y, s)
    cov = _covariance(v10, v01)
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    diff = float(auc[0] - auc[1])
    se = float(np.sqrt(max(var, 0.0)))
    if se == 0.0:
        p = 1.0 if diff == 0.0 else 0.0
    else:
        p = float(2.0 * norm.sf(abs(diff) / se))
    return AUCComparison(diff, se, diff - Z_95 * se, diff + Z_95 * se, p)
