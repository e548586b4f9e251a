"""DeLong's standard error, interval and paired test of ROC AUCs (retento.analytics.auc),
checked against the definition computed pair by pair, scikit-learn, and by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from retento.analytics import compare_roc_auc, roc_auc_interval
from retento.analytics.auc import Z_95


def _by_definition(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and DeLong's covariance from psi(X_i, Y_j) over every (positive, negative) pair."""
    v10, v01, aucs = [], [], []
    for s in scores:
        x, z = s[y], s[~y]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        aucs.append(psi.mean())
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    m, n = int(y.sum()), int((~y).sum())
    return np.array(aucs), np.cov(np.array(v10)) / m + np.cov(np.array(v01)) / n


@pytest.fixture
def two_scores() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.random(400) < 0.35
    # Rounded to one decimal: many ties, within and across the classes.
    a = np.round(rng.normal(0.9 * y, 1.0), 1)
    b = np.round(0.6 * a + rng.normal(0.4 * y, 1.0), 1)
    return y, a, b


def test_interval_matches_the_definition_with_ties(two_scores) -> None:
    y, a, _ = two_scores
    aucs, cov = _by_definition(y, [a])
    got = roc_auc_interval(y.astype(int), a)
    assert got.auc == pytest.approx(aucs[0], abs=1e-12)
    assert got.auc == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert got.se == pytest.approx(float(np.sqrt(cov)), rel=1e-10)
    assert got.low == pytest.approx(got.auc - Z_95 * got.se)
    assert got.high == pytest.approx(got.auc + Z_95 * got.se)
    assert got.as_dict()["roc_auc_ci95"] == [got.low, got.high]


def test_paired_comparison_matches_the_definition(two_scores) -> None:
    y, a, b = two_scores
    aucs, cov = _by_definition(y, [a, b])
    got = compare_roc_auc(y, a, b)
    assert got.difference == pytest.approx(aucs[0] - aucs[1], abs=1e-12)
    assert got.se == pytest.approx(np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), rel=1e-10)
    # The scores are correlated: the paired se is smaller than if they were independent.
    assert got.se < np.sqrt(cov[0, 0] + cov[1, 1])
    from scipy.stats import norm

    assert got.p_value == pytest.approx(2 * norm.sf(abs(got.difference) / got.se))
    swapped = compare_roc_auc(y, b, a)
    assert swapped.difference == pytest.approx(-got.difference)
    assert swapped.p_value == pytest.approx(got.p_value)


def test_same_ranking_is_no_difference(two_scores) -> None:
    y, a, _ = two_scores
    got = compare_roc_auc(y, a, 3 * a + 1)  # a monotone transform ranks identically
    assert got.difference == 0.0 and got.se == pytest.approx(0.0, abs=1e-12)
    assert got.p_value == 1.0


def test_interval_is_cut_to_zero_one() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    got = roc_auc_interval(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
    assert got.auc == 1.0 and got.high == 1.0 and got.low <= 1.0


def test_interval_covers_the_true_auc_about_95_percent_of_the_time() -> None:
    # Binormal scores: negatives N(0, 1), positives N(d, 1), so AUC = Phi(d / sqrt(2)).
    from scipy.stats import norm

    d = 1.0
    truth = norm.cdf(d / np.sqrt(2))
    rng = np.random.default_rng(2024)
    reps, covered = 400, 0
    for _ in range(reps):
        y = np.r_[np.ones(120, bool), np.zeros(180, bool)]
        s = np.r_[rng.normal(d, 1, 120), rng.normal(0, 1, 180)]
        got = roc_auc_interval(y, s)
        covered += got.low <= truth <= got.high
    # 95 % nominal; with 400 repetitions the binomial sd is ~1.1 points.
    assert 0.91 <= covered / reps <= 0.98


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "both positives and negatives"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "0 and 1 only"),
        ([0, 1], [0.1], "as long as y_true"),
        ([0, 1], [0.1, float("nan")], "NaN"),
    ],
)
def test_bad_input_is_refused_with_the_reason(y, s, message) -> None:
    with pytest.raises(ValueError, match=message):
        roc_auc_interval(y, s)
