"""What the churn command writes, shared by its DuckDB path (``cli``) and its Spark path
(``spark_cli``): the score columns and the BTYD-only baseline metrics."""

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
