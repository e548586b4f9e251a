"""LoyaltyMeasure: every rule of the decision table on hand-made customers, the index and its
weights, the satisfaction trap, edge cases and the scikit-learn estimator contract."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from retento.analytics import LOYALTY_TYPES, LoyaltyMeasure

# A steady customer: 12 purchases every 28 days, the last 10 days ago (behaviour is high).
STEADY = {
    "n_orders": 12,
    "days_since_first_order": 318,
    "days_since_last_order": 10,
    "median_gap_days": 28,
    "orders_recent": 3,
    "segment": "consumer",
}
# Its segment peers: a spread of rates around the steady customer, so it sits at the median.
PEERS = [
    {
        "n_orders": 24,
        "days_since_first_order": 318,
        "days_since_last_order": 5,
        "segment": "consumer",
    },
    {
        "n_orders": 6,
        "days_since_first_order": 318,
        "days_since_last_order": 40,
        "segment": "consumer",
    },
]


def score(*customers: dict, **params) -> pd.DataFrame:
    """Fit on the customers plus the peers, return the customers' rows."""
    rows = [*customers, *PEERS]
    X = pd.DataFrame(rows, index=[f"c{i}" for i in range(len(rows))])
    out = LoyaltyMeasure(**params).fit_transform(X)
    return out.iloc[: len(customers)]


def one(customer: dict, **params) -> pd.Series:
    return score(customer, **params).iloc[0]


# --- the decision table ------------------------------------------------------------------------


def test_r1_trust_high_behaviour_and_high_attitude():
    r = one({**STEADY, "satisfaction": 5, "recommend": 9, "repurchase_intent": 5})
    assert (r.loyalty_type, r.rule) == ("trust", "R1")
    assert r.behaviour_high and r.attitude_high
    assert "buys every 4 weeks (12 purchases)" in r.reason_en
    assert "rated satisfaction 5/5" in r.reason_en and "would recommend 9/10" in r.reason_en
    assert r.reason_en.endswith("trust loyalty")
    assert "信赖忠诚" in r.reason_zh and "每 4 周购买一次" in r.reason_zh


def test_trust_wins_over_every_context():
    r = one(
        {
            **STEADY,
            "satisfaction": 5,
            "no_alternative": True,
            "affiliated": True,
            "discount_share": 1.0,
        }
    )
    assert r.loyalty_type == "trust"


def test_r2_monopoly_when_there_is_no_alternative():
    r = one({**STEADY, "satisfaction": 2, "no_alternative": "yes", "affiliated": True})
    assert (r.loyalty_type, r.rule) == ("monopoly", "R2")
    assert "has no alternative supplier" in r.reason_en and "垄断忠诚" in r.reason_zh


def test_r3_kinship_when_affiliated():
    r = one({**STEADY, "satisfaction": 2, "affiliated": "是", "discount_share": 0.9})
    assert (r.loyalty_type, r.rule) == ("kinship", "R3")
    assert "affiliated" in r.reason_en and "亲缘忠诚" in r.reason_zh


def test_r4_interest_when_price_sensitive():
    r = one({**STEADY, "satisfaction": 3, "discount_share": 0.8, "points_redeemed_share": 0.6})
    assert (r.loyalty_type, r.rule) == ("interest", "R4")
    assert r.price_sensitivity == pytest.approx(0.7)
    assert "uses discounts on 80 % of orders" in r.reason_en
    assert "has redeemed 60 % of earned points" in r.reason_en
    assert "利益忠诚" in r.reason_zh


def test_r5a_inertia_held_by_switching_cost():
    r = one(
        {
            **STEADY,
            "satisfaction": 2,
            "discount_share": 0.05,
            "tier_rank": 1.0,
            "tier_name": "Gold",
            "tenure_days": 6 * 365.25,
        }
    )
    assert (r.loyalty_type, r.rule) == ("inertia", "R5a")
    assert r.switching_cost == pytest.approx(1.0)
    assert "rarely uses discounts (5 % of orders)" in r.reason_en
    assert "leaving would cost them (tier Gold, a customer for 6 years)" in r.reason_en
    assert "rated satisfaction 2/5" in r.reason_en and r.reason_en.endswith("inertia loyalty")
    assert "流失成本高（会员等级 Gold，已是 6 年的老客户）" in r.reason_zh


