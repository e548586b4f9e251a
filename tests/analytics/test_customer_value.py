from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retento.analytics import (
    LoyaltyStageRules,
    cohort_retention,
    loyalty_stage,
    pareto_curve,
    repeat_purchase_rate,
    retention_rate,
    rfm_scores,
    value_labels,
    value_pyramid,
)


def test_rfm_scores_ranks_with_ties_and_recency_reversed():
    df = pd.DataFrame(
        {
            "days_since_last": [1, 10, 100, 1000, 5],
            "order_count": [1, 1, 1, 1, 9],
            "revenue": [10, 20, 30, 40, 50],
        }
    )
    out = rfm_scores(df, bins=5)
    assert out["r"].tolist() == [5, 3, 2, 1, 4]
    assert out["f"].tolist() == [3, 3, 3, 3, 5]  # four tied one-timers share a score
    assert out["m"].tolist() == [1, 2, 3, 4, 5]
    assert out.loc[4, "cell"] == "455" and out.loc[4, "score"] == 14


def test_rfm_missing_column_and_empty_are_named():
    with pytest.raises(ValueError, match="revenue"):
        rfm_scores(pd.DataFrame({"days_since_last": [1], "order_count": [1]}))
    with pytest.raises(ValueError, match="empty|no rows"):
        rfm_scores(pd.DataFrame({"days_since_last": [], "order_count": [], "revenue": []}))


def test_pyramid_boundaries_small_and_below_zero():
    profit = pd.Series([100.0, 50, 40, 30, 20, 10, 5, 0, -5, -20] * 2, index=range(20))
    res = value_pyramid(profit)
    cls = res.classes
    assert cls[profit.idxmax()] == "vip" and (cls == "vip").sum() == 1  # 5 % of 20
    assert (cls == "major").sum() == 3  # next 15 %
    assert set(cls[profit == 0]) == {"small"}
    assert set(cls[profit < 0]) == {"below_zero"}
    s = res.summary
    assert s.loc["vip", "customers"] == 1
    assert sum(float(v) for v in s["profit_share"]) == pytest.approx(1.0)
    assert s.loc["below_zero", "profit_share"] < 0
    assert res.to_dict()["classes"][0]["value_class"] == "vip"


def test_pyramid_shares_on_a_heavy_tailed_population():
    rng = np.random.default_rng(3)
    profit = pd.Series(rng.pareto(1.2, 100_000) * 10)
    res = value_pyramid(profit)
    s = res.summary
    assert s.loc["vip", "customer_share"] == pytest.approx(0.05, abs=1e-4)
    assert s.loc["major", "customer_share"] == pytest.approx(0.15, abs=1e-4)
    assert s.loc["vip", "profit_share"] > s.loc["major", "profit_share"] > 0.15
    assert sum(float(v) for v in s["profit_share"]) == pytest.approx(1.0)


def test_pareto_curve_top_share_and_80_point_with_negative_tail():
    curve = pareto_curve([60.0, 30, 20, 0, -10])
    assert curve.top_share(0.2) == pytest.approx(0.6)
    assert curve.top_share(0.6) == pytest.approx(1.1)  # above 100 % before the below-zero tail
    assert curve.point(0.8) == pytest.approx(0.4)
    assert curve.profit_share[-1] == pytest.approx(1.0) and curve.profit_share[0] == 0


def test_value_labels_mvc_mgc_bz():
    profit = pd.Series([100.0, 90, 5, 4, 3, 2, 1, 0, -3, 1])
    clv = pd.Series([120.0, 80, 60, 1, 1, 1, 500, 1, 1, 1])
    labels = value_labels(profit, clv)
    assert labels[0] == "mvc" and labels[1] == "mvc"
    assert labels[6] == "mgc"  # little profit today, the highest predicted value
    assert labels[2] == "other"  # third by profit and by CLV: no growth gap
    assert labels[8] == "bz"


def test_loyalty_stages_and_lapsed_flag():
    df = pd.DataFrame(
        {
            "order_count": [0, 1, 3, 12, 3, 6],
            "tenure_days": [0, 400, 300, 900, 1000, 800],
            "days_since_last": [np.nan, 20, 30, 10, 500, 30],
        }
    )
    out = loyalty_stage(df)
    assert out["stage"].tolist() == ["potential", "new", "regular", "loyal", "old", "regular"]
    assert out["lapsed"].tolist() == [False, False, False, False, True, False]
    strict = loyalty_stage(df, LoyaltyStageRules(loyal_per_year=2.5))
    assert strict["stage"][5] == "loyal"


def test_cohort_retention_matrix_and_rates():
    tx = pd.DataFrame(
        {
            "c": [1, 1, 2, 2, 3, 3, 4],
            "d": [
                "2024-01-05",
                "2024-02-01",
                "2024-01-20",
                "2024-03-03",
                "2024-02-10",
                "2024-03-01",
                "2024-03-15",
            ],
        }
    )
    m = cohort_retention(tx, "c", "d", period="M")
    assert m.sizes.to_dict() == {"2024-01": 2, "2024-02": 1, "2024-03": 1}
    assert m.shares.loc["2024-01", 1] == pytest.approx(0.5) and m.shares.loc[
        "2024-01", 2
    ] == pytest.approx(0.5)
    assert m.shares.loc["2024-02", 1] == pytest.approx(1.0)
    assert np.isnan(m.shares.loc["2024-03", 1])
    assert repeat_purchase_rate([0, 1, 2, 5]) == pytest.approx(2 / 3)
    rates = retention_rate(tx, "c", "d", period="M")
    assert rates["2024-02"] == pytest.approx(0.5) and rates["2024-03"] == pytest.approx(0.5)
