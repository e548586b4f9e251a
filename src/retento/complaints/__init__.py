"""Complaints (投诉): intake, the agent workflow with SLA clocks, remedies, follow-up, the PDCA log."""

# Churn features for scoring runs (retento.scoring.features registry).
from retento.complaints import churn_features as _churn_features  # noqa: F401

# The customer timeline's complaint entries (retento.customers.timeline registry).
from retento.complaints import timeline as _timeline  # noqa: E402,F401
