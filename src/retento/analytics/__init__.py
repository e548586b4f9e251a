"""retento.analytics: customer-value, satisfaction and churn models usable on plain DataFrames.

This package never imports the rest of ``retento``, FastAPI or SQLAlchemy, so a data scientist
can use it without the web stack (a test enforces this).
"""

from retento.analytics.csi_models import ACSI_MODEL, ECSI_MODEL, CSIModelSpec
from retento.analytics.pls import BootstrapResult, PLSPMResult, fit_csi, fit_csi_higher_order

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
