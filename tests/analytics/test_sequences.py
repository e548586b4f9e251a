"""Sequence discovery (issue 13 point 3): exact against brute-force enumeration, caps, recommender."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retento.analytics.next_item import NextItemRecommender, evaluate_next_item
from retento.analytics.sequences import (
    BudgetExceeded,
    PurchaseSequences,
    format_pattern,
    frequent_sequences,
)


def contained(seq, days, max_len, max_gap, max_gap_days) -> set:
    """Every pattern (tuple of sorted item tuples, <= max_len items) embedded in ``seq``."""
    found = set()

    def extend(pattern, last_pos, length):
        for pos in range(last_pos + 1, len(seq)):
            if last_pos >= 0:
                if max_gap is not None and pos - last_pos > max_gap:
                    break
                if max_gap_days is not None and days[pos] - days[last_pos] > max_gap_days:
                    break
            items = sorted(seq[pos])
            for r in range(1, min(len(items), max_len - length) + 1):
                for sub in combinations(items, r):
                    child = (*pattern, sub)
                    found.add(child)
                    extend(child, pos, length + r)

    extend((), -1, 0)
    return found


def brute_force(seqs, min_support, max_len, max_gap=None, max_gap_days=None, days=None):
    counts: dict = {}
    for s, seq in enumerate(seqs):
        d = days[s] if days is not None else list(range(len(seq)))
        for p in contained(seq, d, max_len, max_gap, max_gap_days):
            counts[p] = counts.get(p, 0) + 1
    need = max(1, math.ceil(min_support * len(seqs) - 1e-9))
    return {p: c for p, c in counts.items() if c >= need}


def as_dict(frame):
    return {
        tuple(tuple(sorted(e)) for e in p): c
        for p, c in zip(frame["pattern"], frame["count"], strict=True)
    }


sequences = st.lists(
    st.lists(
        st.frozensets(st.integers(min_value=0, max_value=4), min_size=1, max_size=3),
        min_size=1,
        max_size=5,
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(
    seqs=sequences,
    min_support=st.sampled_from([0.1, 0.2, 0.34, 0.5]),
    max_len=st.sampled_from([1, 2, 3, 4]),
    max_gap=st.sampled_from([None, 1, 2]),
)
def test_identical_to_brute_force_enumeration(seqs, min_support, max_len, max_gap):
    got = frequent_sequences(seqs, min_support=min_support, max_len=max_len, max_gap=max_gap)
    assert as_dict(got) == brute_force(seqs, min_support, max_len, max_gap)
    assert np.allclose(got["support"], got["count"] / len(seqs))
    assert (got["length"] <= max_len).all()


@settings(max_examples=40, deadline=None)
@given(seqs=sequences, max_gap_days=st.sampled_from([0, 3, 10]), data=st.data())
def test_a_gap_in_days_matches_brute_force(seqs, max_gap_days, data):
    days = [
        sorted(data.draw(st.sets(st.integers(0, 30), min_size=len(s), max_size=len(s))))
        for s in seqs
    ]
    cust, dates, items = [], [], []
    for c, (seq, ds) in enumerate(zip(seqs, days, strict=True)):
        for el, d in zip(seq, ds, strict=True):
            for it in el:
                cust.append(f"c{c}")
                dates.append(pd.Timestamp("2024-01-01") + pd.Timedelta(days=d))
                items.append(it)
    got = frequent_sequences(
        PurchaseSequences.from_arrays(cust, dates, items),
        min_support=0.2,
        max_len=3,
        max_gap_days=max_gap_days,
    )
    assert as_dict(got) == brute_force(seqs, 0.2, 3, max_gap_days=max_gap_days, days=days)


def test_same_day_lines_form_one_step_and_repeats_count_once_per_customer():
    data = PurchaseSequences.from_arrays(
        ["ann", "ann", "ann", "ann", "bob", "bob", "bob"],
        ["2024-01-01", "2024-01-01 10:00", "2024-01-05", "2024-01-05", "2024-02-01",
         "2024-02-03", "2024-02-03"],
        ["tea", "milk", "jam", "jam", "tea", "jam", "milk"],
    )  # fmt: skip
    assert data.n_sequences == 2 and data.n_elements == 4 and len(data.line_item) == 6
    found = frequent_sequences(data, min_support=1.0)
    got = {format_pattern(p): c for p, c in zip(found["pattern"], found["count"], strict=True)}
    assert got == {"tea": 2, "milk": 2, "jam": 2, "tea > jam": 2}
    assert found.iloc[-1]["n_elements"] == 2


def test_caps_stop_with_a_clear_message():
    rng = np.random.default_rng(0)
    seqs = [[rng.choice(6, size=3, replace=False).tolist() for _ in range(6)] for _ in range(30)]
    with pytest.raises(BudgetExceeded, match="more than 100 frequent sequences") as caught:
        frequent_sequences(seqs, min_support=0.05, max_patterns=100)
    assert caught.value.found > 100
    with pytest.raises(BudgetExceeded, match="time budget"):
        frequent_sequences(seqs, min_support=0.05, time_budget=0.0)
    short = frequent_sequences(seqs, min_support=0.05, max_len=1)
    assert len(short) == 6


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="min_support"):
        frequent_sequences([["a"]], min_support=0)
    with pytest.raises(ValueError, match="max_gap"):
        frequent_sequences([["a"]], min_support=0.5, max_gap=0)
    with pytest.raises(ValueError, match="same length"):
        PurchaseSequences.from_arrays([1, 2], ["2024-01-01"], ["a", "b"])
    with pytest.raises(ValueError, match="missing"):
        PurchaseSequences.from_arrays([1, 2], ["2024-01-01", None], ["a", "b"])
    with pytest.raises(ValueError, match="unknown parameter"):
        NextItemRecommender().set_params(support=0.1)
    assert frequent_sequences([], min_support=0.5).empty


def test_the_recommender_follows_the_sequential_rules():
    # 40 customers buy a then b; 10 buy c then d: after a, suggest b first.
    seqs = [["a", "b"]] * 40 + [["c", "d"]] * 10 + [["a"], ["e"]]
    model = NextItemRecommender(min_support=0.05).fit(seqs)
    rules = model.rules_.set_index(["antecedent", "consequent"])
    assert set(rules.index) == {("a", "b"), ("c", "d")}
    assert rules.loc[("a", "b"), "confidence"] == pytest.approx(40 / 41)
    assert rules.loc[("c", "d"), "support"] == pytest.approx(10 / 52)
    history = PurchaseSequences.from_lists([["x", "a"], ["c"], ["zz"]])
    recs = model.recommend(history, k=2)
    assert recs[recs["customer"] == 0]["item"].tolist()[0] == "b"
    assert recs[recs["customer"] == 1]["item"].tolist()[0] == "d"
    # No rule: popularity order (a and b are bought by the most customers).
    assert set(recs[recs["customer"] == 2]["item"]) == {"a", "b"}


def test_evaluation_reports_the_repeat_baseline_when_customers_rebuy_their_own_items():
    rng = np.random.default_rng(4)
    cust, dates, items = [], [], []
    for c in range(300):
        own = rng.choice(40, size=2, replace=False)  # each customer rebuys their two items
        for d in range(8):
            cust.append(c)
            dates.append(pd.Timestamp("2024-01-01") + pd.Timedelta(days=10 * d + c % 7))
            items.append(f"p{own[d % 2]}")
    data = PurchaseSequences.from_arrays(cust, dates, items)
    result = evaluate_next_item(data, "2024-02-20", k=5, min_support=0.01)
    assert result["n_customers"] == 300
    rates = result["hit_rate"]
    assert rates["repeat"] == 1.0
    assert rates["popularity"] < 0.5
    assert result["winner"] == "repeat"


def test_evaluation_reports_the_patterns_when_they_predict_the_next_item():
    # Everyone walks the same chain s0, s1, s2, ... one step a month, having started 0-3
    # months before the others: the next step is never one of the customer's own items, and
    # the rule "s_i then s_(i+1)" is learnt from the customers ahead (only the customers
    # furthest ahead, a quarter, step onto an item nobody bought before the cut-off).
    rng = np.random.default_rng(5)
    cust, dates, items = [], [], []
    for c in range(400):
        ahead = int(rng.integers(0, 4))
        for step in range(10):
            cust.append(c)
            dates.append(pd.Timestamp("2024-01-01") + pd.Timedelta(days=30 * (step - ahead)))
            items.append(f"s{step}")
    data = PurchaseSequences.from_arrays(cust, dates, items)
    result = evaluate_next_item(data, "2024-05-15", k=1, min_support=0.01, max_gap=1)
    rates = result["hit_rate"]
    assert 0.6 < rates["patterns"] < 0.9
    assert rates["repeat"] == 0.0 and rates["popularity"] < 0.4
    assert result["winner"] == "patterns" and result["n_customers"] == 400
