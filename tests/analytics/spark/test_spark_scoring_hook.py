"""RETENTO_SCORING_ENGINE=spark: the scoring run's holdout summary is computed by Spark."""

from __future__ import annotations

import pandas as pd
import pytest

from retento import analytics as A
from retento.analytics import spark as S
from retento.core.config import get_settings
from retento.scoring import compute


def test_scoring_engine_setting_selects_spark(spark, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTO_SCORING_ENGINE", "spark")
    get_settings.cache_clear()
    try:
        assert compute._summarizer() is S.summarize
    finally:
        monkeypatch.delenv("RETENTO_SCORING_ENGINE")
        get_settings.cache_clear()
    assert compute._summarizer() is A.summarize
    # The scoring run hands it a DataFrame with datetime64 dates (several purchases a day).
    tx = A.simulate_transactions(300, 0.9, 20.0, 0.6, 8.0, seed=5, observation_days=200)
    kw = {"freq": "W", "calibration_end": "2024-05-01", "observation_end": "2024-07-01"}
    ref = A.summarize(tx, "customer_id", "date", "amount", **kw)
    got = S.summarize(tx, "customer_id", "date", "amount", spark=spark, **kw)
    pd.testing.assert_frame_equal(got, ref, check_exact=False, rtol=1e-12, atol=1e-12)