def test_r5b_inertia_out_of_habit():
    r = one({**STEADY, "satisfaction": 2, "discount_share": 0.0, "tenure_days": 200})
    assert (r.loyalty_type, r.rule) == ("inertia", "R5b")
    assert "stays out of habit" in r.reason_en and "出于习惯" in r.reason_zh


def test_r6_potential_high_attitude_low_behaviour():
    r = one(
        {
            "n_orders": 1,
            "days_since_first_order": 200,
            "days_since_last_order": 200,
            "satisfaction": 5,
            "recommend": 10,
            "segment": "consumer",
        }
    )
    assert (r.loyalty_type, r.rule) == ("potential", "R6")
    assert "bought once, 200 days ago" in r.reason_en and "潜在忠诚" in r.reason_zh


def test_r7_none_low_attitude_low_behaviour():
    r = one(
        {
            "n_orders": 1,
            "days_since_first_order": 300,
            "days_since_last_order": 300,
            "satisfaction": 2,
            "segment": "consumer",
        }
    )
    assert (r.loyalty_type, r.rule) == ("none", "R7")
    assert r.reason_en.endswith("no loyalty") and "无忠诚" in r.reason_zh


def test_unknown_attitude_is_not_high():
    r = one({**STEADY, "discount_share": 0.1})
    assert np.isnan(r.attitude) and not r.attitude_high
    assert r.loyalty_type == "inertia"
    assert "answered no survey, so attitude is unknown" in r.reason_en


def test_thresholds_are_hyper_parameters():
    c = {**STEADY, "satisfaction": 3.5}  # attitude 62.5
    assert one(c).loyalty_type == "trust"
    assert one(c, attitude_threshold=70).loyalty_type == "inertia"
    assert one(c, behaviour_threshold=99).loyalty_type == "potential"


# --- dimensions and index -------------------------------------------------------------------


def test_dimension_scores_follow_the_documented_equations():
    r = one(
        {
            **STEADY,
            "satisfaction": 4,
            "repurchase_intent": 3,
            "recommend": 8,
            "share_of_wallet": 0.5,
            "complaints": 2,
            "complaints_open": 1,
            "complaints_breached": 0,
            "followup_csat": 5,
        }
    )
    # repeat 100·11/12; frequency at the segment median → 50; wallet 50; rhythm kept → 100.
    assert r.behavioural == pytest.approx((100 * 11 / 12 + 50 + 50 + 100) / 4)
    assert r.frequency_ratio == pytest.approx(1.0)
    assert r.intentional == pytest.approx((50 + 80) / 2)
    complaint = ((100 - 10 * 2 - 15 * 1) + 100) / 2  # history 65, follow-up rated 5/5
    assert r.emotional == pytest.approx(0.7 * 75 + 0.3 * complaint)
    expected = 0.4 * r.behavioural + 0.3 * r.intentional + 0.3 * r.emotional
    assert r.loyalty_index == pytest.approx(expected)
    assert r.attitude == pytest.approx((r.intentional + r.emotional) / 2)


def test_frequency_is_scored_against_the_own_segment():
    busy = {"n_orders": 50, "days_since_first_order": 365, "segment": "business"}
    peers = [{"n_orders": 50, "days_since_first_order": 365, "segment": "business"}] * 2
    X = pd.DataFrame([busy, *peers, STEADY, *PEERS])
    m = LoyaltyMeasure().fit(X)
    assert m.segment_frequency_["business"] == pytest.approx(50.0)
    out = m.transform(X)
    assert out.loc[0, "frequency_ratio"] == pytest.approx(1.0)
    unseen = m.transform(pd.DataFrame([{**busy, "segment": "new-segment"}]))
    assert unseen.loc[0, "frequency_ratio"] == pytest.approx(50 / m.overall_frequency_)


def test_weights_change_the_index_and_are_renormalised():
    c = {**STEADY, "satisfaction": 1, "recommend": 0}
    default = one(c)
    only_behaviour = one(c, weights={"behavioural": 1})
    assert only_behaviour.loyalty_index == pytest.approx(default.behavioural)
    scaled = one(c, weights={"behavioural": 4, "intentional": 3, "emotional": 3})
    assert scaled.loyalty_index == pytest.approx(default.loyalty_index)


