"""Market-basket analysis (issue 13 point 2): exact against brute-force enumeration."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retento.analytics.basket import (
    BasketAnalysis,
    BudgetExceeded,
    association_rules,
    frequent_itemsets,
)


def brute_force(baskets: list[set], min_support: float, max_len: int | None = None) -> dict:
    n = len(baskets)
    items = sorted(set().union(*baskets)) if baskets else []
    out = {}
    longest = max((len(b) for b in baskets), default=0)  # no itemset is longer than a basket
    for r in range(1, min(max_len or longest, longest) + 1):
        for combo in combinations(items, r):
            c = sum(1 for b in baskets if set(combo) <= b)
            if c >= math.ceil(min_support * n - 1e-9) and c > 0:
                out[frozenset(combo)] = c
    return out


def lines(baskets: list[set]) -> tuple[list, list]:
    orders, items = [], []
    for k, b in enumerate(baskets):
        for i in sorted(b):
            orders.append(f"o{k}")
            items.append(i)
    return orders, items


@settings(max_examples=60, deadline=None)
@given(
    baskets=st.lists(
        st.sets(st.integers(min_value=0, max_value=9), min_size=1, max_size=6),
        min_size=1,
        max_size=40,
    ),
    min_support=st.sampled_from([0.05, 0.1, 0.2, 0.34, 0.5]),
    max_len=st.sampled_from([None, 1, 2, 3]),
)
def test_identical_to_brute_force_enumeration(baskets, min_support, max_len):
    orders, items = lines(baskets)
    got = frequent_itemsets(orders, items, min_support=min_support, max_len=max_len)
    found = {frozenset(s): c for s, c in zip(got["itemsets"], got["count"], strict=True)}
    assert found == brute_force(baskets, min_support, max_len)
    assert np.allclose(got["support"], got["count"] / len(baskets))


def test_repeated_lines_count_once_and_rule_measures_match_their_definitions():
    # 10 baskets: bread+butter in 4, bread alone 2, butter alone 1, jam in 3 (with bread in 1).
    baskets = [{"bread", "butter"}] * 4 + [{"bread"}] * 2 + [{"butter"}] + [{"jam"}] * 2
    baskets += [{"jam", "bread"}]
    orders, items = lines(baskets)
    orders, items = orders + ["o0"], items + ["bread"]  # a duplicate line in basket 0
    model = BasketAnalysis(min_support=0.1, min_confidence=0.5).fit(orders, items)
    sets = dict(
        zip(model.itemsets_["itemsets"].map(frozenset), model.itemsets_["count"], strict=True)
    )
    assert sets[frozenset({"bread"})] == 7 and sets[frozenset({"bread", "butter"})] == 4
    rule = model.rules_[
        (model.rules_["antecedents"] == ("butter",)) & (model.rules_["consequents"] == ("bread",))
    ].iloc[0]
    s_a, s_c, s_ac = 0.5, 0.7, 0.4
    assert rule["confidence"] == pytest.approx(s_ac / s_a)
    assert rule["lift"] == pytest.approx(s_ac / s_a / s_c)
    assert rule["leverage"] == pytest.approx(s_ac - s_a * s_c)
    assert rule["conviction"] == pytest.approx((1 - s_c) / (1 - s_ac / s_a))
    assert (model.rules_["confidence"] >= 0.5).all()
    assert model.n_baskets_ == 10 and model.n_items_ == 3
    # Suggestions: never an item already in the basket.
    assert [s[0] for s in model.recommend(["butter"])] == ["bread"]
    assert model.recommend(["butter", "bread"]) == []


def test_conviction_is_infinite_when_the_rule_always_holds():
    orders, items = lines([{"a", "b"}, {"a", "b"}, {"c"}])
    rules = association_rules(frequent_itemsets(orders, items, min_support=0.5))
    assert math.isinf(rules.loc[rules["antecedents"] == ("a",), "conviction"].iloc[0])


def test_caps_stop_with_a_clear_message_instead_of_exhausting_memory():
    rng = np.random.default_rng(0)
    # 200 baskets of 12 items out of 14: every combination is frequent at 1 %.
    baskets = [set(rng.choice(14, size=12, replace=False).tolist()) for _ in range(200)]
    orders, items = lines(baskets)
    with pytest.raises(BudgetExceeded, match="more than 1,000 frequent itemsets") as caught:
        frequent_itemsets(orders, items, min_support=0.01, max_itemsets=1000)
    assert caught.value.found > 1000
    with pytest.raises(BudgetExceeded, match="time budget"):
        frequent_itemsets(orders, items, min_support=0.01, time_budget=0.0)
    capped = frequent_itemsets(orders, items, min_support=0.01, max_len=2)
    assert capped["length"].max() == 2 and len(capped) == 14 + 91


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="min_support"):
        frequent_itemsets([1], ["a"], min_support=0)
    with pytest.raises(ValueError, match="same length"):
        frequent_itemsets([1, 2], ["a"], min_support=0.5)
    with pytest.raises(ValueError, match="missing"):
        frequent_itemsets(pd.Series([1, None]), ["a", "b"], min_support=0.5)
    with pytest.raises(ValueError, match="unknown parameter"):
        BasketAnalysis().set_params(support=0.1)
    assert frequent_itemsets([], [], min_support=0.5).empty


def test_the_sparse_product_path_for_many_items_finds_the_same_itemsets(monkeypatch):
    import retento.analytics.basket as basket

    rng = np.random.default_rng(3)
    baskets = [
        set(rng.choice(14, size=rng.integers(1, 6), replace=False).tolist()) for _ in range(150)
    ]
    orders, items = lines(baskets)
    dense = frequent_itemsets(orders, items, min_support=0.02)
    monkeypatch.setattr(basket, "_DENSE_PAIRS_MAX", 2)
    sparse_path = frequent_itemsets(orders, items, min_support=0.02)
    assert sparse_path.equals(dense)
    found = {frozenset(s): c for s, c in zip(dense["itemsets"], dense["count"], strict=True)}
    assert found == brute_force(baskets, 0.02)
