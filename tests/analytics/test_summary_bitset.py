"""The one-aggregation summary (distinct days by bitset) equals the (customer, day) grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import retento.analytics.summary as summary_mod
from retento.analytics import summarize


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 20_000
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    df = pd.DataFrame(
        {
            "cust": rng.integers(0, 2_000, n),
            "when": days + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "amount": np.round(rng.gamma(2.0, 20.0, n), 2),
        }
    )
    # Many same-day repeats, also on customers' first days.
    dup = df.sample(4_000, random_state=1).assign(amount=lambda d: d["amount"] + 1.0)
    return pd.concat([df, dup], ignore_index=True)


@pytest.mark.parametrize(
    ("calibration_end", "observation_end"),
    [
        (None, None),
        ("2024-09-30", None),
        ("2024-09-30", "2024-12-15"),
    ],
)
def test_bitset_path_equals_day_grouping(
    transactions: pd.DataFrame, calibration_end, observation_end, monkeypatch
) -> None:
    kw = {"freq": "W", "calibration_end": calibration_end, "observation_end": observation_end}
    fast = summarize(transactions, "cust", "when", "amount", **kw)
    monkeypatch.setattr(summary_mod, "_BITSET_MAX_DAYS", 0)
    slow = summarize(transactions, "cust", "when", "amount", **kw)
    assert len(fast) > 1_000
    assert (fast["frequency"] > 0).sum() > 500
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12)


def test_both_paths_refuse_a_calibration_end_after_the_observation(
    transactions: pd.DataFrame, monkeypatch
) -> None:
    """A calibration end after the observation end has no holdout (T would run past the data
    and everyone look gone): refused by the bitset path and the day grouping alike."""
    from retento.analytics.errors import SummaryInputError

    kw = {"freq": "W", "calibration_end": "2024-06-30", "observation_end": "2024-05-01"}
    with pytest.raises(SummaryInputError, match="no holdout period"):
        summarize(transactions, "cust", "when", "amount", **kw)
    monkeypatch.setattr(summary_mod, "_BITSET_MAX_DAYS", 0)
    with pytest.raises(SummaryInputError, match="no holdout period"):
        summarize(transactions, "cust", "when", "amount", **kw)