def test_missing_columns_renormalise_the_weights():
    X = pd.DataFrame({"satisfaction": [5.0, 1.0, np.nan], "recommend": [10, 0, np.nan]})
    out = LoyaltyMeasure().fit_transform(X)
    assert out["behavioural"].isna().all()
    assert out.loc[0, "loyalty_index"] == pytest.approx(100.0)
    assert out.loc[1, "loyalty_index"] == pytest.approx(0.0)
    assert np.isnan(out.loc[2, "loyalty_index"])
    assert out.loc[2, "loyalty_type"] == "none"
    assert out.loc[2, "reason_en"].startswith("purchases unknown")


def test_no_complaints_is_not_evidence():
    r = one({**STEADY, "complaints": 0})
    assert np.isnan(r.emotional)


def test_complaint_history_alone_gives_an_emotional_score():
    r = one({**STEADY, "complaints": 3, "complaints_breached": 2})
    assert r.emotional == pytest.approx(100 - 30 - 30)
    assert "3 complaints" in r.reason_en and "投诉 3 起" in r.reason_zh


# --- satisfaction trap ----------------------------------------------------------------------


def test_trap_satisfied_but_overdue_against_own_rhythm():
    c = {**STEADY, "days_since_last_order": 70, "satisfaction": 5}  # usual gap 28, k = 2
    r = one(c)
    assert r.satisfaction_trap and r.trap_signal == "overdue"
    assert "Satisfaction trap: satisfied, but the last purchase was 70 days ago" in r.reason_en
    assert "2 × their usual 28 days" in r.reason_en and "满意陷阱" in r.reason_zh
    assert not one({**c, "days_since_last_order": 56}).satisfaction_trap  # exactly 2 gaps: not yet
    assert one(c, overdue_factor=3).satisfaction_trap is np.False_


def test_trap_satisfied_but_slowing_in_the_recent_window():
    c = {
        "n_orders": 14,
        "days_since_first_order": 390,
        "days_since_last_order": 20,
        "median_gap_days": 21,
        "orders_recent": 1,  # 13 purchases in the 300 days before: 3.9 per 90 days
        "satisfaction": 4,
        "segment": "consumer",
    }
    r = one(c)
    assert r.satisfaction_trap and r.trap_signal == "slowing"
    assert "only 1 purchases in the last 90 days against 3.9 per 90 days before" in r.reason_en
    assert not one({**c, "orders_recent": 3}).satisfaction_trap


def test_trap_needs_satisfaction():
    c = {**STEADY, "days_since_last_order": 200}
    assert not one({**c, "satisfaction": 3}).satisfaction_trap
    assert not one(c).satisfaction_trap  # no survey: not known to be satisfied
    assert one({**c, "satisfaction": 3}, satisfied_threshold=3).satisfaction_trap


def test_trap_needs_a_rhythm():
    two = {"n_orders": 2, "days_since_first_order": 400, "days_since_last_order": 380}
    r = one({**two, "median_gap_days": 20, "satisfaction": 5})
    assert not r.satisfaction_trap
    assert one(
        {**two, "median_gap_days": 20, "satisfaction": 5}, min_orders_for_rhythm=2
    ).satisfaction_trap


# --- edge cases -----------------------------------------------------------------------------


def test_one_time_buyer():
    r = one({"n_orders": 1, "days_since_first_order": 30, "days_since_last_order": 30})
    assert r.behavioural == pytest.approx(
        (0 + 100 * r.frequency_ratio / (1 + r.frequency_ratio)) / 2
    )
    assert not r.satisfaction_trap and r.loyalty_type == "none"
    assert r.orders_per_year == pytest.approx(365 / 90)  # the 90-day floor of the span


def test_customer_without_orders_or_surveys():
    r = one({"n_orders": 0})
    assert r.behavioural == 0 and r.loyalty_index == 0
    assert (r.loyalty_type, r.rule) == ("none", "R7")
    assert (
        r.reason_en == "has not bought yet; answered no survey, so attitude is unknown — no loyalty"
    )
    assert r.reason_zh == "尚未购买；未回答过调查，态度未知 —— 无忠诚"


