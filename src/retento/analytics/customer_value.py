r"""Customer value classification: RFM, value pyramid, Pareto curve, MVC/MGC/BZ, loyalty stages,
cohort retention, repeat-purchase and retention rates.

All functions are vectorised over pandas/NumPy and take plain per-customer or per-transaction
data, so they run on millions of customers in seconds.

References
----------
- Hughes, A. M. (1994). *Strategic Database Marketing* (RFM scoring).
- Curry, J. & Curry, A. (2000). *The Customer Marketing Method* (the customer pyramid).
- Zeithaml, V., Rust, R. & Lemon, K. (2001). The customer pyramid: creating and serving
  profitable customers. *California Management Review* 43(4).
- Storbacka, K. (1997). Segmentation based on customer profitability (the 8/2/3 rule:
  the most valuable customers, the most growable customers and below-zero customers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CohortMatrix",
    "LoyaltyStageRules",
    "ParetoCurve",
    "PyramidResult",
    "cohort_retention",
    "loyalty_stage",
    "pareto_curve",
    "repeat_purchase_rate",
    "retention_rate",
    "rfm_scores",
    "value_labels",
    "value_pyramid",
]

PYRAMID_CLASSES = ("vip", "major", "ordinary", "small", "below_zero")


def _series(values: Any, name: str) -> pd.Series:
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=float))
    if len(s) == 0:
        raise ValueError(f"{name} is empty: at least one customer is needed")
    s = pd.to_numeric(s, errors="coerce")
    if s.isna().any():
        raise ValueError(f"{name} has {int(s.isna().sum())} missing or non-numeric values")
    return s.astype(float)


def _need(df: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s): {', '.join(missing)}")
    if len(df) == 0:
        raise ValueError(f"no rows: column {cols[0]} is empty")


def _bin_scores(values: pd.Series, bins: int, higher_is_better: bool) -> pd.Series:
    """Rank-based 1..bins scores; tied values always share a score (so qcut never fails)."""
    v = values if higher_is_better else -values
    pct = v.rank(method="average", pct=True)
    return np.ceil(pct * bins).clip(1, bins).astype(int)


def rfm_scores(
    data: pd.DataFrame,
    recency_col: str = "days_since_last",
    frequency_col: str = "order_count",
    monetary_col: str = "revenue",
    *,
    bins: int = 5,
) -> pd.DataFrame:
    r"""RFM scores 1..``bins`` per customer (``bins`` best), the cell ("555") and the total.

    Each dimension is scored by its percentile rank :math:`p` (average rank for ties) as
    :math:`\lceil p \cdot \text{bins} \rceil`; recency is scored so that *fewer* days since the
    last purchase score higher. Rank-based scoring handles heavily tied data (many one-time
    buyers) deterministically, unlike quantile cuts.

    Returns
    -------
    DataFrame with columns ``r``, ``f``, ``m``, ``cell`` and ``score`` (r + f + m), same index.
    """
    _need(data, [recency_col, frequency_col, monetary_col])
    if bins < 2:
        raise ValueError("bins must be at least 2")
    r = _bin_scores(_series(data[recency_col], recency_col), bins, higher_is_better=False)
    f = _bin_scores(_series(data[frequency_col], frequency_col), bins, higher_is_better=True)
    m = _bin_scores(_series(data[monetary_col], monetary_col), bins, higher_is_better=True)
    out = pd.DataFrame({"r": r, "f": f, "m": m}, index=data.index)
    out["cell"] = out["r"].astype(str) + out["f"].astype(str) + out["m"].astype(str)
    out["score"] = out["r"] + out["f"] + out["m"]
    return out


@dataclass
class PyramidResult:
    """Per-customer class and the actual shares next to the rule."""

    classes: pd.Series
    summary: pd.DataFrame
    cutoffs: tuple[float, float, float]
    small_threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoffs": list(self.cutoffs),
            "small_threshold": self.small_threshold,
            "classes": [
                {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
                for row in self.summary.reset_index().to_dict(orient="records")
            ],
        }


def value_pyramid(
    profit: pd.Series | np.ndarray,
    cutoffs: tuple[float, float, float] = (0.05, 0.15, 0.80),
    *,
    small_threshold: float = 0.0,
) -> PyramidResult:
    r"""The customer value pyramid (客户金字塔) by profit contribution.

    Rule: customers are ranked by profit, highest first, and cut by their share of *all*
    customers: the top ``cutoffs[0]`` are **VIP** (贵宾型), the next ``cutoffs[1]`` **major**
    (重要型), the next ``cutoffs[2]`` **ordinary** (普通型). Two base classes take precedence over
    rank: **below_zero** (负值) = profit < 0, and **small** (小客户) = 0 ≤ profit ≤
    ``small_threshold`` (customers who bring nothing yet), plus anyone ranked beyond the three
    bands. The literature's picture is VIP ≈ 5 % of customers giving ≈ 50 % of profit, major
    ≈ 15 % giving ≈ 30 %, ordinary ≈ 80 % giving ≈ 20 %; ``summary`` reports the real shares.

    Returns
    -------
    PyramidResult
        ``classes`` (same index as ``profit``) and ``summary`` indexed by class with
        ``customers``, ``customer_share``, ``rule_share``, ``profit``, ``profit_share``,
        ``min_profit`` and ``max_profit``. ``profit_share`` is the class's share of the net
        total profit, so the shares sum to 1 (below-zero contributes a negative share).
    """
    p = _series(profit, "profit")
    if len(cutoffs) != 3 or any(c < 0 for c in cutoffs) or sum(cutoffs) > 1 + 1e-9:
        raise ValueError("cutoffs must be three non-negative shares summing to at most 1")
    n = len(p)
    order = np.argsort(-p.to_numpy(), kind="stable")
    position = np.empty(n, dtype=float)
    position[order] = (np.arange(n) + 1) / n  # share of customers at or above this one
    bounds = np.cumsum(cutoffs)
    cls = np.select(
        [
            position <= bounds[0] + 1e-12,
            position <= bounds[1] + 1e-12,
            position <= bounds[2] + 1e-12,
        ],
        ["vip", "major", "ordinary"],
        default="small",
    ).astype(object)
    values = p.to_numpy()
    cls[(values >= 0) & (values <= small_threshold)] = "small"
    cls[values < 0] = "below_zero"
    classes = pd.Series(cls, index=p.index, name="value_class")
    total = float(values.sum())
    rule = {
        "vip": cutoffs[0],
        "major": cutoffs[1],
        "ordinary": cutoffs[2],
        "small": np.nan,
        "below_zero": np.nan,
    }
    grouped = pd.DataFrame({"c": cls, "p": values}).groupby("c")["p"]
    agg = grouped.agg(["count", "sum", "min", "max"]).reindex(PYRAMID_CLASSES)
    summary = pd.DataFrame(
        {
            "customers": agg["count"].fillna(0).astype(int),
            "customer_share": agg["count"].fillna(0) / n,
            "rule_share": pd.Series(rule),
            "profit": agg["sum"].fillna(0.0),
            "profit_share": (agg["sum"].fillna(0.0) / total) if total != 0 else np.nan,
            "min_profit": agg["min"],
            "max_profit": agg["max"],
        }
    )
    summary.index.name = "value_class"
    summary = summary.astype(object).where(pd.notna(summary), None)
    return PyramidResult(classes, summary, tuple(cutoffs), small_threshold)


@dataclass
class ParetoCurve:
    """Cumulative share of profit against cumulative share of customers (best first)."""

    customer_share: np.ndarray
    profit_share: np.ndarray
    n_customers: int
    total_profit: float
    _sorted: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    def top_share(self, x: float) -> float:
        """Share of total profit earned by the top ``x`` (0–1) of customers."""
        if not 0 <= x <= 1:
            raise ValueError("x must be between 0 and 1")
        k = int(np.ceil(x * self.n_customers))
        if self.total_profit == 0:
            return float("nan")
        return float(self._sorted[:k].sum() / self.total_profit)

    def point(self, target: float = 0.8) -> float:
        """Smallest share of customers whose profit reaches ``target`` of the total (the 80/20 point)."""
        cum = np.cumsum(self._sorted) / self.total_profit if self.total_profit else np.zeros(1)
        idx = int(np.searchsorted(cum, target - 1e-12))
        return float(min(idx + 1, self.n_customers) / self.n_customers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_share": [round(float(v), 4) for v in self.customer_share],
            "profit_share": [round(float(v), 4) for v in self.profit_share],
            "point_80": self.point(0.8),
            "top_20_share": self.top_share(0.2),
            "top_5_share": self.top_share(0.05),
            "customers": self.n_customers,
            "total_profit": self.total_profit,
        }


def pareto_curve(profit: pd.Series | np.ndarray, points: int = 101) -> ParetoCurve:
    r"""Pareto (Lorenz-style) curve of profit: :math:`L(x)` = share of profit from the top x.

    With below-zero customers the curve rises above 1 before the negative profits at the tail
    pull it back to exactly 1 at :math:`x = 1` (the 8/2/3 picture: the top customers earn more
    than the total, the bottom destroy value).
    """
    p = _series(profit, "profit").to_numpy()
    s = np.sort(p)[::-1]
    total = float(s.sum())
    cum = np.concatenate([[0.0], np.cumsum(s)])
    xs = np.linspace(0.0, 1.0, max(points, 2))
    idx = np.ceil(xs * len(s)).astype(int)
    ys = cum[idx] / total if total != 0 else np.full(len(xs), np.nan)
    return ParetoCurve(xs, ys, len(s), total, s)


def value_labels(
    profit: pd.Series | np.ndarray,
    predicted_value: pd.Series | np.ndarray,
    *,
    mvc_share: float = 0.20,
    mgc_share: float = 0.20,
    min_rank_gap: float = 0.25,
) -> pd.Series:
    r"""MVC / MGC / BZ labels of the 8/2/3 rule.

    - **bz** (below zero): profit < 0.
    - **mvc** (most valuable): the top ``mvc_share`` of customers by current profit.
    - **mgc** (most growable): not MVC, in the top ``mgc_share`` by predicted future value
      (e.g. CLV), and ranked at least ``min_rank_gap`` (as a share of customers) better by
      predicted value than by current profit — high future value relative to profit today.
    - **other**: everyone else.
    """
    p = _series(profit, "profit")
    v = _series(predicted_value, "predicted_value")
    if len(p) != len(v):
        raise ValueError("profit and predicted_value must have the same length")
    pr = p.rank(method="average", pct=True, ascending=False).to_numpy()
    vr = pd.Series(v.to_numpy()).rank(method="average", pct=True, ascending=False).to_numpy()
    pv = p.to_numpy()
    labels = np.full(len(p), "other", dtype=object)
    mvc = (pr <= mvc_share) & (pv > 0)
    mgc = ~mvc & (vr <= mgc_share) & ((pr - vr) >= min_rank_gap)
    labels[mgc] = "mgc"
    labels[mvc] = "mvc"
    labels[pv < 0] = "bz"
    return pd.Series(labels, index=p.index, name="label")


@dataclass(frozen=True)
class LoyaltyStageRules:
    """Thresholds of the loyalty stages (all configurable).

    potential: no purchase yet. new: one purchase, or first purchase less than ``new_days`` ago.
    loyal: tenure ≥ ``long_tenure_days`` and ≥ ``loyal_per_year`` purchases a year and last
    purchase within ``recent_days``. regular (经常性): ≥ ``regular_per_year`` purchases a year.
    old (老客户): tenure ≥ ``old_tenure_days`` but not frequent. Customers matching none of
    these (young, infrequent repeaters) are new. ``lapsed`` is a separate flag: no purchase for
    more than ``lapsed_days``.
    """

    new_days: int = 90
    regular_per_year: float = 2.0
    loyal_per_year: float = 4.0
    long_tenure_days: int = 730
    old_tenure_days: int = 365
    recent_days: int = 180
    lapsed_days: int = 365


def loyalty_stage(
    data: pd.DataFrame,
    rules: LoyaltyStageRules = LoyaltyStageRules(),
    *,
    order_count_col: str = "order_count",
    tenure_col: str = "tenure_days",
    since_last_col: str = "days_since_last",
) -> pd.DataFrame:
    """Loyalty stage (potential → new → regular → old → loyal) and the lapsed flag per customer."""
    _need(data, [order_count_col, tenure_col, since_last_col])
    n = data[order_count_col].fillna(0).to_numpy(float)
    tenure = data[tenure_col].fillna(0).to_numpy(float)
    since = data[since_last_col].fillna(np.inf).to_numpy(float)
    per_year = n / np.maximum(tenure, 365.0) * 365.0
    stage = np.select(
        [
            n <= 0,
            (n == 1) | (tenure < rules.new_days),
            (tenure >= rules.long_tenure_days)
            & (per_year >= rules.loyal_per_year)
            & (since <= rules.recent_days),
            (per_year >= rules.regular_per_year) & (since <= rules.lapsed_days),
            tenure >= rules.old_tenure_days,
        ],
        ["potential", "new", "loyal", "regular", "old"],
        default="new",
    )
    lapsed = (n > 0) & (since > rules.lapsed_days)
    return pd.DataFrame({"stage": stage, "lapsed": lapsed}, index=data.index)


@dataclass
class CohortMatrix:
    """Cohort retention: rows = acquisition period, columns = periods since acquisition."""

    shares: pd.DataFrame
    counts: pd.DataFrame
    sizes: pd.Series

    def to_dict(self) -> dict[str, Any]:
        return {
            "cohorts": [str(c) for c in self.shares.index],
            "periods": [int(c) for c in self.shares.columns],
            "sizes": [int(v) for v in self.sizes],
            "shares": [
                [None if pd.isna(v) else round(float(v), 4) for v in row]
                for row in self.shares.to_numpy()
            ],
        }


def _period_index(dates: pd.Series, period: str) -> np.ndarray:
    d = pd.to_datetime(dates, errors="raise")
    if period == "M":
        return (d.dt.year * 12 + d.dt.month - 1).to_numpy()
    if period == "Q":
        return (d.dt.year * 4 + (d.dt.month - 1) // 3).to_numpy()
    if period == "Y":
        return d.dt.year.to_numpy()
    raise ValueError("period must be 'M', 'Q' or 'Y'")


def _period_label(idx: int, period: str) -> str:
    if period == "M":
        return f"{idx // 12:04d}-{idx % 12 + 1:02d}"
    if period == "Q":
        return f"{idx // 4:04d}-Q{idx % 4 + 1}"
    return f"{idx:04d}"


def cohort_retention(
    transactions: pd.DataFrame, customer_col: str, datetime_col: str, *, period: str = "M"
) -> CohortMatrix:
    """Share of each acquisition cohort that buys again k periods after its first purchase."""
    _need(transactions, [customer_col, datetime_col])
    per = _period_index(transactions[datetime_col], period)
    df = pd.DataFrame({"c": transactions[customer_col].to_numpy(), "p": per}).drop_duplicates()
    first = df.groupby("c")["p"].transform("min")
    df["cohort"] = first
    df["age"] = df["p"] - first
    counts = df.pivot_table(
        index="cohort", columns="age", values="c", aggfunc="count", fill_value=0
    )
    sizes = counts[0]
    shares = counts.div(sizes, axis=0)
    # Ages a cohort has not lived through yet are unknown, not zero.
    last = int(df["p"].max())
    for cohort in shares.index:
        shares.loc[cohort, shares.columns > last - cohort] = np.nan
    labels = [_period_label(int(i), period) for i in counts.index]
    counts.index = shares.index = sizes.index = labels
    return CohortMatrix(shares, counts, sizes)


def repeat_purchase_rate(order_counts: pd.Series | np.ndarray) -> float:
    """Share of buying customers with at least two purchases."""
    n = _series(order_counts, "order_counts").to_numpy()
    buyers = n >= 1
    return float((n[buyers] >= 2).mean()) if buyers.any() else 0.0


def retention_rate(
    transactions: pd.DataFrame, customer_col: str, datetime_col: str, *, period: str = "Y"
) -> pd.Series:
    """Per period: share of customers active in the previous period who are active again."""
    _need(transactions, [customer_col, datetime_col])
    per = _period_index(transactions[datetime_col], period)
    df = pd.DataFrame({"c": transactions[customer_col].to_numpy(), "p": per}).drop_duplicates()
    active = df.groupby("p")["c"].apply(set)
    periods = sorted(active.index)
    rates = {}
    for prev, cur in zip(periods, periods[1:], strict=False):
        if cur != prev + 1:
            continue
        base = active[prev]
        rates[_period_label(cur, period)] = len(base & active[cur]) / len(base) if base else np.nan
    return pd.Series(rates, name="retention_rate", dtype=float)
