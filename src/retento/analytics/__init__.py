"""retento.analytics: customer-value, satisfaction and churn models usable on plain DataFrames.

This package never imports the rest of ``retento``, FastAPI or SQLAlchemy, so a data scientist
can use it without the web stack (a test enforces this).

Names are imported on first use (PEP 562), so importing one model - or a submodule such as
``retento.analytics.basket`` - does not load scikit-learn, matplotlib and every other model.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> submodule of retento.analytics that defines it
_LAZY: dict[str, str] = {
    "AUCComparison": "auc",
    "AUCInterval": "auc",
    "compare_roc_auc": "auc",
    "roc_auc_interval": "auc",
    "BetaGeoModel": "btyd",
    "ConvergenceError": "btyd_base",
    "GammaGammaModel": "btyd_gg",
    "ParetoNBDModel": "btyd_pnbd",
    "ModifiedBetaGeoModel": "btyd_mbg",
    "ChurnRiskModel": "churn",
    "TELCO_FEATURE_LABELS": "churn_telco",
    "TransactionLog": "churn",
    "btyd_features": "churn",
    "churn_metrics": "churn",
    "telco_features": "churn_telco",
    "CohortMatrix": "cohorts",
    "DriverAnalysis": "drivers",
    "importance_performance": "drivers",
    "RetentionRate": "cohorts",
    "cohort_retention": "cohorts",
    "repeat_purchase_rate": "cohorts",
    "retention_rate": "cohorts",
    "retention_series": "cohorts",
    "ACSI_MODEL": "csi_models",
    "CSIModelSpec": "csi_models",
    "ECSI_MODEL": "csi_models",
    "HoldoutReport": "holdout",
    "holdout_report": "holdout",
    "plot_holdout_by_frequency": "holdout",
    "plot_tracking": "holdout",
    "tracking_curves": "holdout",
    "LOYALTY_TYPES": "loyalty",
    "LOYALTY_TYPE_NAMES": "loyalty",
    "LoyaltyMeasure": "loyalty",
    "BootstrapResult": "pls",
    "PLSPMResult": "pls",
    "fit_csi": "pls",
    "fit_csi_higher_order": "pls",
    "ParetoCurve": "pyramid",
    "PropensityModel": "propensity",
    "lift_table": "propensity",
    "prepare_lines": "propensity",
    "propensity_features": "propensity",
    "propensity_holdout": "propensity",
    "PyramidResult": "pyramid",
    "pareto_curve": "pyramid",
    "value_labels": "pyramid",
    "value_pyramid": "pyramid",
    "rfm_scores": "rfm",
    "NextItemRecommender": "next_item",
    "PurchaseSequences": "sequences",
    "evaluate_next_item": "next_item",
    "frequent_sequences": "sequences",
    "CustomerSegmentation": "segments",
    "segment_features": "segments",
    "simulate_bgnbd": "simulate",
    "simulate_gammagamma": "simulate",
    "simulate_paretonbd": "simulate",
    "simulate_transactions": "simulate",
    "LoyaltyStageRules": "stages",
    "loyalty_stage": "stages",
    "SummaryInputError": "errors",
    "summarize": "summary",
    "IncrementalRevenue": "uplift",
    "QiniCurve": "uplift",
    "UpliftEstimate": "uplift",
    "assign_treatment": "uplift",
    "auuc": "uplift",
    "incremental_revenue": "uplift",
    "qini_coefficient": "uplift",
    "qini_curve": "uplift",
    "uplift_at_k": "uplift",
    "uplift_curve": "uplift",
    "uplift_estimate": "uplift",
    "LOYALTY_STAGES": "value",
    "PYRAMID_CLASSES": "value",
    "VALUE_LABELS": "value",
    "ForecastInputError": "forecast",
    "ForecastResult": "forecast",
    "forecast_errors": "forecast",
    "forecast_kpi": "forecast",
    "make_series": "forecast",
    "seasonal_naive": "forecast",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
