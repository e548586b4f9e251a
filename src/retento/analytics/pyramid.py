r"""Profit-based customer value: the value pyramid, the Pareto curve and the 8/2/3 labels.

- :func:`value_pyramid`: the customer pyramid (客户金字塔) by profit contribution, with the actual
  customer and profit shares of each class next to the rule.
- :func:`pareto_curve`: cumulative share of profit against cumulative share of customers.
- :func:`value_labels`: MVC (most valuable), MGC (most growable) and BZ (below zero) customers.

References
----------
- Zeithaml, V. A., Rust, R. T. & Lemon, K. N. (2001). The customer pyramid: creating and
  serving profitable customers. *California Management Review* 43(4), 118-142.
- Storbacka, K. (1997). Segmentation based on customer profitability: retrospective analysis of
  retail bank customer bases. *Journal of Marketing Management* 13(5), 479-492.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retento.analytics.value import PYRAMID_CLASSES, numeric, quota, share, top_rank

__all__ = ["ParetoCurve", "PyramidResult", "pareto_curve", "value_labels", "value_pyramid"]

#: The literature's picture of the pyramid: share of profit from VIP, major and ordinary.
REFERENCE_PROFIT_SHARES: tuple[float, float, float] = (0.50, 0.30, 0.20)


def _json(v: Any) -> Any:
    """A JSON-ready scalar: NumPy scalars to Python, NaN to ``None``."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