def test_nobody_bought_yet():
    X = pd.DataFrame({"n_orders": [0, 0], "satisfaction": [5, 1]})
    out = LoyaltyMeasure().fit_transform(X)
    assert out["loyalty_type"].tolist() == ["potential", "none"]
    assert out["behavioural"].tolist() == [0.0, 0.0]


def test_bad_values_name_the_column():
    with pytest.raises(ValueError, match="'satisfaction' must lie in"):
        LoyaltyMeasure().fit_transform(pd.DataFrame({"satisfaction": [6]}))
    with pytest.raises(ValueError, match="'n_orders' has 1 non-numeric"):
        LoyaltyMeasure().fit_transform(pd.DataFrame({"n_orders": ["many"]}))
    with pytest.raises(ValueError, match="'no_alternative' must be yes/no"):
        LoyaltyMeasure().fit_transform(pd.DataFrame({"no_alternative": ["perhaps"]}))
    with pytest.raises(ValueError, match="weights"):
        LoyaltyMeasure(weights={"behavioral": 1}).fit(pd.DataFrame({"n_orders": [1]}))
    with pytest.raises(ValueError, match="not all be zero"):
        LoyaltyMeasure(weights={"behavioural": 0}).fit(pd.DataFrame({"n_orders": [1]}))
    with pytest.raises(TypeError):
        LoyaltyMeasure().fit([[1, 2]])


def test_every_type_is_one_of_the_documented_ones():
    rng = np.random.default_rng(3)
    n = 2000
    orders = rng.poisson(3, n)
    X = pd.DataFrame(
        {
            "n_orders": orders,
            "days_since_first_order": rng.uniform(100, 900, n),
            "days_since_last_order": rng.uniform(0, 100, n),
            "median_gap_days": np.where(orders >= 2, rng.uniform(5, 90, n), np.nan),
            "satisfaction": np.where(rng.random(n) < 0.5, rng.integers(1, 6, n), np.nan),
            "discount_share": rng.random(n),
            "no_alternative": rng.random(n) < 0.1,
        }
    )
    out = LoyaltyMeasure().fit_transform(X)
    assert set(out["loyalty_type"]) <= set(LOYALTY_TYPES)
    assert out["loyalty_index"].between(0, 100).all()
    for d in ("behavioural", "intentional", "emotional"):
        assert out[d].dropna().between(0, 100).all()
    assert out.index.equals(X.index)


# --- estimator contract ---------------------------------------------------------------------


def test_estimator_contract():
    m = LoyaltyMeasure(overdue_factor=3.0)
    assert vars(m) == m.get_params()  # __init__ stores the hyper-parameters only
    assert not any(k.endswith("_") for k in vars(m))
    X = pd.DataFrame([STEADY, *PEERS])
    assert m.fit(X) is m
    learned = {k for k in vars(m) if k not in m.get_params()}
    assert learned and all(k.endswith("_") for k in learned)
    assert m.n_features_in_ == X.shape[1]
    assert list(m.feature_names_in_) == list(X.columns)
    assert m.weights_ == pytest.approx({"behavioural": 0.4, "intentional": 0.3, "emotional": 0.3})
    clone = type(m)(**m.get_params())
    assert clone.get_params() == m.get_params() and not hasattr(clone, "weights_")
    assert m.set_params(overdue_factor=2.5) is m and m.overdue_factor == 2.5
    with pytest.raises(ValueError, match="invalid parameter"):
        m.set_params(nope=1)
    assert repr(LoyaltyMeasure(recent_days=60)) == "LoyaltyMeasure(recent_days=60)"
    copy = pickle.loads(pickle.dumps(m))
    pd.testing.assert_frame_equal(copy.transform(X), m.transform(X))


def test_transform_before_fit_fails():
    with pytest.raises(RuntimeError, match="not fitted"):
        LoyaltyMeasure().transform(pd.DataFrame([STEADY]))


