"""Holdout quality of churn probabilities: ROC AUC with its DeLong interval, PR AUC, lift in
the top 10 %, Brier score and a calibration curve (:func:`churn_metrics`).

References
----------
DeLong, E. R., DeLong, D. M. & Clarke-Pearson, D. L. (1988). Comparing the areas under two or
more correlated receiver operating characteristic curves: a nonparametric approach.
*Biometrics* 44(3), 837-845.

Brier, G. W. (1950). Verification of forecasts expressed in terms of probability. *Monthly
Weather Review* 78(1), 1-3.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["churn_metrics"]


def churn_metrics(y_true: ArrayLike, risk: ArrayLike, *, bins: int = 10) -> dict[str, Any]:
    """Holdout quality of churn probabilities.

    Returns ``roc_auc`` with its DeLong standard error ``roc_auc_se`` and 95 % interval
    ``roc_auc_ci95`` (:func:`retento.analytics.auc.roc_auc_interval`), ``pr_auc`` (average
    precision), ``lift_at_10`` (churn rate among the 10 % highest risks over the overall rate),
    ``brier`` (mean squared error of the probabilities), ``base_rate``, ``customers`` and
    ``calibration`` (per quantile bin of risk: mean predicted and observed churn rate, and the
    count).
    """
    from sklearn.metrics import average_precision_score, brier_score_loss

    from retento.analytics.auc import roc_auc_interval

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(risk, dtype=float)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError("y_true and risk must be non-empty and of equal length")
    if np.unique(y).size < 2:
        raise ValueError("the holdout needs both churners and non-churners to be evaluated")
    k = max(int(np.ceil(0.1 * len(p))), 1)
    top = np.argsort(-p, kind="stable")[:k]
    base = float(y.mean())
    order = np.argsort(p, kind="stable")
    calib = []
    for chunk in np.array_split(order, min(bins, len(p))):
        if len(chunk):
            calib.append(
                {
                    "predicted": float(p[chunk].mean()),
                    "observed": float(y[chunk].mean()),
                    "customers": int(len(chunk)),
                }
            )
    return {
        **roc_auc_interval(y, p).as_dict(),
        "pr_auc": float(average_precision_score(y, p)),
        "lift_at_10": float(y[top].mean() / base) if base > 0 else float("nan"),
        "brier": float(brier_score_loss(y, np.clip(p, 0.0, 1.0))),
        "base_rate": base,
        "customers": int(len(y)),
        "calibration": calib,
    }
