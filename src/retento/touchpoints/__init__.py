# Churn features for scoring runs (retento.scoring.features registry).
from retento.touchpoints import churn_features as _churn_features  # noqa: E402,F401
