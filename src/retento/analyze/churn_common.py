"""What the churn command writes, shared by its DuckDB path (``cli``) and its Spark path
(``spark_cli``): the score columns, the BTYD-only baseline metrics and the test of the
difference between the two."""

from __future__ import annotations

from typing import Any

SCORE_COLUMNS = [
    "churn_risk",
    "reason_1",
    "reason_2",
    "reason_3",
    "reason_code_1",
    "reason_code_2",
    "reason_code_3",
    "days_since_last",
    "purchases",
    "median_gap_days",
    "tenure_days",
    "spend_total",
    "p_alive_mbgnbd",
    "p_alive_bgnbd",
    "expected_purchases_bgnbd",
    "p_no_purchase_bgnbd",
    "units_per_order",  # with --quantity-col
]


def baseline_metrics(y: Any, scores: Any, churn_metrics: Any) -> dict[str, Any]:
    """BTYD-only baseline: BG/NBD's probability of no purchase in the horizon, and the ROC AUC
    of ranking by its expected purchases."""
    from sklearn.metrics import roc_auc_score

    out = churn_metrics(y, scores["p_no_purchase_bgnbd"].fillna(1.0))
    out["model"] = "BG/NBD"
    out["score"] = "probability of no purchase in the horizon"
    out["expected_purchases_roc_auc"] = float(
        roc_auc_score(y, -scores["expected_purchases_bgnbd"].fillna(0.0))
    )
    return out


def holdout_metrics(y: Any, scores: Any, churn_metrics: Any) -> dict[str, Any]:
    """The holdout's ``model`` and ``baseline`` metrics, and ``comparison``: DeLong's paired
    test of the model's ROC AUC against the baseline's on the same customers (difference,
    standard error, 95 % interval, p-value)."""
    from retento.analytics.auc import compare_roc_auc

    baseline = scores["p_no_purchase_bgnbd"].fillna(1.0)
    return {
        "model": churn_metrics(y, scores["churn_risk"]),
        "baseline": baseline_metrics(y, scores, churn_metrics),
        "comparison": compare_roc_auc(y, scores["churn_risk"], baseline).as_dict(),
    }


def holdout_line(holdout: dict[str, Any], note: str = "") -> str:
    """The holdout's one line of plain output: each metric of the model with the baseline's in
    brackets, the ROC AUC with its 95 % interval and the paired test of the difference."""
    m, b, d = holdout["model"], holdout["baseline"], holdout["comparison"]
    low, high = m["roc_auc_ci95"]
    d_low, d_high = d["ci95"]
    return (
        f"Holdout{note}: ROC AUC {m['roc_auc']:.3f} (95 % CI {low:.3f}-{high:.3f}; BG/NBD "
        f"{b['roc_auc']:.3f}; difference {d['roc_auc_difference']:+.3f}, 95 % CI "
        f"{d_low:+.3f} to {d_high:+.3f}, p = {d['p_value']:.2g}), PR AUC {m['pr_auc']:.3f} "
        f"({b['pr_auc']:.3f}), lift in top 10 % {m['lift_at_10']:.2f} "
        f"({b['lift_at_10']:.2f}), Brier {m['brier']:.4f} ({b['brier']:.4f})"
    )
