"""Cohort retention, repeat-purchase and retention rates on hand-computed transaction logs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from retento.analytics import (
    cohort_retention,
    repeat_purchase_rate,
    retention_rate,
    retention_series,
)


def _tx() -> pd.DataFrame:
    # Customer 1: Jan, Feb (twice). 2: Jan, Mar. 3: Feb, Mar. 4: Mar.
    return pd.DataFrame(
        {
            "c": [1, 1, 1, 2, 2, 3, 3, 4],
            "d": pd.to_datetime(
                [
                    "2024-01-05",
                    "2024-02-01",
                    "2024-02-20",
                    "2024-01-20",
                    "2024-03-03",
                    "2024-02-10",
                    "2024-03-01",
                    "2024-03-15",
                ]
            ),
        }
    )


# --- cohort matrix ----------------------------------------------------------------------------


def test_cohort_matrix_shares_counts_and_unobserved_cells():
    m = cohort_retention(_tx(), "c", "d")
    assert m.sizes.to_dict() == {"2024-01": 2, "2024-02": 1, "2024-03": 1}
    assert m.counts.to_numpy().tolist() == [[2, 1, 1], [1, 1, 0], [1, 0, 0]]
    assert m.counts.columns.tolist() == [0, 1, 2]
    shares = m.shares.to_numpy()
    assert shares[0].tolist() == [1.0, 0.5, 0.5]
    assert shares[1, :2].tolist() == [1.0, 1.0] and np.isnan(shares[1, 2])
    assert shares[2, 0] == 1.0 and np.isnan(shares[2, 1:]).all()
    # Size-weighted curve: age 1 = (1 + 1) / (2 + 1), age 2 = 1 / 2.
    assert m.curve().tolist() == pytest.approx([1.0, 2 / 3, 0.5])
    d = m.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["cohorts"] == ["2024-01", "2024-02", "2024-03"] and d["periods"] == [0, 1, 2]
    assert d["shares"][1] == [1.0, 1.0, None] and d["sizes"] == [2, 1, 1]


def test_cohort_end_extends_or_cuts_the_observation():
    later = cohort_retention(_tx(), "c", "d", end="2024-04-30")
    assert later.counts.columns.tolist() == [0, 1, 2, 3]
    feb = later.shares.loc["2024-02"]
    assert feb.iloc[:3].tolist() == [1.0, 1.0, 0.0] and np.isnan(feb.iloc[3])
    assert later.shares.loc["2024-03"].tolist()[:2] == [1.0, 0.0]
    cut = cohort_retention(_tx(), "c", "d", end="2024-02-15")
    assert cut.sizes.to_dict() == {"2024-01": 2, "2024-02": 1}
    assert cut.shares.loc["2024-01"].tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="no purchase"):
        cohort_retention(_tx(), "c", "d", end="2023-12-31")


def test_cohort_other_periods():
    q = cohort_retention(_tx(), "c", "d", period="Q")
    assert q.sizes.to_dict() == {"2024Q1": 4} and q.shares.columns.tolist() == [0]
    w = cohort_retention(_tx().iloc[:3], "c", "d", period="W")
    assert w.sizes.tolist() == [1] and w.counts.iloc[0].tolist() == [1, 0, 0, 0, 1, 0, 0, 1]


def test_cohort_errors_name_the_column():
    with pytest.raises(ValueError, match="'when' not found"):
        cohort_retention(_tx(), "c", "when")
    with pytest.raises(ValueError, match="'c' is empty"):
        cohort_retention(_tx().iloc[:0], "c", "d")
    with pytest.raises(ValueError, match="period must be one of"):
        cohort_retention(_tx(), "c", "d", period="fortnight")
    bad = _tx().assign(d=["2024-01-01", None] + ["2024-02-01"] * 6)
    with pytest.raises(ValueError, match="'d' has 1 missing date"):
        cohort_retention(bad, "c", "d")
    with pytest.raises(ValueError, match="'d' has values that are not dates"):
        cohort_retention(_tx().assign(d="soon"), "c", "d")
    with pytest.raises(ValueError, match="'c' has 1 missing customer id"):
        cohort_retention(_tx().assign(c=[1, None, 1, 2, 2, 3, 3, 4]), "c", "d")


# --- repeat-purchase rate ---------------------------------------------------------------------


def test_repeat_purchase_rate_from_order_counts():
    assert repeat_purchase_rate([0, 1, 2, 5]) == pytest.approx(2 / 3)  # non-buyers excluded
    assert repeat_purchase_rate(pd.Series([0, 1, 2, 5]), min_purchases=3) == pytest.approx(1 / 3)
    assert np.isnan(repeat_purchase_rate([0, 0]))


def test_repeat_purchase_rate_from_transactions_windows_and_speed_of_return():
    tx = _tx()
    assert repeat_purchase_rate(tx, "c", "d") == pytest.approx(3 / 4)
    # Feb and March only: 1 (Feb ×2) and 3 (Feb, Mar) repeat; 2 and 4 bought once.
    assert repeat_purchase_rate(tx, "c", "d", start="2024-02-01", end="2024-04-01") == 0.5
    # Second purchase within 20 days of the first: only customer 3 (exactly 20 days).
    assert repeat_purchase_rate(tx, "c", "d", within_days=20) == pytest.approx(1 / 4)
    assert repeat_purchase_rate(tx, "c", "d", within_days=19) == 0.0
    assert repeat_purchase_rate(tx, "c", "d", within_days=27) == pytest.approx(2 / 4)
    assert repeat_purchase_rate(tx, "c", "d", min_purchases=3) == pytest.approx(1 / 4)
    assert np.isnan(repeat_purchase_rate(tx, "c", "d", start="2025-01-01"))


def test_repeat_purchase_rate_same_day_merge():
    tx = pd.DataFrame({"c": [1, 1, 2], "d": ["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-02"]})
    assert repeat_purchase_rate(tx, "c", "d") == 0.5
    assert repeat_purchase_rate(tx, "c", "d", merge_same_day=True) == 0.0


def test_repeat_purchase_rate_errors():
    with pytest.raises(ValueError, match="'order_counts' is empty"):
        repeat_purchase_rate([])
    with pytest.raises(ValueError, match="customer_col"):
        repeat_purchase_rate(_tx())
    with pytest.raises(ValueError, match="need transactions"):
        repeat_purchase_rate([1, 2], within_days=30)
    with pytest.raises(ValueError, match="min_purchases"):
        repeat_purchase_rate([1, 2], min_purchases=1)
    with pytest.raises(ValueError, match="'d' not found"):
        repeat_purchase_rate(pd.DataFrame({"c": [1]}), "c", "d")


# --- retention rate ---------------------------------------------------------------------------


def test_retention_rate_between_two_windows():
    tx = _tx()
    march = retention_rate(tx, "c", "d", "2024-03-01", "2024-04-01", previous_start="2024-02-01")
    # Active in February: 1 and 3; in March: 2, 3, 4 → 1 retained of 2.
    assert (march.rate, march.retained, march.base) == (0.5, 1, 2)
    assert march.previous_start == pd.Timestamp("2024-02-01")
    feb = retention_rate(tx, "c", "d", "2024-02-01", "2024-03-01")  # previous: 29 days before
    assert feb.previous_start == pd.Timestamp("2024-01-03")
    assert (feb.rate, feb.retained, feb.base) == (0.5, 1, 2)
    empty = retention_rate(tx, "c", "d", "2025-01-01", "2025-02-01")
    assert np.isnan(empty.rate) and empty.base == 0


def test_retention_rate_is_time_zone_aware_in_utc():
    utc = pd.to_datetime(["2024-01-31 23:30", "2024-01-31 22:30", "2024-02-10 12:00"], utc=True)
    tx = pd.DataFrame({"c": [1, 2, 2], "d": utc})
    # Midnight at UTC+1 is 23:00 UTC: customer 1 (23:30 UTC) is in the current window.
    res = retention_rate(tx, "c", "d", "2024-02-01T00:00+01:00", "2024-03-01")
    assert res.period_start == pd.Timestamp("2024-01-31 23:00")
    assert (res.base, res.retained) == (1, 1)


def test_retention_rate_errors():
    with pytest.raises(ValueError, match="must be after"):
        retention_rate(_tx(), "c", "d", "2024-03-01", "2024-03-01")
    with pytest.raises(ValueError, match="previous_start"):
        retention_rate(_tx(), "c", "d", "2024-03-01", "2024-04-01", previous_start="2024-03-05")
    with pytest.raises(ValueError, match="period_start is not a date"):
        retention_rate(_tx(), "c", "d", "someday", "2024-04-01")
    with pytest.raises(ValueError, match="'c' is empty"):
        retention_rate(_tx().iloc[:0], "c", "d", "2024-03-01", "2024-04-01")


def test_retention_series_per_period_with_gaps():
    s = retention_series(_tx(), "c", "d", period="M")
    assert s.index.tolist() == ["2024-02", "2024-03"]
    assert s["base"].tolist() == [2, 2] and s["retained"].tolist() == [1, 1]
    assert s["rate"].tolist() == [0.5, 0.5]
    # Same figure as the explicit calendar windows.
    assert (
        s.loc["2024-03", "rate"]
        == retention_rate(
            _tx(), "c", "d", "2024-03-01", "2024-04-01", previous_start="2024-02-01"
        ).rate
    )
    gaps = pd.DataFrame(
        {"c": [1, 2, 1, 2], "d": ["2020-05-01", "2020-06-01", "2022-01-01", "2023-01-01"]}
    )
    y = retention_series(gaps, "c", "d")
    assert y.index.tolist() == ["2021", "2022", "2023"]
    assert y["base"].tolist() == [2, 0, 1] and y["retained"].tolist() == [0, 0, 0]
    assert y["rate"].iloc[0] == 0.0 and np.isnan(y["rate"].iloc[1])
    assert retention_series(_tx(), "c", "d", period="Y").empty
