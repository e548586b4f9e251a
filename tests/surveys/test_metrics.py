"""Hand-computed examples for the pure satisfaction metrics."""

from __future__ import annotations

import pytest

from retento.surveys import metrics as m


def test_csat_top_two_boxes_and_mean():
    # 1–5 scale: top-2 boxes are 4 and 5 → 3 of 5 answers; mean (5+4+4+2+1)/5 = 3.2.
    r = m.csat([5, 4, 4, 2, 1, None], 1, 5)
    assert (r.n, r.top_box_share, r.mean) == (5, 0.6, pytest.approx(3.2))
    # 1–10 scale: top-2 boxes are 9 and 10.
    assert m.csat([10, 9, 8, 8], 1, 10).top_box_share == 0.5
    assert m.csat([], 1, 5).top_box_share is None
    with pytest.raises(ValueError):
        m.csat([3], 1, 5, top_boxes=6)


def test_csat_pooled_over_scales():
    # 5 on 1–5 (top, 100), 6 on 1–7 (top-2, 83.33), 3 on 1–5 (50) → 2/3 top, mean 77.78.
    r = m.csat_pooled([(5, 1, 5), (6, 1, 7), (3, 1, 5), (None, 1, 5)])
    assert r["n"] == 3 and r["top_box_share"] == pytest.approx(2 / 3)
    assert r["mean_pct"] == pytest.approx((100 + 500 / 6 + 50) / 3)


def test_nps_counts_and_score():
    # promoters 10, 9, 9 (3); passives 8, 7 (2); detractors 6, 0, 3, 5, 2 (5): (3 − 5)/10 = −20.
    r = m.nps([10, 9, 9, 8, 7, 6, 0, 3, 5, 2])
    assert (r.promoters, r.passives, r.detractors, r.score) == (3, 2, 5, -20.0)
    assert m.nps([10, 10]).score == 100.0 and m.nps([]).score is None
    with pytest.raises(ValueError):
        m.nps([11])


def test_ces_mean_and_easy_share():
    # 1–7 scale, midpoint 4: 7, 6, 5 are "easy"; mean (7+6+5+4+1)/5 = 4.6.
    r = m.ces([7, 6, 5, 4, 1], 1, 7)
    assert r.mean == pytest.approx(4.6) and r.easy_share == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("c", "tol", "level"),
    [
        (0.94, 0.05, "dissatisfied"),
        (0.95, 0.05, "satisfied"),
        (1.0, 0.05, "satisfied"),
        (1.05, 0.05, "satisfied"),
        (1.06, 0.05, "highly_satisfied"),
        (0.97, 0.0, "dissatisfied"),
        (1.15, 0.2, "satisfied"),
    ],
)
def test_satisfaction_level_boundaries(c, tol, level):
    assert m.satisfaction_level(c, tol) == level


def test_expectation_ratio_per_item():
    # a = 4, 5, 4 (mean 13/3); b = 5, 3, 4 (mean 4): c = 12/13 = 0.923 → dissatisfied.
    # Per respondent: 1.25 high, 0.6 dissatisfied, 1.0 satisfied.
    r = m.expectation_ratio([(4, 5), (5, 3), (4, 4), (None, 2)])
    assert r.n == 3 and r.c == pytest.approx(12 / 13) and r.level == "dissatisfied"
    assert r.levels == {"dissatisfied": 1, "satisfied": 1, "highly_satisfied": 1}
    # With a 10 % tolerance 0.923 lies within 1 ± 0.1 → satisfied.
    assert m.expectation_ratio([(4, 5), (5, 3), (4, 4)], 0.1).level == "satisfied"
    with pytest.raises(ValueError):
        m.expectation_ratio([(0, 3)])
    assert m.expectation_ratio([]).c is None


def test_ratios_by_dimension_pool_items():
    # service = response time (3→3) and attitude (4→5): c = (3+5)/(3+4) = 8/7.
    out = m.ratios_by({"service": [(3, 3), (4, 5)], "product": [(5, 4)]})
    assert out["service"].c == pytest.approx(8 / 7) and out["service"].level == "highly_satisfied"
    assert out["product"].c == pytest.approx(0.8)


