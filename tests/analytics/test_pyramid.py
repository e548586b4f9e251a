"""Value pyramid, Pareto curve and MVC/MGC/BZ labels: hand-computed boundaries, ties, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from retento.analytics import pareto_curve, value_labels, value_pyramid


def _ids(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


# --- value pyramid ----------------------------------------------------------------------------


def test_pyramid_classes_and_summary_by_hand():
    profit = pd.Series([100.0, 90, 80, 70] + [10.0] * 14 + [0.0, -5.0], index=_ids(20))
    res = value_pyramid(profit)
    cls = res.classes
    assert cls.name == "value_class" and cls.index.tolist() == profit.index.tolist()
    assert cls["c0"] == "vip"  # quota ⌊0.05 · 20⌋ = 1
    assert cls[["c1", "c2", "c3"]].tolist() == ["major"] * 3  # ranks 2..⌊0.20 · 20⌋ = 4
    assert set(cls.iloc[4:18]) == {"ordinary"}
    assert cls["c18"] == "small" and cls["c19"] == "below_zero"

    s = res.summary
    assert s.index.tolist() == ["vip", "major", "ordinary", "small", "below_zero"]
    assert s["customers"].tolist() == [1, 3, 14, 1, 1]
    assert s["customer_share"].tolist() == pytest.approx([0.05, 0.15, 0.70, 0.05, 0.05])
    assert s["rule_share"].iloc[:3].tolist() == pytest.approx([0.05, 0.15, 0.80])
    assert s["rule_share"].iloc[3:].isna().all()
    assert s["profit"].tolist() == [100.0, 240.0, 140.0, 0.0, -5.0]
    assert res.total_profit == 475.0
    assert s["profit_share"].tolist() == pytest.approx(
        [100 / 475, 240 / 475, 140 / 475, 0.0, -5 / 475]
    )
    assert s["profit_share"].sum() == pytest.approx(1.0)
    assert s["reference_profit_share"].iloc[:3].tolist() == [0.5, 0.3, 0.2]
    assert s.loc["major", "min_profit"] == 70 and s.loc["major", "max_profit"] == 90
    assert res.small_threshold == 0.0 and res.cutoffs == (0.05, 0.15, 0.80)


def test_pyramid_exact_rank_boundaries():
    profit = np.arange(40, 0, -1, dtype=float)  # 40 distinct: VIP = 2, major = next 6
    cls = value_pyramid(profit).classes.tolist()
    assert cls[:2] == ["vip", "vip"] and cls[2] == "major"
    assert cls[7] == "major" and cls[8] == "ordinary" and cls[-1] == "ordinary"


def test_pyramid_ties_stay_together_where_most_of_the_group_falls():
    # Ranks 4-6 tied (midpoint 5 > major quota 4): the whole group is ordinary.
    later = value_pyramid([100.0, 90, 80] + [50.0] * 3 + [10.0] * 14).classes
    assert later.tolist()[:6] == ["vip", "major", "major"] + ["ordinary"] * 3
    # Ranks 3-5 tied (midpoint 4 ≤ 4): the whole group is major, one over the 15 % quota.
    sooner = value_pyramid(pd.Series([100.0, 90] + [50.0] * 3 + [10.0] * 15))
    assert sooner.classes.tolist()[:5] == ["vip"] + ["major"] * 4
    assert sooner.summary.loc["major", "customer_share"] == pytest.approx(0.20)
    # Two tied at the top straddle a quota of 1 exactly in half: the lower class.
    top = value_pyramid([50.0, 50.0] + list(range(30, 12, -1))).classes
    assert top.tolist()[:2] == ["major", "major"] and (top == "vip").sum() == 0


def test_pyramid_small_threshold_absolute_and_relative_to_mean():
    profit = [100.0, 2.0, 1.0, 0.5, 0.0, -1.0]  # mean 102.5 / 6
    res = value_pyramid(profit, small_threshold=1.0)
    assert res.classes.tolist() == ["major", "ordinary", "small", "small", "small", "below_zero"]
    rel = value_pyramid(profit, small_fraction_of_mean=0.1)  # threshold ≈ 1.71
    assert rel.small_threshold == pytest.approx(102.5 / 6 * 0.1)
    assert rel.classes.tolist()[1:5] == ["ordinary", "small", "small", "small"]
    both = value_pyramid(profit, small_threshold=0.75, small_fraction_of_mean=0.2)  # ≈ 3.42
    assert both.classes.tolist()[1] == "small"


def test_pyramid_cutoffs_below_one_leave_the_rest_small():
    res = value_pyramid(np.arange(10, 0, -1, dtype=float), cutoffs=(0.1, 0.2, 0.3))
    assert res.classes.tolist() == ["vip"] + ["major"] * 2 + ["ordinary"] * 3 + ["small"] * 4
    assert res.summary["rule_share"].iloc[:3].tolist() == [0.1, 0.2, 0.3]


def test_pyramid_with_negative_total_reports_no_profit_shares_and_json_is_clean():
    res = value_pyramid(pd.Series([5.0, -10.0]))
    assert res.summary["profit_share"].isna().all()
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["classes"][0]["value_class"] == "vip" and d["classes"][0]["profit_share"] is None
    assert d["customers"] == 2 and d["total_profit"] == -5.0


def test_pyramid_to_dict_records():
    d = value_pyramid([3.0, 2.0, 1.0]).to_dict()
    json.dumps(d, allow_nan=False)
    assert [r["value_class"] for r in d["classes"]] == [
        "vip",
        "major",
        "ordinary",
        "small",
        "below_zero",
    ]
    assert [r["customers"] for r in d["classes"]] == [0, 0, 3, 0, 0]
    assert d["classes"][0]["min_profit"] is None and d["cutoffs"] == [0.05, 0.15, 0.8]


@pytest.mark.parametrize(
    ("profit", "kwargs", "message"),
    [
        ([], {}, "'profit' is empty"),
        ([1.0, np.nan], {}, "'profit' has 1 missing"),
        ([1.0, np.inf], {}, "infinite"),
        ([1.0], {"cutoffs": (0.5, 0.5, 0.5)}, "cutoffs"),
        ([1.0], {"cutoffs": (0.5, 0.5)}, "cutoffs"),
        ([1.0], {"cutoffs": (-0.1, 0.5, 0.5)}, "cutoffs"),
        ([1.0], {"small_threshold": -1}, "non-negative"),
    ],
)
def test_pyramid_invalid_inputs(profit, kwargs, message):
    with pytest.raises(ValueError, match=message):
        value_pyramid(profit, **kwargs)


# --- Pareto curve -----------------------------------------------------------------------------


def test_pareto_curve_with_below_zero_tail_rises_above_one_and_returns():
    curve = pareto_curve(pd.Series([20.0, 0.0, 60.0, -10.0, 30.0]), points=6)
    assert curve.customer_share.tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve.profit_share.tolist() == pytest.approx([0, 0.6, 0.9, 1.1, 1.1, 1.0])
    assert curve.top_share(0.2) == pytest.approx(0.6)
    assert curve.top_share(0.1) == pytest.approx(0.3)  # half of the best customer
    assert curve.top_share(0.6) == pytest.approx(1.1)
    assert curve.top_share(1.0) == pytest.approx(1.0)
    assert curve.point_80 == pytest.approx(0.4)  # 60 + 30 = 90 % with 2 of 5 customers
    assert curve.point(0.6) == pytest.approx(0.2)
    assert curve.point(1.05) == pytest.approx(0.6)
    assert np.isnan(curve.point(1.2))  # above the peak
    assert curve.peak == pytest.approx((0.6, 1.1))
    assert curve.n_customers == 5 and curve.total_profit == 100.0


def test_pareto_curve_equal_customers_is_the_diagonal():
    curve = pareto_curve(np.ones(5), points=6)
    assert curve.profit_share.tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve.point_80 == pytest.approx(0.8)
    assert pareto_curve(np.ones(4)).point_80 == 1.0  # whole customers: 3 of 4 give only 75 %
    d = curve.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["point_80"] == pytest.approx(0.8) and d["top_20_share"] == pytest.approx(0.2)
    assert d["peak_customer_share"] == 1.0 and d["customers"] == 5


def test_pareto_curve_without_positive_total_has_no_shares():
    curve = pareto_curve([5.0, -10.0])
    assert np.isnan(curve.profit_share).all()
    assert np.isnan(curve.top_share(0.5)) and np.isnan(curve.point_80)
    d = curve.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["point_80"] is None and d["profit_share"][0] is None


def test_pareto_curve_invalid_inputs():
    with pytest.raises(ValueError, match="'profit' is empty"):
        pareto_curve([])
    with pytest.raises(ValueError, match="points"):
        pareto_curve([1.0], points=1)
    curve = pareto_curve([1.0, 2.0])
    with pytest.raises(ValueError, match="x must be a share"):
        curve.top_share(1.5)
    with pytest.raises(ValueError, match="target must be positive"):
        curve.point(0)


# --- MVC / MGC / BZ ---------------------------------------------------------------------------


def test_value_labels_by_hand():
    profit = pd.Series([100.0, 90, 5, 4, 3, 2, 1, 0, -3, 1], index=_ids(10))
    clv = pd.Series([120.0, 80, 60, 1, 1, 1, 500, 1, 1, 1], index=_ids(10))
    labels = value_labels(profit, clv)
    assert labels.name == "label" and labels.index.tolist() == _ids(10)
    # c6: profit rank 7.5 (tied with c9), CLV rank 1, gap 6.5 ≥ 0.25 · 10 → MGC.
    # c2: CLV rank 4 is outside the top 20 % → other. c7: zero profit, not MVC → other.
    assert labels.tolist() == [
        "mvc",
        "mvc",
        "other",
        "other",
        "other",
        "other",
        "mgc",
        "other",
        "bz",
        "other",
    ]


def test_value_labels_rank_gap_boundary_and_shares():
    profit = [40.0, 30.0, 20.0, 10.0]
    future = [10.0, 20.0, 40.0, 30.0]
    # CLV ranks: c2 → 1, c3 → 2; profit ranks 3 and 4: gaps of exactly 2 places.
    kw = {"mvc_share": 0.25, "mgc_share": 0.5}
    assert value_labels(profit, future, min_rank_gap=0.5, **kw).tolist() == [
        "mvc",
        "other",
        "mgc",
        "mgc",
    ]
    assert set(value_labels(profit, future, min_rank_gap=0.75, **kw)[2:]) == {"other"}
    assert "mgc" not in value_labels(profit, future, mgc_share=0.0).tolist()
    assert value_labels(profit, future, mvc_share=0.5).tolist()[:2] == ["mvc", "mvc"]


def test_below_zero_takes_precedence_and_mvc_needs_positive_profit():
    labels = value_labels([0.0, 0.0, -1.0, -2.0], [1.0, 1.0, 900.0, 1.0], mvc_share=0.5)
    assert labels.tolist()[:2] == ["other", "other"]
    assert labels.tolist()[2:] == ["bz", "bz"]


def test_value_labels_align_series_on_the_index():
    profit = pd.Series([100.0, 1.0, 2.0, 3.0, 4.0], index=list("abcde"))
    future = pd.Series([1.0, 1.0, 1.0, 500.0, 90.0], index=list("bcdea"))  # e = 500, a = 90
    labels = value_labels(profit, future, mvc_share=0.2, mgc_share=0.2, min_rank_gap=0.2)
    assert labels.index.tolist() == list("abcde")
    assert labels["a"] == "mvc" and labels["e"] == "mgc"
    assert (labels[["b", "c", "d"]] == "other").all()


def test_value_labels_invalid_inputs():
    with pytest.raises(ValueError, match="same length"):
        value_labels([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="same customers"):
        value_labels(pd.Series([1.0, 2.0], index=[1, 2]), pd.Series([1.0, 2.0], index=[1, 3]))
    with pytest.raises(ValueError, match="'predicted_value' has 1 missing"):
        value_labels([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="'profit' is empty"):
        value_labels([], [])
    with pytest.raises(ValueError, match="mvc_share"):
        value_labels([1.0], [1.0], mvc_share=1.5)
