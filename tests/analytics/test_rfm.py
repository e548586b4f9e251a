"""RFM scores: hand-computed examples, ties, the transaction form and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retento.analytics import rfm_scores


def _summary(days: list[float], orders: list[float], revenue: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"days_since_last": days, "order_count": orders, "revenue": revenue})


def test_quintiles_recency_reversed_and_tied_one_timers_share_a_score():
    df = _summary([1, 10, 100, 1000, 5], [1, 1, 1, 1, 9], [10, 20, 30, 40, 50])
    out = rfm_scores(df, bins=5)
    # Recency: fewest days = 5. Ranks of -days: 1000→1, 100→2, 10→3, 5→4, 1→5.
    assert out["r"].tolist() == [5, 3, 2, 1, 4]
    # Four one-timers occupy percentiles 0-0.8, midpoint 0.4 → ceil(0.4 · 5) = 2.
    assert out["f"].tolist() == [2, 2, 2, 2, 5]
    assert out["m"].tolist() == [1, 2, 3, 4, 5]
    assert out["cell"].tolist() == ["521", "322", "223", "124", "455"]
    assert out["score"].tolist() == [8, 7, 7, 7, 14]
    assert list(out.columns) == ["r", "f", "m", "cell", "score"]


def test_equal_groups_without_ties_and_index_kept():
    df = _summary(list(range(10, 0, -1)), list(range(1, 11)), list(range(1, 11)))
    df.index = [f"c{i}" for i in range(10)]
    out = rfm_scores(df, bins=5)
    assert out.index.tolist() == df.index.tolist()
    assert out["f"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out["r"].tolist() == out["f"].tolist()  # days fall as orders rise
    quartiles = rfm_scores(df.iloc[:8], bins=4)
    assert quartiles["m"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4]


def test_configurable_bins_boundaries():
    df = _summary([4, 3, 2, 1], [1, 2, 3, 4], [5, 6, 7, 8])
    out = rfm_scores(df, bins=2)
    assert out["m"].tolist() == [1, 1, 2, 2]
    assert out["cell"].tolist() == ["111", "111", "222", "222"]
    ten = rfm_scores(df, bins=10)  # more bins than customers: midpoints 1/8, 3/8, 5/8, 7/8
    assert ten["m"].tolist() == [2, 4, 7, 9]


def test_two_digit_scores_are_separated_in_the_cell():
    n = 12
    df = _summary(list(range(n, 0, -1)), list(range(1, n + 1)), list(range(1, n + 1)))
    out = rfm_scores(df, bins=12)
    assert out["cell"].iloc[-1] == "12-12-12"
    assert out["cell"].iloc[0] == "1-1-1"
    assert out["score"].iloc[-1] == 36


def test_all_tied_and_single_customer():
    same = rfm_scores(_summary([7, 7, 7], [1, 1, 1], [9, 9, 9]))
    assert set(same["cell"]) == {"333"}  # no information: the middle score
    one = rfm_scores(_summary([3], [2], [10]))
    assert one["cell"].tolist() == ["333"]
    three = rfm_scores(_summary([1, 2, 3], [1, 2, 3], [1, 2, 3]))  # symmetric: 1, 3, 5
    assert three["m"].tolist() == [1, 3, 5] and three["r"].tolist() == [5, 3, 1]


def test_heavily_tied_population_does_not_fail_like_qcut():
    rng = np.random.default_rng(0)
    n = 10_000
    orders = np.where(rng.random(n) < 0.9, 1, rng.integers(2, 20, n))
    df = _summary(rng.integers(0, 700, n), orders, rng.gamma(2, 50, n))
    with pytest.raises(ValueError):
        pd.qcut(df["order_count"], 5, labels=False)  # what rank-based scoring avoids
    out = rfm_scores(df)
    assert set(out.loc[df["order_count"] == 1, "f"]) == {3}  # ~90 % tied, midpoint ≈ 0.45
    assert out.loc[df["order_count"] > 1, "f"].min() == 5
    assert out["r"].between(1, 5).all() and out["m"].value_counts().tolist() == [2000] * 5
    assert (out["score"] == out["r"] + out["f"] + out["m"]).all()


def test_transaction_form_derives_recency_frequency_monetary():
    tx = pd.DataFrame(
        {
            "cust": ["a", "a", "b", "c", "c", "c"],
            "when": [
                "2024-01-01",
                "2024-03-01",
                "2024-02-20",
                "2023-12-01",
                "2024-01-15",
                "2024-02-29",
            ],
            "amount": [10.0, 30.0, 100.0, 5.0, 5.0, 5.0],
        }
    )
    out = rfm_scores(
        tx, customer_col="cust", datetime_col="when", amount_col="amount", as_of="2024-03-11"
    )
    assert out.index.tolist() == ["a", "b", "c"] and out.index.name == "cust"
    assert out["recency_days"].tolist() == [10.0, 20.0, 11.0]
    assert out["frequency"].tolist() == [2, 1, 3]
    assert out["monetary"].tolist() == [40.0, 100.0, 15.0]
    assert out["r"].tolist() == [5, 1, 3]  # 3 customers over 5 bins: 1, 3, 5
    mean = rfm_scores(
        tx, customer_col="cust", datetime_col="when", amount_col="amount", monetary="mean"
    )
    assert mean["monetary"].tolist() == [20.0, 100.0, 5.0]
    assert mean.loc["a", "recency_days"] == 0.0  # default as_of: the latest purchase


def test_missing_column_and_empty_input_name_the_column():
    with pytest.raises(ValueError, match="'revenue'"):
        rfm_scores(pd.DataFrame({"days_since_last": [1], "order_count": [1]}))
    with pytest.raises(ValueError, match="'days_since_last' is empty"):
        rfm_scores(_summary([], [], []))
    with pytest.raises(ValueError, match="'amount'"):
        rfm_scores(
            pd.DataFrame({"c": [1], "d": ["2024-01-01"]}),
            customer_col="c",
            datetime_col="d",
            amount_col="amount",
        )


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        (_summary([-1, 2], [1, 1], [1, 1]), {}, "'days_since_last' has 1 negative"),
        (_summary([1, np.nan], [1, 1], [1, 1]), {}, "'days_since_last' has 1 missing"),
        (_summary([1, 2], [1, "x"], [1, 1]), {}, "'order_count' has 1 missing, non-numeric"),
        (_summary([1, 2], [1, 1], [1, 1]), {"bins": 1}, "bins must be an integer"),
        (_summary([1, 2], [1, 1], [1, 1]), {"bins": 2.5}, "bins must be an integer"),
        (_summary([1, 2], [1, 1], [1, 1]), {"monetary": "median"}, "monetary must be"),
        (_summary([1, 2], [1, 1], [1, 1]), {"customer_col": "c"}, "needs customer_col"),
    ],
)
def test_invalid_inputs(frame, kwargs, message):
    with pytest.raises(ValueError, match=message):
        rfm_scores(frame, **kwargs)


def test_as_of_before_the_last_purchase_is_rejected():
    tx = pd.DataFrame({"c": [1], "d": ["2024-05-01"], "a": [1.0]})
    with pytest.raises(ValueError, match="before the last purchase"):
        rfm_scores(tx, customer_col="c", datetime_col="d", amount_col="a", as_of="2024-01-01")