def test_word_of_mouth_reach():
    r = m.word_of_mouth({"dissatisfied": 3, "satisfied": 10, "highly_satisfied": 2})
    rows = {x["level"]: x["reach"] for x in r["levels"]}
    assert rows == {"dissatisfied": 66, "satisfied": 80, "highly_satisfied": 20}
    assert (r["negative_reach"], r["positive_reach"], r["net_reach"]) == (66, 100, 34)
    custom = m.word_of_mouth(
        {"dissatisfied": 1}, {"dissatisfied": 9, "satisfied": 1, "highly_satisfied": 1}
    )
    assert custom["negative_reach"] == 9


def test_delivered_value_and_weakest_dimension():
    # value = (80 + 60 + 70 + 90) / 4 = 75; cost = (40 + 20) / 2 = 30; delivered = 45.
    # Contributions: product 80, service 60, personnel 70, image 90, money 100 − 40 = 60,
    # time 80 → money and service tie at 60; ties go to the first name, money.
    r = m.delivered_value(
        {"product": 80, "service": 60, "personnel": 70, "image": 90, "money": 40, "time": 20}
    )
    assert (r.total_value, r.total_cost, r.delivered) == (75.0, 30.0, 45.0)
    assert r.weakest == "money"
    # A heavy time cost is weaker than any value dimension.
    assert m.delivered_value({"product": 50, "time": 90}).weakest == "time"
    assert m.delivered_value({"product": 50}).delivered is None
    with pytest.raises(ValueError):
        m.delivered_value({"luck": 1})


def test_delivered_value_by_segment_averages_dimensions():
    out = m.delivered_value_by(
        [
            ("vip", {"product": 100, "money": 20}),
            ("vip", {"product": 60, "money": 40}),
            ("ordinary", {"product": 50}),
        ]
    )
    assert out["vip"].dimensions == {"product": 80.0, "money": 30.0}
    assert out["vip"].delivered == 50.0 and out["ordinary"].total_cost is None


def test_normalise():
    assert m.normalise(1, 1, 5) == 0 and m.normalise(5, 1, 5) == 100
    assert m.normalise(7, 0, 10) == 70


def test_response_rates_per_channel():
    rows = [
        ("online", True, True),
        ("online", True, False),
        ("online", False, False),
        ("phone", False, True),
        ("phone", False, False),
    ]
    out = {r["group"]: r for r in m.response_rates(rows)}
    assert out["online"]["response_rate"] == pytest.approx(1 / 3)
    assert out["online"]["open_rate"] == pytest.approx(2 / 3)
    # A completed phone interview counts as opened.
    assert out["phone"]["opened"] == 1 and out["phone"]["response_rate"] == 0.5
    assert m.rates_from_counts([("mail", 0, 0, 0)]) == []


def test_expression_funnel_from_survey_answers():
    F = m.FunnelInput
    people = [
        F("highly_satisfied", problem=False),
        F("satisfied", problem=True, reported="no"),
        F("satisfied", problem=True, reported="informal", resolved=True),
        F("dissatisfied", problem=True, reported="informal", resolved=False, lapsed=True),
        F("dissatisfied", problem=True, reported="formal", resolved=True, lapsed=False),
        F("dissatisfied", problem=True, reported="formal", resolved=False, lapsed=True),
    ]
    out = m.expression_funnel(people, complaints_note="no complaints domain")
    st = {s["stage"]: s["count"] for s in out["stages"]}
    assert [s["stage"] for s in out["stages"]][:4] == [
        "expectation",
        "purchase",
        "satisfied",
        "dissatisfied",
    ]
    assert (st["expectation"], st["satisfied"], st["dissatisfied"]) == (6, 3, 3)
    assert (st["grumble"], st["contact"], st["handled"]) == (5, 4, 4)
    assert (st["handled_satisfied"], st["handled_not_satisfied"]) == (2, 2)
    assert (st["formal_complaint"], st["complaint_satisfied"], st["complaint_not_satisfied"]) == (
        2,
        1,
        1,
    )
    assert st["leaves"] == 2 and out["silent_with_problem"] == 1
    assert out["complaint_records"]["complaints"] == 0 and out["note"] == "no complaints domain"
    with_records = m.expression_funnel(people, {"complaints": 4, "grumbles": 7})
    assert with_records["complaint_records"]["grumbles"] == 7
