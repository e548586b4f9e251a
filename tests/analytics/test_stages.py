"""Loyalty stages: every rule and boundary by hand, the lapsed flag, configuration, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retento.analytics import LOYALTY_STAGES, LoyaltyStageRules, loyalty_stage


def _frame(rows: list[tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["order_count", "tenure_days", "days_since_last"])


CASES = [
    # (orders, tenure, since last) → stage, lapsed
    ((0, np.nan, np.nan), "potential", False),
    ((1, 400, 400), "new", True),  # one purchase, and lapsed (> 365 days)
    ((3, 60, 5), "new", False),  # first purchase under 90 days ago
    ((3, 89, 5), "new", False),
    ((3, 90, 10), "regular", False),  # 3 a year (tenure floored at 365 days)
    ((3, 300, 30), "regular", False),
    ((12, 900, 10), "loyal", False),  # 4.9 a year, 2.5 years, recent
    ((8, 730, 180), "loyal", False),  # exactly 4 a year, 2 years, 180 days: all boundaries met
    ((8, 730, 181), "regular", False),  # not recent enough for loyal
    ((8, 729, 10), "regular", False),  # tenure one day short of loyal
    ((12, 900, 200), "regular", False),
    ((2, 365, 365), "regular", False),  # exactly 2 a year, last purchase exactly a year ago
    ((6, 800, 366), "old", True),  # frequent on average but nothing in the last year
    ((3, 1000, 500), "old", True),  # long tenure, 1.1 a year
    ((2, 500, 100), "new", False),  # repeat customer, not frequent, not yet long-standing
]


def test_every_rule_and_boundary():
    df = _frame([row for row, _, _ in CASES])
    out = loyalty_stage(df)
    assert out["stage"].tolist() == [stage for _, stage, _ in CASES]
    assert out["lapsed"].tolist() == [lapsed for _, _, lapsed in CASES]
    assert out.index.equals(df.index)
    assert set(out["stage"]) <= set(LOYALTY_STAGES)
    assert out["per_year"].iloc[0] == 0.0 and out["per_year"].iloc[7] == pytest.approx(4.0)


def test_rules_are_configurable():
    df = _frame([(6, 800, 30), (3, 400, 200), (2, 100, 10)])
    assert loyalty_stage(df)["stage"].tolist() == ["regular", "regular", "regular"]
    custom = LoyaltyStageRules(
        loyal_per_year=2.5, long_tenure_days=365, recent_days=30, new_days=120, lapsed_days=150
    )
    out = loyalty_stage(df, custom)
    assert out["stage"].tolist() == ["loyal", "regular", "new"]
    assert out["lapsed"].tolist() == [False, True, False]


def test_recent_orders_column_replaces_the_average_rate():
    df = _frame([(30, 1500, 20), (30, 1500, 20), (3, 200, 20)]).assign(last_year=[1, 6, 3])
    out = loyalty_stage(df, recent_orders_col="last_year")
    assert out["stage"].tolist() == ["old", "loyal", "regular"]
    assert out["per_year"].tolist() == [1.0, 6.0, 3.0]
    half = LoyaltyStageRules(frequency_window_days=182.5)  # counts over half a year, doubled
    assert loyalty_stage(df, half, recent_orders_col="last_year")["per_year"].tolist() == [
        2.0,
        12.0,
        6.0,
    ]


def test_custom_column_names_and_missing_order_count_is_potential():
    df = pd.DataFrame({"n": [np.nan, 2], "age": [np.nan, 400], "idle": [np.nan, 20]})
    out = loyalty_stage(df, order_count_col="n", tenure_col="age", since_last_col="idle")
    assert out["stage"].tolist() == ["potential", "new"]


def test_missing_column_empty_and_bad_values_are_named():
    with pytest.raises(ValueError, match="'tenure_days' not found"):
        loyalty_stage(pd.DataFrame({"order_count": [1], "days_since_last": [1]}))
    with pytest.raises(ValueError, match="'order_count' is empty"):
        loyalty_stage(_frame([]))
    with pytest.raises(ValueError, match="'tenure_days' is missing"):
        loyalty_stage(_frame([(2, np.nan, 3)]))
    with pytest.raises(ValueError, match="'days_since_last' has negative"):
        loyalty_stage(_frame([(2, 10, -3)]))
    with pytest.raises(ValueError, match="'order_count' has 1 negative"):
        loyalty_stage(_frame([(-1, 10, 3)]))
    with pytest.raises(ValueError, match="'last_year' not found"):
        loyalty_stage(_frame([(1, 1, 1)]), recent_orders_col="last_year")


def test_rules_are_validated():
    with pytest.raises(ValueError, match="new_days"):
        LoyaltyStageRules(new_days=-1)
    with pytest.raises(ValueError, match="frequency_window_days"):
        LoyaltyStageRules(frequency_window_days=0)


def test_a_million_customers_is_vectorised():
    rng = np.random.default_rng(1)
    n = 1_000_000
    orders = rng.poisson(3, n)
    tenure = rng.uniform(0, 2000, n)
    df = pd.DataFrame(
        {
            "order_count": orders,
            "tenure_days": np.where(orders > 0, tenure, np.nan),
            "days_since_last": np.where(orders > 0, rng.uniform(0, 1, n) * tenure, np.nan),
        }
    )
    out = loyalty_stage(df)
    assert len(out) == n and set(out["stage"]) == set(LOYALTY_STAGES)
    assert (out["stage"] == "potential").sum() == (orders == 0).sum()
    assert not out.loc[out["stage"] == "loyal", "lapsed"].any()
