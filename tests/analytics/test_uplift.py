"""Win-back uplift: assignment, the interval's coverage, Qini, uplift at k and money."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from retento.analytics import (
    assign_treatment,
    auuc,
    incremental_revenue,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
    uplift_estimate,
)

CLASSES = ("vip", "major", "ordinary", "small")
# Came-back rate without the campaign per value class, and the campaign's true effect.
BASE_RATE = {"vip": 0.35, "major": 0.25, "ordinary": 0.15, "small": 0.08}
EFFECT = {"vip": 0.10, "major": 0.06, "ordinary": 0.04, "small": 0.0}


def _campaign(seed: int, n: int = 3000, share: float = 0.2):
    """Simulated win-back campaign with a known effect per class."""
    rng = np.random.default_rng(seed)
    cls = rng.choice(CLASSES, size=n, p=[0.05, 0.15, 0.5, 0.3])
    treated = assign_treatment(cls, control_share=share, random_state=seed)
    base = np.vectorize(BASE_RATE.get)(cls)
    effect = np.vectorize(EFFECT.get)(cls)
    came_back = rng.random(n) < base + treated * effect
    return cls, treated, came_back, base, effect


# ----------------------------------------------------------------------------- assignment


def test_assignment_is_stratified_and_reproducible():
    cls = np.array(["vip"] * 50 + ["major"] * 150 + ["small"] * 800)
    a = assign_treatment(cls, control_share=0.2, random_state=42)
    b = assign_treatment(pd.Series(cls), control_share=0.2, random_state=42)
    c = assign_treatment(cls, control_share=0.2, random_state=43)
    assert a.dtype == bool and len(a) == 1000
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    for name, size in (("vip", 50), ("major", 150), ("small", 800)):
        assert (~a[cls == name]).sum() == size * 0.2  # exact when n_s * share is whole


def test_assignment_share_is_exact_in_expectation_for_small_strata():
    # 3 customers per stratum, share 0.1: each customer is in control with probability 0.1.
    cls = np.repeat(np.arange(2000), 3)
    control = ~assign_treatment(cls, control_share=0.1, random_state=0)
    assert control.mean() == pytest.approx(0.1, abs=0.01)
    assert np.bincount(cls, weights=control).max() <= 1  # never more than ceil(3 * 0.1)


def test_assignment_without_strata_and_bad_share():
    treated = assign_treatment(1000, control_share=0.25, random_state=1)
    assert (~treated).sum() == 250
    with pytest.raises(ValueError, match="control_share"):
        assign_treatment(10, control_share=1.0)
    with pytest.raises(ValueError, match="control_share"):
        assign_treatment(10, control_share=0)
    assert len(assign_treatment([], control_share=0.1)) == 0


# ----------------------------------------------------------------------------- the interval


def test_newcombe_matches_the_published_examples():
    # Newcombe (1998), Table II, method 10 (hybrid score).
    cases = {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (6, 7, 2, 7): (0.0582, 0.8062),
        (5, 56, 0, 29): (-0.0381, 0.1926),
        (0, 10, 0, 20): (-0.1611, 0.2775),
        (10, 10, 0, 20): (0.6791, 1.0),
    }
    for (y1, n1, y2, n2), (low, high) in cases.items():
        outcome = [1] * y1 + [0] * (n1 - y1) + [1] * y2 + [0] * (n2 - y2)
        treated = [1] * n1 + [0] * n2
        est = uplift_estimate(outcome, treated)
        assert est.method == "newcombe"
        assert est.uplift == pytest.approx(y1 / n1 - y2 / n2)
        assert (round(est.ci_low, 4), round(est.ci_high, 4)) == (low, high)


@pytest.mark.parametrize("method", ["newcombe", "wald"])
def test_simulated_campaign_recovers_the_known_effect(method):
    true_uplifts, covered, estimates = [], [], []
    for seed in range(400):
        cls, treated, came_back, _base, effect = _campaign(seed)
        # The true average effect on the treated customers of this campaign.
        truth = effect[treated].mean()
        est = uplift_estimate(came_back, treated, method=method)
        true_uplifts.append(truth)
        estimates.append(est.uplift)
        covered.append(est.ci_low <= truth <= est.ci_high)
    coverage = np.mean(covered)
    # 400 repetitions: the standard error of a 95 % coverage is about 1.1 points.
    assert 0.925 <= coverage <= 0.975, coverage
    # Unbiased: the mean estimate is within 3 standard errors of the mean truth.
    spread = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - np.mean(true_uplifts)) < 3 * spread


def test_one_campaign_report():
    cls, treated, came_back, _base, effect = _campaign(7, n=20000)
    est = uplift_estimate(came_back, treated)
    truth = effect[treated].mean()
    assert est.ci_low <= truth <= est.ci_high
    assert est.significant
    assert est.n_treated + est.n_control == 20000
    assert est.n_control == pytest.approx(4000, abs=4)  # one per stratum at most
    assert est.incremental_customers == pytest.approx(est.n_treated * est.uplift)
    assert est.relative_uplift == pytest.approx(est.rate_treated / est.rate_control - 1)
    d = est.to_dict()
    assert d["significant"] is True and d["method"] == "newcombe"


def test_empty_control_names_the_argument():
    with pytest.raises(ValueError, match=r"treated: the control group is empty"):
        uplift_estimate([1, 0, 1], [1, 1, 1])
    with pytest.raises(ValueError, match=r"treated: the treatment group is empty"):
        uplift_estimate([1, 0, 1], [0, 0, 0])
    with pytest.raises(ValueError, match=r"treated: no customers"):
        uplift_estimate([], [])
    with pytest.raises(ValueError, match="treated: the control group is empty"):
        qini_curve([0.1, 0.2], [True, True], [1, 0])
    with pytest.raises(ValueError, match="treated: the control group is empty"):
        incremental_revenue([Decimal("1")], [1])


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="outcome"):
        uplift_estimate([0, 2, 1], [1, 0, 1])
    with pytest.raises(ValueError, match="length"):
        uplift_estimate([0, 1], [1, 0, 1])
    with pytest.raises(ValueError, match="method"):
        uplift_estimate([0, 1], [1, 0], method="exact")
    with pytest.raises(ValueError, match="scores"):
        qini_curve([0.1, np.nan], [1, 0], [1, 0])
    with pytest.raises(ValueError, match="revenue"):
        incremental_revenue(["12.50", "abc"], [1, 0])
    with pytest.raises(ValueError, match="revenue"):
        incremental_revenue([1.0, float("nan")], [1, 0])


# ----------------------------------------------------------------------------- ranking


def _uplift_campaign(seed: int, n: int = 20000):
    """Each customer has their own effect; a model that knows it ranks perfectly."""
    rng = np.random.default_rng(seed)
    tau = rng.uniform(-0.05, 0.3, n)
    base = rng.uniform(0.05, 0.3, n)
    treated = assign_treatment(n, control_share=0.5, random_state=seed)
    outcome = rng.random(n) < base + treated * tau
    return tau, treated, outcome, rng


def test_qini_of_a_perfect_ranking_beats_random():
    tau, treated, outcome, rng = _uplift_campaign(3)
    random_scores = rng.random(len(tau))
    q_true = qini_coefficient(tau, treated, outcome)
    q_random = qini_coefficient(random_scores, treated, outcome)
    q_reversed = qini_coefficient(-tau, treated, outcome)
    assert q_true > q_random + 0.1
    assert abs(q_random) < 0.1
    assert q_reversed < 0
    # The ideal (outcome-aware) ranking has coefficient 1 by definition.
    ideal = outcome * treated - outcome * (1 - treated)
    assert qini_coefficient(ideal, treated, outcome) == pytest.approx(1.0)
    assert auuc(tau, treated, outcome) > auuc(random_scores, treated, outcome) + 0.1
    # Unnormalised area is in incremental customers: positive for the true ranking.
    assert qini_coefficient(tau, treated, outcome, normalize=False) > 0


def test_qini_curve_shape_and_ties():
    tau, treated, outcome, _ = _uplift_campaign(5, n=2000)
    curve = qini_curve(tau, treated, outcome)
    assert curve.n_targeted[0] == 0 and curve.n_targeted[-1] == 2000
    assert curve.values[0] == 0.0 and curve.fraction[-1] == 1.0
    # The end point is the whole campaign's incremental customers.
    est = uplift_estimate(outcome, treated)
    assert curve.values[-1] == pytest.approx(est.incremental_customers)
    assert curve.random[-1] == pytest.approx(curve.values[-1])
    # A constant score targets everyone at once: two points, no better than random.
    flat = qini_curve(np.zeros(2000), treated, outcome)
    assert list(flat.n_targeted) == [0, 2000]
    assert qini_coefficient(np.zeros(2000), treated, outcome) == pytest.approx(0.0)
    up = uplift_curve(tau, treated, outcome)
    assert up.values[-1] == pytest.approx(est.uplift * 2000)
    frame = curve.to_frame()
    assert list(frame.columns) == ["n_targeted", "fraction", "values", "random"]


def test_uplift_at_k_is_higher_at_the_top_of_a_good_ranking():
    tau, treated, outcome, _ = _uplift_campaign(11)
    top = uplift_at_k(tau, treated, outcome, k=0.2)
    everyone = uplift_estimate(outcome, treated)
    assert top.n_treated + top.n_control == 4000
    # True mean effect in the top 20 % is about 0.265; overall about 0.125.
    assert top.ci_low <= np.sort(tau)[-4000:].mean() <= top.ci_high
    assert top.uplift > everyone.uplift + 0.05
    assert (
        uplift_at_k(tau, treated, outcome, k=500).n_treated
        + uplift_at_k(tau, treated, outcome, k=500).n_control
        == 500
    )
    with pytest.raises(ValueError, match="k:"):
        uplift_at_k(tau, treated, outcome, k=0)
    with pytest.raises(ValueError, match="k:"):
        uplift_at_k(tau, treated, outcome, k=10**6)
    # A top k that holds only treated customers cannot give an uplift.
    scores = treated.astype(float)
    with pytest.raises(ValueError, match="treated: the top 100 customers hold no control"):
        uplift_at_k(scores, treated, outcome, k=100)


# ----------------------------------------------------------------------------- money


def test_incremental_revenue_is_exact_decimal():
    revenue = [Decimal("19.99"), Decimal("0"), Decimal("39.98"), Decimal("0"), Decimal("10.00")]
    treated = [1, 1, 1, 0, 0]
    res = incremental_revenue(revenue, treated, cost=Decimal("5"), cost_per_treated="1.50")
    # Treated mean 19.99, control mean 5.00: 3 x 14.99 = 44.97; cost 5 + 3 x 1.50 = 9.50.
    assert res.revenue_per_treated == Decimal("19.99")
    assert res.revenue_per_control == Decimal("5.00")
    assert res.incremental_revenue == Decimal("44.97")
    assert res.cost == Decimal("9.50")
    assert res.net == Decimal("35.47")
    assert res.roi == Decimal("3.73")
    assert isinstance(res.net_ci_low, Decimal) and res.net_ci_low < res.net < res.net_ci_high
    # Floats are read by their decimal form: 19.99 stays 19.99.
    floats = incremental_revenue([19.99, 0.0, 39.98, 0.0, 10.0], treated, cost=5.0)
    assert floats.incremental_revenue == Decimal("44.97")
    assert floats.roi == Decimal("7.99")  # (44.97 - 5) / 5
    assert incremental_revenue([1, 0], [1, 0]).roi is None
    assert res.to_dict()["net"] == "35.47"
    with pytest.raises(ValueError, match="cost"):
        incremental_revenue(revenue, treated, cost=-1)


def test_incremental_revenue_recovers_the_simulated_effect():
    hits = 0
    for seed in range(100):
        cls, treated, came_back, _base, effect = _campaign(seed)
        rng = np.random.default_rng(1000 + seed)
        basket = np.round(rng.gamma(4.0, 12.5, len(cls)), 2)  # mean 50.00
        revenue = np.where(came_back, basket, 0.0)
        res = incremental_revenue(revenue, treated, cost_per_treated=Decimal("0.50"))
        truth = Decimal(str(round(effect[treated].sum() * 50.0 - treated.sum() * 0.5, 2)))
        hits += res.net_ci_low <= truth <= res.net_ci_high
    assert 88 <= hits <= 100