@dataclass
class PyramidResult:
    """Result of :func:`value_pyramid`.

    Attributes
    ----------
    classes : pandas.Series
        Class code per customer (``vip``, ``major``, ``ordinary``, ``small``, ``below_zero``),
        same index as the input, named ``value_class``.
    summary : pandas.DataFrame
        One row per class (all five, in pyramid order, index ``value_class``) with
        ``customers``, ``customer_share`` (actual), ``rule_share`` (the cut-off; NaN for small
        and below-zero), ``profit``, ``profit_share`` (share of the net total profit; the five
        shares sum to 1, below-zero's is negative; NaN when the net total is not positive,
        as shares of it are meaningless), ``reference_profit_share`` (the
        literature's 50/30/20 %), ``min_profit`` and ``max_profit`` (NaN for an empty class).
    cutoffs : tuple of float
        The cut-offs used.
    small_threshold : float
        The effective profit threshold of the small class.
    total_profit : float
        Net total profit of all customers.
    """

    classes: pd.Series
    summary: pd.DataFrame
    cutoffs: tuple[float, float, float]
    small_threshold: float
    total_profit: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: cut-offs, threshold, totals and one record per class."""
        records = self.summary.reset_index().to_dict(orient="records")
        return {
            "cutoffs": [float(c) for c in self.cutoffs],
            "small_threshold": float(self.small_threshold),
            "total_profit": _json(float(self.total_profit)),
            "customers": int(self.summary["customers"].sum()),
            "classes": [{k: _json(v) for k, v in row.items()} for row in records],
        }


def value_pyramid(
    profit: pd.Series | np.ndarray,
    cutoffs: tuple[float, float, float] = (0.05, 0.15, 0.80),
    *,
    small_threshold: float = 0.0,
    small_fraction_of_mean: float = 0.0,
    reference_profit_shares: tuple[float, float, float] = REFERENCE_PROFIT_SHARES,
) -> PyramidResult:
    r"""Classify customers into the value pyramid (客户金字塔) by profit contribution.

    The rule, applied in this order:

    1. **below_zero** (负值): profit < 0, whatever the rank.
    2. **small** (小客户): 0 ≤ profit ≤ *threshold*, where *threshold* =
       max(``small_threshold``, ``small_fraction_of_mean`` × mean profit of all customers).
       With the defaults that is exactly the zero-profit customers (e.g. those who have not
       bought yet). Raise the threshold to move positive-but-tiny customers out of ordinary.
    3. All customers are ranked by profit, highest first, and cut by their share of **all**
       customers: ranks up to ⌊``cutoffs[0]``·n⌋ are **vip** (贵宾型), up to
       ⌊(``cutoffs[0]`` + ``cutoffs[1]``)·n⌋ **major** (重要型), up to
       ⌊(``cutoffs[0]`` + ``cutoffs[1]`` + ``cutoffs[2]``)·n⌋ **ordinary** (普通型); anyone
       ranked beyond (when the cut-offs sum to less than 1) is **small**.

    Tied profits share the average rank of their group, so identical customers always get the
    same class: a tied group straddling a boundary goes to the class where most of it falls
    (exactly half: the lower class), so a class can differ from its cut-off by at most half a
    tied group; ``summary`` shows the real shares. Quotas are
    rounded down, so with fewer than 20 customers the VIP class is empty under the default
    5 % cut-off. Classes 1–2 take precedence over rank, so VIP/major/ordinary shares of
    customers can be lower than the cut-offs when many customers are small or below zero.

    The literature's picture is VIP ≈ 5 % of customers giving ≈ 50 % of profit, major ≈ 15 %
    giving ≈ 30 %, ordinary ≈ 80 % giving ≈ 20 %; ``summary`` reports the actual shares of
    customers and of profit next to these rule values.

    Parameters
    ----------
    profit : Series or array-like
        Profit contribution per customer (one value per customer; the Series index is kept).
    cutoffs : tuple of three floats
        Shares of customers in the VIP, major and ordinary bands; non-negative, sum ≤ 1.
    small_threshold : float
        Absolute profit at or below which a non-negative customer is small (≥ 0).
    small_fraction_of_mean : float
        Relative small threshold as a multiple of the mean profit (≥ 0; 0 disables it).
    reference_profit_shares : tuple of three floats
        Expected profit shares of VIP, major and ordinary, reported in ``summary``.

    Returns
    -------
    PyramidResult
        Per-customer ``classes`` and the per-class ``summary``.

    Raises
    ------
    ValueError
        Empty ``profit``, missing or non-numeric values, invalid cut-offs or thresholds.

    Examples
    --------
    >>> res = value_pyramid(pd.Series([500.0] + [100.0] * 3 + [10.0] * 14 + [0.0, -20.0]))
    >>> res.classes.value_counts().to_dict()
    {'ordinary': 14, 'major': 3, 'vip': 1, 'small': 1, 'below_zero': 1}
    """
    p = numeric(profit, "profit")
    cut = tuple(float(c) for c in cutoffs)
    if len(cut) != 3 or any(c < 0 for c in cut) or sum(cut) > 1 + 1e-9:
        raise ValueError(
            f"cutoffs must be three non-negative shares summing to at most 1: {cutoffs!r}"
        )
    if small_threshold < 0 or small_fraction_of_mean < 0:
        raise ValueError("small_threshold and small_fraction_of_mean must be non-negative")
    values = p.to_numpy()
    n = len(values)
    total = float(values.sum())
    threshold = max(float(small_threshold), float(small_fraction_of_mean) * total / n)
    rank = top_rank(values)
    bounds = np.cumsum(cut)
    cls = np.select(
        [
            values < 0,
            values <= threshold,
            rank <= quota(bounds[0], n),
            rank <= quota(bounds[1], n),
            rank <= quota(bounds[2], n),
        ],
        ["below_zero", "small", "vip", "major", "ordinary"],
        default="small",
    )
    classes = pd.Series(cls, index=p.index, name="value_class")
    codes = pd.Categorical(cls, categories=PYRAMID_CLASSES)
    agg = (
        pd.DataFrame({"c": codes, "p": values})
        .groupby("c", observed=False)["p"]
        .agg(["count", "sum", "min", "max"])
    )
    rule = pd.Series(list(cut) + [np.nan, np.nan], index=PYRAMID_CLASSES)
    ref = pd.Series(list(reference_profit_shares) + [np.nan, np.nan], index=PYRAMID_CLASSES)
    summary = pd.DataFrame(
        {
            "customers": agg["count"].astype(np.int64),
            "customer_share": agg["count"] / n,
            "rule_share": rule,
            "profit": agg["sum"].astype(float),
            "profit_share": agg["sum"] / total if total > 0 else np.nan,
            "reference_profit_share": ref,
            "min_profit": agg["min"],
            "max_profit": agg["max"],
        },
        index=pd.Index(PYRAMID_CLASSES, name="value_class"),
    )
    return PyramidResult(classes, summary, cut, threshold, total)  # type: ignore[arg-type]


@dataclass
class ParetoCurve:
    """Cumulative share of profit against cumulative share of customers, best customers first.

    Attributes
    ----------
    customer_share : numpy.ndarray
        Evenly spaced shares of customers from 0 to 1 (``points`` values).
    profit_share : numpy.ndarray
        Share of the net total profit earned by the top ``customer_share`` of customers
        (linear between customers; NaN everywhere when the net total is not positive).
    n_customers : int
        Number of customers.
    total_profit : float
        Net total profit.
    """

    customer_share: np.ndarray
    profit_share: np.ndarray
    n_customers: int
    total_profit: float
    _cumulative: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(1))

    def _curve(self, x: np.ndarray) -> np.ndarray:
        """L(x) by linear interpolation between whole customers."""
        if self.total_profit <= 0:
            return np.full(np.shape(x), np.nan)
        pos = np.asarray(x, dtype=float) * self.n_customers
        return np.interp(pos, np.arange(self.n_customers + 1), self._cumulative) / self.total_profit

    def top_share(self, x: float) -> float:
        """Share of the net total profit earned by the top ``x`` (0–1) of customers.

        Between whole customers the curve is linear (each customer's profit is spread over
        its 1/n of the axis). Can exceed 1 when there are below-zero customers; NaN when the
        net total profit is not positive.
        """
        share(x, "x")
        return float(self._curve(np.array([x]))[0])

    def point(self, target: float = 0.8) -> float:
        """Smallest share of (whole) customers whose profit reaches ``target`` of the total.

        ``point(0.8)`` is the "80/20 point": the share of customers, best first, needed for
        80 % of profit. NaN when the net total profit is not positive or ``target`` is above
        the curve's peak.
        """
        if not target > 0:
            raise ValueError(f"target must be positive, got {target!r}")
        if self.total_profit <= 0:
            return float("nan")
        reached = self._cumulative >= target * self.total_profit * (1 - 1e-12)
        if not reached.any():
            return float("nan")
        return float(np.argmax(reached) / self.n_customers)

    @property
    def point_80(self) -> float:
        """The 80/20 point: ``point(0.8)``."""
        return self.point(0.8)

    @property
    def peak(self) -> tuple[float, float]:
        """(customer share, profit share) where the curve peaks: the last non-negative customer.

        With below-zero customers the peak profit share is above 1: the customers up to there
        earn more than the whole base, the rest destroy value.
        """
        if self.total_profit <= 0:
            return (float("nan"), float("nan"))
        k = int(np.argmax(self._cumulative))
        return (k / self.n_customers, float(self._cumulative[k] / self.total_profit))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready curve (rounded to 4 decimals) and the headline numbers."""
        peak_x, peak_y = self.peak
        return {
            "customer_share": [round(float(v), 4) for v in self.customer_share],
            "profit_share": [_json(round(float(v), 4)) for v in self.profit_share],
            "point_80": _json(self.point_80),
            "top_5_share": _json(self.top_share(0.05)),
            "top_20_share": _json(self.top_share(0.2)),
            "peak_customer_share": _json(peak_x),
            "peak_profit_share": _json(peak_y),
            "customers": self.n_customers,
            "total_profit": float(self.total_profit),
        }


