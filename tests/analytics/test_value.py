"""Customer-value library as a whole: shared input checks, vocabulary, docs examples, a
heavy-tailed population and a million customers through every function."""

from __future__ import annotations

import doctest
import time

import numpy as np
import pandas as pd
import pytest

import retento.analytics as A
from retento.analytics import cohorts, pyramid, rfm, stages, value


def test_public_api_is_exported_and_codes_match_the_stored_vocabulary():
    for name in (
        "rfm_scores",
        "value_pyramid",
        "pareto_curve",
        "value_labels",
        "loyalty_stage",
        "LoyaltyStageRules",
        "cohort_retention",
        "repeat_purchase_rate",
        "retention_rate",
        "retention_series",
        "PYRAMID_CLASSES",
        "VALUE_LABELS",
        "LOYALTY_STAGES",
    ):
        assert name in A.__all__ and hasattr(A, name)
    assert A.PYRAMID_CLASSES == ("vip", "major", "ordinary", "small", "below_zero")
    assert A.VALUE_LABELS == ("mvc", "mgc", "bz", "other")
    assert A.LOYALTY_STAGES == ("potential", "new", "regular", "old", "loyal")


@pytest.mark.parametrize("module", [rfm, pyramid, stages, cohorts])
def test_docstring_examples_hold(module):
    flags = doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, extraglobs={"pd": pd, "np": np}, optionflags=flags)
    assert result.attempted > 0 and result.failed == 0


def test_require_columns_names_the_missing_or_empty_column():
    df = pd.DataFrame({"a": [1], "b": [2]})
    value.require_columns(df, ["a", "b"])
    with pytest.raises(ValueError, match=r"column 'x' not found in orders; columns are: a, b"):
        value.require_columns(df, ["a", "x"], "orders")
    with pytest.raises(ValueError, match=r"column 'b' is empty: orders has no rows"):
        value.require_columns(df.iloc[:0], ["b", "a"], "orders")
    with pytest.raises(TypeError, match="DataFrame"):
        value.require_columns([1, 2], ["a"])


def test_numeric_and_dates_checks():
    s = value.numeric(pd.Series(["1", 2.5], index=["x", "y"]), "amount")
    assert s.tolist() == [1.0, 2.5] and s.index.tolist() == ["x", "y"]
    with pytest.raises(TypeError, match="one column"):
        value.numeric(pd.DataFrame({"a": [1]}), "amount")
    with pytest.raises(ValueError, match="'amount' has 1 negative"):
        value.numeric([1, -1], "amount", allow_negative=False)
    d = value.datetimes(pd.Series(["2024-01-01", "2024-01-02 10:30", "20240103"]), "when")
    assert d.dt.day.tolist() == [1, 2, 3]
    assert value.timestamp("2024-01-01T01:00+01:00", "start") == pd.Timestamp("2024-01-01")
    with pytest.raises(ValueError, match="start is missing"):
        value.timestamp(None, "start")


def test_pyramid_shares_on_a_heavy_tailed_population_are_reported_correctly():
    rng = np.random.default_rng(7)
    n = 200_000
    profit = pd.Series(rng.pareto(1.3, n) * 40.0 - 8.0, index=np.arange(n) + 10_000)
    res = A.value_pyramid(profit)
    s = res.summary

    # Independent computation from the sorted profits.
    ordered = np.sort(profit.to_numpy())[::-1]
    total = ordered.sum()
    vip, major = ordered[:10_000], ordered[10_000:40_000]
    rest = ordered[40_000:]
    expected_profit = [vip.sum(), major.sum(), rest[rest >= 0].sum(), 0.0, rest[rest < 0].sum()]
    assert s["profit"].tolist() == pytest.approx(expected_profit, rel=1e-9, abs=1e-6)
    assert s["profit_share"].tolist() == pytest.approx(
        [p / total for p in expected_profit], rel=1e-9, abs=1e-12
    )
    assert s["profit_share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert s["customers"].sum() == n and s["customer_share"].sum() == pytest.approx(1.0)
    assert s.loc["vip", "customer_share"] == 0.05 and s.loc["major", "customer_share"] == 0.15
    assert s.loc["below_zero", "customers"] == (profit < 0).sum()
    # The summary agrees with the per-customer classes and with the Pareto curve.
    by_class = profit.groupby(res.classes).sum()
    assert by_class["vip"] == pytest.approx(s.loc["vip", "profit"])
    curve = A.pareto_curve(profit)
    assert s.loc["vip", "profit_share"] == pytest.approx(curve.top_share(0.05))
    assert s.loc["major", "profit_share"] == pytest.approx(
        curve.top_share(0.20) - curve.top_share(0.05)
    )
    # Heavy tail: the 5 % VIPs bring far more than 5 % of profit; classes are ordered by profit.
    assert s.loc["vip", "profit_share"] > 0.3
    assert s.loc["vip", "min_profit"] >= s.loc["major", "max_profit"]
    assert s.loc["major", "min_profit"] >= s.loc["ordinary", "max_profit"]
    assert curve.peak[1] > 1.0 and curve.profit_share[-1] == pytest.approx(1.0)


@pytest.mark.slow
def test_a_million_customers_through_every_function():
    rng = np.random.default_rng(11)
    n = 1_000_000
    profit = pd.Series(rng.pareto(1.5, n) * 20.0 - 3.0)
    orders = rng.poisson(2, n) + 1
    summary = pd.DataFrame(
        {
            "days_since_last": rng.integers(0, 700, n),
            "order_count": orders,
            "revenue": rng.gamma(2.0, 50.0, n),
            "tenure_days": rng.integers(0, 1500, n),
        }
    )
    tx = pd.DataFrame(
        {
            "customer": rng.integers(0, n, 2 * n),
            "date": pd.Timestamp("2022-01-01")
            + pd.to_timedelta(rng.integers(0, 1000, 2 * n), unit="D"),
        }
    )
    started = time.perf_counter()
    scores = A.rfm_scores(summary)
    classes = A.value_pyramid(profit).classes
    curve = A.pareto_curve(profit)
    labels = A.value_labels(profit, profit * rng.lognormal(0.0, 1.0, n))
    stage = A.loyalty_stage(summary)
    matrix = A.cohort_retention(tx, "customer", "date")
    rate = A.repeat_purchase_rate(tx, "customer", "date", within_days=90)
    series = A.retention_series(tx, "customer", "date", period="Q")
    elapsed = time.perf_counter() - started
    assert len(scores) == len(classes) == len(labels) == len(stage) == n
    assert scores["f"].between(1, 5).all() and 0 < curve.point_80 < 1
    assert matrix.sizes.sum() == tx["customer"].nunique() and 0 < rate < 1
    assert series["rate"].between(0, 1).all()
    assert elapsed < 60  # a few seconds in practice; generous for slow CI machines
