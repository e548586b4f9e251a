"""retento.analytics: customer-value, satisfaction and churn models usable on plain DataFrames.

This package never imports the rest of ``retento``, FastAPI or SQLAlchemy, so a data scientist
can use it without the web stack (a test enforces this).
"""

from retento.analytics.btyd import (
    BetaGeoModel,
    ConvergenceError,
    GammaGammaModel,
    ParetoNBDModel,
)
from retento.analytics.btyd_mbg import ModifiedBetaGeoModel
from retento.analytics.churn import (
    TELCO_FEATURE_LABELS,
    ChurnRiskModel,
    TransactionLog,
    btyd_features,
    churn_metrics,
    telco_features,
)
from retento.analytics.cohorts import (
    CohortMatrix,
    RetentionRate,
    cohort_retention,
    repeat_purchase_rate,
    retention_rate,
    retention_series,
)
from retento.analytics.csi_models import ACSI_MODEL, ECSI_MODEL, CSIModelSpec
from retento.analytics.holdout import (
    HoldoutReport,
    holdout_report,
    plot_holdout_by_frequency,
    plot_tracking,
    tracking_curves,
)
from retento.analytics.loyalty import (
    LOYALTY_TYPE_NAMES,
    LOYALTY_TYPES,
    LoyaltyMeasure,
)
from retento.analytics.pls import BootstrapResult, PLSPMResult, fit_csi, fit_csi_higher_order
from retento.analytics.pyramid import (
    ParetoCurve,
    PyramidResult,
    pareto_curve,
    value_labels,
    value_pyramid,
)
from retento.analytics.rfm import rfm_scores
from retento.analytics.simulate import (
    simulate_bgnbd,
    simulate_gammagamma,
    simulate_paretonbd,
    simulate_transactions,
)
from retento.analytics.stages import LoyaltyStageRules, loyalty_stage
from retento.analytics.summary import SummaryInputError, summarize
from retento.analytics.uplift import (
    IncrementalRevenue,
    QiniCurve,
    UpliftEstimate,
    assign_treatment,
    auuc,
    incremental_revenue,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
    uplift_estimate,
)
from retento.analytics.value import LOYALTY_STAGES, PYRAMID_CLASSES, VALUE_LABELS

__all__: list[str] = []
__all__ += [
    "ACSI_MODEL",
    "BootstrapResult",
    "CSIModelSpec",
    "ECSI_MODEL",
    "PLSPMResult",
    "fit_csi",
    "fit_csi_higher_order",
]
__all__ += [
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "HoldoutReport",
    "ParetoNBDModel",
    "SummaryInputError",
    "holdout_report",
    "plot_holdout_by_frequency",
    "plot_tracking",
    "simulate_bgnbd",
    "simulate_gammagamma",
    "simulate_paretonbd",
    "simulate_transactions",
    "summarize",
    "tracking_curves",
]
__all__ += [
    "CohortMatrix",
    "LoyaltyStageRules",
    "ParetoCurve",
    "PyramidResult",
    "LOYALTY_STAGES",
    "PYRAMID_CLASSES",
    "RetentionRate",
    "VALUE_LABELS",
    "cohort_retention",
    "loyalty_stage",
    "pareto_curve",
    "repeat_purchase_rate",
    "retention_rate",
    "retention_series",
    "rfm_scores",
    "value_labels",
    "value_pyramid",
]
__all__ += ["LOYALTY_TYPES", "LOYALTY_TYPE_NAMES", "LoyaltyMeasure"]
__all__ += [
    "ChurnRiskModel",
    "ModifiedBetaGeoModel",
    "TELCO_FEATURE_LABELS",
    "TransactionLog",
    "btyd_features",
    "churn_metrics",
    "telco_features",
]
__all__ += [
    "IncrementalRevenue",
    "QiniCurve",
    "UpliftEstimate",
    "assign_treatment",
    "auuc",
    "incremental_revenue",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_k",
    "uplift_curve",
    "uplift_estimate",
]