def test_hundred_thousand_customers_at_once():
    """Vectorised over a large base (speed is measured in benchmarks/, not asserted here)."""
    rng = np.random.default_rng(0)
    n = 100_000
    orders = rng.poisson(4, n)
    first = rng.uniform(0, 1000, n)
    X = pd.DataFrame(
        {
            "n_orders": orders,
            "days_since_first_order": first,
            "days_since_last_order": first * rng.random(n),
            "median_gap_days": np.where(orders >= 2, rng.uniform(5, 200, n), np.nan),
            "orders_recent": np.minimum(orders, rng.poisson(1, n)),
            "segment": rng.choice(["consumer", "business"], n),
            "discount_share": rng.random(n),
            "tier_rank": rng.choice([0.0, 0.5, 1.0], n),
            "tier_name": rng.choice(["Silver", "Gold"], n),
            "tenure_days": rng.uniform(0, 3000, n),
            "no_alternative": rng.random(n) < 0.05,
            "satisfaction": np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), np.nan),
            "recommend": np.where(rng.random(n) < 0.3, rng.integers(0, 11, n), np.nan),
            "complaints": rng.poisson(0.2, n),
        }
    )
    out = LoyaltyMeasure().fit_transform(X)
    assert len(out) == n and out["reason_en"].str.len().min() > 0
    assert out["loyalty_index"].between(0, 100).all()
    assert set(out["loyalty_type"]) <= {
        "monopoly", "kinship", "interest", "inertia", "trust", "potential", "none"
    }  # fmt: skip


def test_reasons_can_be_written_later_for_a_few_rows():
    X = pd.DataFrame([{**STEADY, "satisfaction": 2}, *PEERS], index=["a", "b", "c"])
    m = LoyaltyMeasure(explain=False).fit(X)
    quiet = m.transform(X)
    assert (quiet["reason_en"] == "").all() and (quiet["reason_zh"] == "").all()
    loud = m.set_params(explain=True).transform(X.loc[["a"]])
    full = LoyaltyMeasure().fit_transform(X)
    assert loud.loc["a", "reason_en"] == full.loc["a", "reason_en"]
    pd.testing.assert_frame_equal(
        quiet.drop(columns=["reason_en", "reason_zh"]),
        full.drop(columns=["reason_en", "reason_zh"]),
    )


# --- stored decisions: reasons afterwards, a reference restored ---------------------------------


def _mixed_base() -> pd.DataFrame:
    rows = [
        {**STEADY, "satisfaction": 5, "recommend": 9},
        {**STEADY, "satisfaction": 2, "tenure_days": 2000, "tier_name": "Gold", "tier_rank": 1},
        {**STEADY, "discount_share": 0.9, "complaints": 2, "complaints_open": 1},
        {**STEADY, "days_since_last_order": 120, "satisfaction": 5},
        {"n_orders": 0, "satisfaction": 5, "recommend": 10, "segment": "business"},
        *PEERS,
    ]
    return pd.DataFrame(rows, index=[f"c{i}" for i in range(len(rows))])


def test_describe_writes_the_reasons_transform_writes():
    X = _mixed_base()
    out = LoyaltyMeasure().fit_transform(X)
    words = LoyaltyMeasure().describe(X, out[["loyalty_type", "rule", "trap_signal"]])
    assert list(words.index) == list(X.index)
    assert words["reason_en"].tolist() == out["reason_en"].tolist()
    assert words["reason_zh"].tolist() == out["reason_zh"].tolist()
    assert "Satisfaction trap" in words.loc["c3", "reason_en"]


def test_describe_follows_other_decisions():
    X = _mixed_base().iloc[[1]]
    decided = pd.DataFrame(
        {"loyalty_type": ["trust"], "rule": ["R1"], "trap_signal": [""]}, index=X.index
    )
    words = LoyaltyMeasure().describe(X, decided)
    assert words.iloc[0]["reason_en"].endswith("— trust loyalty")
    assert "信赖忠诚" in words.iloc[0]["reason_zh"] and "Gold" not in words.iloc[0]["reason_en"]


def test_a_restored_reference_scores_like_the_fitted_one():
    X = _mixed_base()
    fitted = LoyaltyMeasure(weights={"behavioural": 2, "emotional": 1}).fit(X)
    restored = LoyaltyMeasure(weights={"behavioural": 2, "emotional": 1}).use_reference(
        fitted.segment_frequency_, fitted.overall_frequency_
    )
    pd.testing.assert_frame_equal(restored.transform(X.iloc[:2]), fitted.transform(X.iloc[:2]))
    assert restored.weights_ == fitted.weights_
    with pytest.raises(ValueError, match="weights"):
        LoyaltyMeasure(weights={"behavioural": -1}).use_reference({}, 1.0)
