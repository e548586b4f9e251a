"""Satisfaction (客户满意度): surveys on four channels, CSAT / NPS / CES, c = b/a and the CSI."""

# Churn features for scoring runs (retento.scoring.features registry).
from retento.surveys import churn_features as _churn_features  # noqa: E402,F401

# The customer timeline's survey entries (retento.customers.timeline registry).
from retento.surveys import timeline as _timeline  # noqa: E402,F401
