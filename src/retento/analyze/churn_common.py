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


def holdout_line(holdout: dict[str, Any], only_days: int | None = None) -> str:
    """The holdout's one line of plain output, in the command line's language: each metric of
    the model with the baseline's in brackets, the ROC AUC with its 95 % interval and the paired
    test of the difference; ``only_days``: the days of data after the calibration end when
    fewer than the horizon."""
    from retento.core.cli_say import say

    m, b, d = holdout["model"], holdout["baseline"], holdout["comparison"]
    low, high = m["roc_auc_ci95"]
    d_low, d_high = d["ci95"]
    values = {
        "auc": f"{m['roc_auc']:.3f}",
        "low": f"{low:.3f}",
        "high": f"{high:.3f}",
        "base_auc": f"{b['roc_auc']:.3f}",
        "diff": f"{d['roc_auc_difference']:+.3f}",
        "diff_low": f"{d_low:+.3f}",
        "diff_high": f"{d_high:+.3f}",
        "p": f"{d['p_value']:.2g}",
        "pr": f"{m['pr_auc']:.3f}",
        "base_pr": f"{b['pr_auc']:.3f}",
        "lift": f"{m['lift_at_10']:.2f}",
        "base_lift": f"{b['lift_at_10']:.2f}",
        "brier": f"{m['brier']:.4f}",
        "base_brier": f"{b['brier']:.4f}",
    }
    if only_days is not None:
        return say(
            "Holdout (only %(days)s days of data after it): ROC AUC %(auc)s (95 %% CI "
            "%(low)s-%(high)s; BG/NBD %(base_auc)s; difference %(diff)s, 95 %% CI %(diff_low)s "
            "to %(diff_high)s, p = %(p)s), PR AUC %(pr)s (%(base_pr)s), lift in top 10 %% "
            "%(lift)s (%(base_lift)s), Brier %(brier)s (%(base_brier)s)",
            days=only_days,
            **values,
        )
    return say(
        "Holdout: ROC AUC %(auc)s (95 %% CI %(low)s-%(high)s; BG/NBD %(base_auc)s; difference "
        "%(diff)s, 95 %% CI %(diff_low)s to %(diff_high)s, p = %(p)s), PR AUC %(pr)s "
        "(%(base_pr)s), lift in top 10 %% %(lift)s (%(base_lift)s), Brier %(brier)s "
        "(%(base_brier)s)",
        **values,
    )
