"""Spark's FPGrowth gives the itemsets of the project's own algorithm (issue 15 point 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retento.analytics.basket import OrderLines, association_rules
from retento.analytics.basket import frequent_itemsets as local_itemsets
from retento.analytics.spark import frequent_itemsets


def _as_set(frame: pd.DataFrame) -> set[tuple[frozenset, int]]:
    return {
        (frozenset(map(str, s)), int(c))
        for s, c in zip(frame["itemsets"], frame["count"], strict=True)
    }


def test_same_itemsets_and_rules(spark, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    # 3,000 baskets over 40 items with popular items and two bundles.
    rows = []
    for order in range(3000):
        k = rng.integers(1, 6)
        items = set(rng.choice(40, size=k, p=np.r_[np.full(8, 0.06), np.full(32, 0.52 / 32)]))
        if rng.random() < 0.15:
            items |= {1, 2, 3}
        if rng.random() < 0.1:
            items |= {10, 11}
        rows += [(order, f"sku{i:02d}") for i in items]
    rows += [(5, "sku01"), (7, ""), (None, "sku04")]  # a repeated line, a blank, no order
    path = tmp_path / "lines.csv"
    pd.DataFrame(rows, columns=["order", "sku"]).to_csv(path, index=False)
    ref = local_itemsets(OrderLines.read(path, "order", "sku"), min_support=0.01)
    got, info = frequent_itemsets(spark, str(path), "order", "sku", min_support=0.01)
    assert info["n_baskets"] == 3000 and info["skipped"] == 2
    assert len(got) == len(ref) > 60
    assert _as_set(got) == _as_set(ref)
    assert got["length"].max() == ref["length"].max() >= 3
    np.testing.assert_allclose(sorted(got["support"]), sorted(ref["support"]), rtol=0, atol=1e-15)
    rules = association_rules(got, min_confidence=0.5)
    ref_rules = association_rules(ref, min_confidence=0.5)
    assert len(rules) == len(ref_rules) > 0
