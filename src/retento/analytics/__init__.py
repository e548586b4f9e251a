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
from retento.analytics.csi_models import ACSI_MODEL, ECSI_MODEL, CSIModelSpec
from retento.analytics.customer_value import (
    CohortMatrix,
    LoyaltyStageRules,
    ParetoCurve,
    PyramidResult,
    cohort_retention,
    loyalty_stage,
    pareto_curve,
    repeat_purchase_rate,
    retention_rate,
    rfm_scores,
    value_labels,
    value_pyramid,
)
from retento.analytics.holdout import (
    HoldoutReport,
    holdout_report,
    plot_holdout_by_frequency,
    plot_tracking,
    tracking_curves,
)
from retento.analytics.pls import BootstrapResult, PLSPMResult, fit_csi, fit_csi_higher_order
from retento.analytics.simulate import (
    simulate_bgnbd,
    simulate_gammagamma,
    simulate_paretonbd,
    simulate_transactions,
)
from retento.analytics.summary import SummaryInputError, summarize

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
    "cohort_retention",
    "loyalty_stage",
    "pareto_curve",
    "repeat_purchase_rate",
    "retention_rate",
    "rfm_scores",
    "value_labels",
    "value_pyramid",
]