def pareto_curve(profit: pd.Series | np.ndarray, points: int = 101) -> ParetoCurve:
    r"""Pareto curve of profit: :math:`L(x)` = share of profit earned by the top :math:`x`.

    Customers are sorted by profit, highest first; :math:`L(k/n)` is the cumulative profit of
    the first :math:`k` customers divided by the net total, linear in between. Without
    negative profits the curve rises from 0 to 1 and is concave. With below-zero customers it
    rises **above 1** (the profitable customers earn more than the net total), stays flat over
    zero-profit customers and comes back down to exactly 1 at :math:`x = 1` as the negative
    profits at the tail are added (the "whale curve" of the 8/2/3 rule). If the net total is
    zero or negative, shares of it are meaningless and the profit shares are NaN.

    Parameters
    ----------
    profit : Series or array-like
        Profit contribution per customer.
    points : int
        Number of evenly spaced points of the returned curve (≥ 2).

    Returns
    -------
    ParetoCurve
        The sampled curve plus helpers ``top_share(x)``, ``point(target)`` / ``point_80`` and
        ``peak``.

    Examples
    --------
    >>> c = pareto_curve([60.0, 30.0, 20.0, 0.0, -10.0])
    >>> c.top_share(0.2), c.point_80, c.peak
    (0.6, 0.4, (0.6, 1.1))
    """
    if isinstance(points, bool) or not isinstance(points, int | np.integer) or points < 2:
        raise ValueError(f"points must be an integer ≥ 2, got {points!r}")
    values = numeric(profit, "profit").to_numpy()
    ordered = np.sort(values)[::-1]
    cumulative = np.concatenate([[0.0], np.cumsum(ordered)])
    total = float(cumulative[-1])
    curve = ParetoCurve(
        np.linspace(0.0, 1.0, int(points)), np.empty(0), len(values), total, cumulative
    )
    curve.profit_share = curve._curve(curve.customer_share)
    return curve


def value_labels(
    profit: pd.Series | np.ndarray,
    predicted_value: pd.Series | np.ndarray,
    *,
    mvc_share: float = 0.20,
    mgc_share: float = 0.20,
    min_rank_gap: float = 0.25,
) -> pd.Series:
    r"""Label customers MVC, MGC or BZ (the 8/2/3 rule); everyone else is ``other``.

    Customers are ranked by current ``profit`` and by ``predicted_value`` (e.g. CLV), highest
    first (rank 1 = highest), tied values sharing the average rank of their group. With n
    customers, in order of precedence:

    - **bz** (below zero): profit < 0.
    - **mvc** (most valuable): positive profit and profit rank ≤ ⌊``mvc_share``·n⌋.
    - **mgc** (most growable): not MVC, predicted-value rank ≤ ⌊``mgc_share``·n⌋, and the
      predicted-value rank better than the profit rank by at least ``min_rank_gap``·n
      places: a low share of profit today but high predicted future value.
    - **other**.

    Parameters
    ----------
    profit : Series or array-like
        Current profit contribution per customer.
    predicted_value : Series or array-like
        Predicted future value per customer, same customers (aligned on the index when both are
        Series, otherwise by position).
    mvc_share : float
        Share of customers, by profit, that are MVC candidates (default top 20 %).
    mgc_share : float
        Share of customers, by predicted value, that are MGC candidates (default top 20 %).
    min_rank_gap : float
        How much better (as a share of customers) the predicted-value rank must be than the
        profit rank for MGC; 0 makes every non-MVC top-``mgc_share`` customer MGC.

    Returns
    -------
    pandas.Series
        ``mvc``, ``mgc``, ``bz`` or ``other`` per customer, index of ``profit``, name ``label``.

    Examples
    --------
    >>> value_labels([100.0, 1.0, 2.0, 3.0, -5.0], [90.0, 500.0, 1.0, 1.0, 1.0],
    ...              mvc_share=0.2, mgc_share=0.4).tolist()
    ['mvc', 'mgc', 'other', 'other', 'bz']
    """
    p = numeric(profit, "profit")
    v = numeric(predicted_value, "predicted_value")
    if isinstance(profit, pd.Series) and isinstance(predicted_value, pd.Series):
        if not v.index.equals(p.index):
            if not p.index.is_unique or not v.index.is_unique or len(v) != len(p):
                raise ValueError("profit and predicted_value must cover the same customers")
            v = v.reindex(p.index)
            if v.isna().any():
                raise ValueError("profit and predicted_value must cover the same customers")
    elif len(p) != len(v):
        raise ValueError(
            f"profit and predicted_value must have the same length ({len(p)} != {len(v)})"
        )
    for name, value in (
        ("mvc_share", mvc_share),
        ("mgc_share", mgc_share),
        ("min_rank_gap", min_rank_gap),
    ):
        share(value, name)
    n = len(p)
    pv = p.to_numpy()
    profit_rank = top_rank(pv)
    value_rank = top_rank(v.to_numpy())
    gap = min_rank_gap * n - 1e-9
    mvc = (pv > 0) & (profit_rank <= quota(mvc_share, n))
    mgc = ~mvc & (value_rank <= quota(mgc_share, n)) & (profit_rank - value_rank >= gap)
    labels = np.select([pv < 0, mvc, mgc], ["bz", "mvc", "mgc"], default="other")
    return pd.Series(labels, index=p.index, name="label")
