r"""Win-back uplift against a random control group: assignment, rates, Qini and money.

A win-back campaign (a playbook) treats some at-risk customers and holds out a random
**control group** that gets nothing. Because the split is random, the difference between the
groups' came-back rates estimates the campaign's causal effect (the *uplift*):

.. math::

    \hat\tau = \hat p_T - \hat p_C = \frac{y_T}{n_T} - \frac{y_C}{n_C},

where :math:`y_T` of :math:`n_T` treated and :math:`y_C` of :math:`n_C` control customers
came back within the window.

The pieces:

* :func:`assign_treatment` draws the control group: a configurable share, stratified by a class
  column (value class), reproducible with a seed.
* :func:`uplift_estimate` gives both rates, the uplift and a 95 % interval for the difference
  (Newcombe's hybrid score interval by default, or Wald), as an :class:`UpliftEstimate`.
* :func:`qini_curve` / :func:`qini_coefficient` (Radcliffe 2007) and :func:`uplift_curve` /
  :func:`auuc` judge a *ranking* (per-customer uplift or risk scores): does targeting the
  customers with the highest scores first bring back more customers than random targeting?
* :func:`uplift_at_k` gives the uplift among the top k customers by score.
* :func:`incremental_revenue` converts the effect into money: incremental revenue minus cost,
  as :class:`~decimal.Decimal`.

The functions take plain array-likes (lists, NumPy arrays, pandas Series) and never import the
rest of ``retento``.

References
----------
Newcombe, R. G. (1998). Interval estimation for the difference between independent
proportions: comparison of eleven methods. *Statistics in Medicine* 17(8), 873-890.

Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
*Journal of the American Statistical Association* 22(158), 209-212.

Radcliffe, N. J. (2007). Using control groups to target on predicted lift: building and
assessing uplift models. *Direct Marketing Analytics Journal* 1, 14-21.

Rzepakowski, P. & Jaroszewicz, S. (2012). Decision trees for uplift modeling with single and
multiple treatments. *Knowledge and Information Systems* 32(2), 303-327.

Gutierrez, P. & Gérardy, J.-Y. (2017). Causal inference and uplift modelling: a review of the
literature. *Proceedings of Machine Learning Research* 67, 1-13.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm

__all__ = [
    "IncrementalRevenue",
    "QiniCurve",
    "UpliftEstimate",
    "assign_treatment",
    "auuc",
    "incremental_revenue",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_k",
    "uplift_curve",
    "uplift_estimate",
]

CENT = Decimal("0.01")


# --------------------------------------------------------------------------- input checks


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a one-dimensional array, got shape {arr.shape}")
    return arr


def _as_flag(values: ArrayLike, name: str) -> np.ndarray:
    """A 0/1 or boolean array as bool; anything else is a ValueError naming ``name``."""
    arr = _as_1d(values, name)
    if arr.dtype == bool:
        return arr
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected 0/1 or True/False values") from None
    if np.isnan(num).any():
        raise ValueError(f"{name}: contains missing values")
    if not np.isin(num, (0.0, 1.0)).all():
        raise ValueError(f"{name}: expected 0/1 or True/False values, got {np.unique(num)[:5]}")
    return num == 1.0


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ValueError(f"arrays differ in length: {detail}")
    return next(iter(lengths.values()))


def _check_groups(treated: np.ndarray, name: str = "treated") -> None:
    if len(treated) == 0:
        raise ValueError(f"{name}: no customers (empty array)")
    if not treated.any():
        raise ValueError(f"{name}: the treatment group is empty (no True/1 values)")
    if treated.all():
        raise ValueError(f"{name}: the control group is empty (no False/0 values)")


def _scores(values: ArrayLike, name: str = "scores") -> np.ndarray:
    arr = _as_1d(values, name)
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected numbers") from None
    if np.isnan(arr).any():
        raise ValueError(f"{name}: contains missing values")
    return arr


# --------------------------------------------------------------------------- assignment


def assign_treatment(
    n_or_strata: int | ArrayLike,
    *,
    control_share: float = 0.1,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    r"""Randomly split customers into treatment and a held-out control group.

    Stratified random assignment: within every stratum s (for example a value class) of
    :math:`n_s` customers, :math:`\lfloor n_s \pi \rfloor` customers go to control, plus one
    more with probability :math:`n_s \pi - \lfloor n_s \pi \rfloor` (randomised rounding), where
    :math:`\pi` is ``control_share``. Each customer is therefore in control with probability
    exactly :math:`\pi`, the control share inside every stratum is within one customer of
    :math:`n_s \pi`, and the classes are balanced between the groups by construction (which
    lowers the variance of the uplift estimate when the class predicts the outcome).

    Parameters
    ----------
    n_or_strata : int or array-like of shape (n_customers,)
        Either the number of customers (no stratification) or one stratum label per customer
        (any hashable values, e.g. the value class ``"vip"``, ``"major"``, ...). Missing labels
        form a stratum of their own.
    control_share : float, default 0.1
        Share :math:`\pi` of each stratum held out as control, in (0, 1).
    random_state : int, numpy.random.Generator or None
        Seed for reproducible assignment; the same seed and input give the same split.

    Returns
    -------
    treated : ndarray of bool, shape (n_customers,)
        True for customers to treat, False for the control group.

    Examples
    --------
    >>> treated = assign_treatment(["vip"] * 10 + ["small"] * 90, control_share=0.2,
    ...                            random_state=7)
    >>> int((~treated[:10]).sum()), int((~treated[10:]).sum())
    (2, 18)
    """
    if not (isinstance(control_share, int | float) and 0.0 < float(control_share) < 1.0):
        raise ValueError(
            f"control_share: must be between 0 and 1 (exclusive), got {control_share!r}"
        )
    rng = np.random.default_rng(random_state)
    if isinstance(n_or_strata, int | np.integer):
        if n_or_strata < 0:
            raise ValueError(f"n_or_strata: number of customers must be >= 0, got {n_or_strata}")
        codes = np.zeros(int(n_or_strata), dtype=np.int64)
    else:
        labels = _as_1d(n_or_strata, "n_or_strata")
        codes, _ = pd.factorize(pd.Series(labels, dtype=object), use_na_sentinel=False)
    n = len(codes)
    treated = np.ones(n, dtype=bool)
    if n == 0:
        return treated
    # One random permutation; customers of a stratum appear in random order inside it.
    order = rng.permutation(n)
    order = order[np.argsort(codes[order], kind="stable")]
    sizes = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    exact = sizes * float(control_share)
    n_control = np.floor(exact).astype(np.int64)
    n_control += rng.random(len(sizes)) < (exact - n_control)
    for start, k in zip(starts, n_control, strict=True):
        treated[order[start : start + k]] = False
    return treated


# --------------------------------------------------------------------------- rates and uplift


@dataclass(frozen=True)
class UpliftEstimate:
    r"""Came-back rates of the treated and control groups and their difference.

    Attributes
    ----------
    n_treated, n_control : int
        Group sizes :math:`n_T, n_C`.
    came_back_treated, came_back_control : int
        Customers who came back, :math:`y_T, y_C`.
    rate_treated, rate_control : float
        :math:`\hat p_T = y_T/n_T` and :math:`\hat p_C = y_C/n_C`.
    uplift : float
        :math:`\hat p_T - \hat p_C` (absolute, in probability points).
    ci_low, ci_high : float
        Interval for the uplift at ``confidence``.
    relative_uplift : float
        :math:`\hat p_T/\hat p_C - 1`, NaN when :math:`\hat p_C = 0`.
    incremental_customers : float
        :math:`n_T(\hat p_T - \hat p_C)`: customers brought back who would not have come back
        without the campaign.
    confidence : float
        Confidence level of the interval.
    method : str
        ``"newcombe"`` or ``"wald"``.
    """

    n_treated: int
    n_control: int
    came_back_treated: int
    came_back_control: int
    rate_treated: float
    rate_control: float
    uplift: float
    ci_low: float
    ci_high: float
    relative_uplift: float
    incremental_customers: float
    confidence: float
    method: str

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero."""
        return self.ci_low > 0.0 or self.ci_high < 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready; NaN becomes None)."""
        out = asdict(self)
        out["significant"] = self.significant
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def _wilson(y: int, n: int, z: float) -> tuple[float, float]:
    """Wilson (1927) score interval for a binomial proportion y/n."""
    p = y / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def uplift_estimate(
    outcome: ArrayLike,
    treated: ArrayLike,
    *,
    confidence: float = 0.95,
    method: Literal["newcombe", "wald"] = "newcombe",
) -> UpliftEstimate:
    r"""Came-back rate treated vs control, the uplift and an interval for it.

    With :math:`\hat p_T = y_T/n_T`, :math:`\hat p_C = y_C/n_C` and :math:`z = \Phi^{-1}((1 +
    \text{confidence})/2)` (1.96 for 95 %):

    * ``method="newcombe"`` (default) is Newcombe's (1998) *hybrid score* interval (his method
      10). With :math:`[l_T, u_T]` and :math:`[l_C, u_C]` the Wilson (1927) score intervals of
      the two rates,

      .. math::

          L = \hat\tau - \sqrt{(\hat p_T - l_T)^2 + (u_C - \hat p_C)^2}, \qquad
          U = \hat\tau + \sqrt{(u_T - \hat p_T)^2 + (\hat p_C - l_C)^2}.

      It keeps close to nominal coverage for small groups and rates near 0 or 1 (a small
      control group with few returns is the usual win-back case), stays inside [-1, 1] and is
      never degenerate when a rate is 0 or 1.
    * ``method="wald"`` is the textbook interval
      :math:`\hat\tau \pm z\sqrt{\hat p_T(1-\hat p_T)/n_T + \hat p_C(1-\hat p_C)/n_C}`; it
      under-covers for small groups and collapses to a point when both rates are 0 or 1.

    Parameters
    ----------
    outcome : array-like of 0/1 or bool, shape (n_customers,)
        1 if the customer came back (bought again) within the measurement window.
    treated : array-like of 0/1 or bool, shape (n_customers,)
        1 for the treatment group, 0 for the random control group.
    confidence : float, default 0.95
        Confidence level of the interval.
    method : {"newcombe", "wald"}, default "newcombe"

    Returns
    -------
    UpliftEstimate

    Raises
    ------
    ValueError
        If either group is empty (the message names ``treated``), the arrays differ in
        length, or a flag is not 0/1.

    References
    ----------
    Newcombe (1998), *Statistics in Medicine* 17(8), 873-890; Wilson (1927), *JASA* 22(158).
    """
    y = _as_flag(outcome, "outcome")
    t = _as_flag(treated, "treated")
    _same_length(outcome=y, treated=t)
    _check_groups(t)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: must be between 0 and 1, got {confidence!r}")
    if method not in ("newcombe", "wald"):
        raise ValueError(f"method: expected 'newcombe' or 'wald', got {method!r}")
    n_t, n_c = int(t.sum()), int((~t).sum())
    y_t, y_c = int(y[t].sum()), int(y[~t].sum())
    return _estimate(y_t, n_t, y_c, n_c, confidence, method)


def _estimate(
    y_t: int, n_t: int, y_c: int, n_c: int, confidence: float, method: str
) -> UpliftEstimate:
    z = float(norm.ppf(0.5 + confidence / 2.0))
    p_t, p_c = y_t / n_t, y_c / n_c
    tau = p_t - p_c
    if method == "newcombe":
        l_t, u_t = _wilson(y_t, n_t, z)
        l_c, u_c = _wilson(y_c, n_c, z)
        low = tau - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
        high = tau + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    else:
        half = z * math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
        low, high = max(-1.0, tau - half), min(1.0, tau + half)
    return UpliftEstimate(
        n_treated=n_t,
        n_control=n_c,
        came_back_treated=y_t,
        came_back_control=y_c,
        rate_treated=p_t,
        rate_control=p_c,
        uplift=tau,
        ci_low=low,
        ci_high=high,
        relative_uplift=(p_t / p_c - 1.0) if p_c > 0 else math.nan,
        incremental_customers=n_t * tau,
        confidence=confidence,
        method=method,
    )


# --------------------------------------------------------------------------- ranking curves


@dataclass(frozen=True)
class QiniCurve:
    r"""A Qini (or uplift) curve: one point per distinct score threshold, starting at (0, 0).

    Attributes
    ----------
    n_targeted : ndarray of int
        Customers targeted, :math:`n(\phi)`, the top of the ranking by score.
    fraction : ndarray of float
        :math:`\phi = n(\phi)/N`.
    values : ndarray of float
        Curve values: incremental customers :math:`Q(\phi)` (Qini) or :math:`U(\phi)`
        (uplift curve).
    random : ndarray of float
        The random-targeting line :math:`\phi\,Q(1)` from (0, 0) to the last point.
    kind : str
        ``"qini"`` or ``"uplift"``.
    """

    n_targeted: np.ndarray
    fraction: np.ndarray
    values: np.ndarray
    random: np.ndarray
    kind: str

    def to_frame(self) -> pd.DataFrame:
        """The curve as a DataFrame (columns n_targeted, fraction, values, random)."""
        return pd.DataFrame(
            {
                "n_targeted": self.n_targeted,
                "fraction": self.fraction,
                "values": self.values,
                "random": self.random,
            }
        )


def _cumulative(
    scores: ArrayLike, treated: ArrayLike, outcome: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Cumulative treated/control counts and returns at each distinct score threshold."""
    s = _scores(scores)
    t = _as_flag(treated, "treated")
    y = _as_flag(outcome, "outcome")
    n = _same_length(scores=s, treated=t, outcome=y)
    _check_groups(t)
    order = np.argsort(-s, kind="mergesort")
    s, t, y = s[order], t[order].astype(np.int64), y[order].astype(np.int64)
    # Ties are targeted together: keep only the last index of each run of equal scores.
    last = np.r_[np.flatnonzero(np.diff(s) != 0), n - 1]
    n_t = np.cumsum(t)[last]
    n_c = (last + 1) - n_t
    r_t = np.cumsum(y * t)[last]
    r_c = np.cumsum(y * (1 - t))[last]
    return last + 1, n_t, n_c, r_t, r_c, n


def _curve(values: np.ndarray, n_targeted: np.ndarray, n: int, kind: str) -> QiniCurve:
    n_targeted = np.r_[0, n_targeted]
    values = np.r_[0.0, values]
    fraction = n_targeted / n
    return QiniCurve(n_targeted, fraction, values, fraction * values[-1], kind)


def qini_curve(scores: ArrayLike, treated: ArrayLike, outcome: ArrayLike) -> QiniCurve:
    r"""Radcliffe's (2007) Qini curve of a ranking.

    Customers are sorted by ``scores`` (highest first; tied scores enter together). Targeting
    the top fraction :math:`\phi`, with :math:`n_T(\phi), n_C(\phi)` treated and control
    customers and :math:`R_T(\phi), R_C(\phi)` of them coming back, the curve is the number of
    incremental customers

    .. math::

        Q(\phi) = R_T(\phi) - R_C(\phi)\,\frac{n_T(\phi)}{n_C(\phi)}

    (0 control customers among the top: the control term is taken as 0). The straight line
    from (0, 0) to :math:`(1, Q(1))` is random targeting; a useful ranking lies above it.

    Parameters
    ----------
    scores : array-like of float, shape (n_customers,)
        Predicted uplift (or any score to target by; higher = target first).
    treated : array-like of 0/1 or bool
        Treatment flag (1 treated, 0 random control).
    outcome : array-like of 0/1 or bool
        1 if the customer came back.

    Returns
    -------
    QiniCurve
    """
    n_targeted, n_t, n_c, r_t, r_c, n = _cumulative(scores, treated, outcome)
    ratio = np.divide(n_t, n_c, out=np.zeros(len(n_t)), where=n_c > 0)
    return _curve(r_t - r_c * ratio, n_targeted, n, "qini")


def uplift_curve(scores: ArrayLike, treated: ArrayLike, outcome: ArrayLike) -> QiniCurve:
    r"""Uplift curve (Rzepakowski & Jaroszewicz 2012): the group-rate difference scaled up.

    .. math::

        U(\phi) = \left(\frac{R_T(\phi)}{n_T(\phi)} - \frac{R_C(\phi)}{n_C(\phi)}\right)
                  \bigl(n_T(\phi) + n_C(\phi)\bigr),

    with a rate taken as 0 while its group has no customers in the top :math:`\phi`. Same
    parameters as :func:`qini_curve`.
    """
    n_targeted, n_t, n_c, r_t, r_c, n = _cumulative(scores, treated, outcome)
    rate_t = np.divide(r_t, n_t, out=np.zeros(len(n_t)), where=n_t > 0)
    rate_c = np.divide(r_c, n_c, out=np.zeros(len(n_c)), where=n_c > 0)
    return _curve((rate_t - rate_c) * (n_t + n_c), n_targeted, n, "uplift")


def _area(curve: QiniCurve) -> float:
    """Area between the curve and the random line, over the fraction targeted (trapezoids)."""
    return float(np.trapezoid(curve.values - curve.random, curve.fraction))


def _perfect_scores(treated: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    # Treated customers who came back first, control customers who came back last.
    return outcome * treated.astype(float) - outcome * (1.0 - treated)


def _normalised(
    scores: ArrayLike, treated: ArrayLike, outcome: ArrayLike, normalize: bool, fn: Any
) -> float:
    area = _area(fn(scores, treated, outcome))
    if not normalize:
        return area
    t = _as_flag(treated, "treated").astype(float)
    y = _as_flag(outcome, "outcome").astype(float)
    best = _area(fn(_perfect_scores(t, y), t, y))
    return area / best if best != 0 else math.nan


def qini_coefficient(
    scores: ArrayLike, treated: ArrayLike, outcome: ArrayLike, *, normalize: bool = True
) -> float:
    r"""Qini coefficient: area between the Qini curve and random targeting.

    .. math::

        q = \int_0^1 \bigl(Q(\phi) - \phi\,Q(1)\bigr)\,d\phi,
        \qquad
        Q_{\text{norm}} = q / q^{*},

    integrated with the trapezoid rule over the curve's points, where :math:`q^*` is the area of
    the best possible ranking of the same customers (treated customers who came back first,
    control customers who came back last), as in Radcliffe (2007). The normalised coefficient is
    1 for that ranking, about 0 for a random one and negative for a ranking worse than random.

    Parameters
    ----------
    scores, treated, outcome
        As in :func:`qini_curve`.
    normalize : bool, default True
        Divide by :math:`q^*`; with False the area is in incremental customers (× fraction).

    Returns
    -------
    float
        NaN if :math:`q^* = 0` (no one came back).
    """
    return _normalised(scores, treated, outcome, normalize, qini_curve)


def auuc(
    scores: ArrayLike, treated: ArrayLike, outcome: ArrayLike, *, normalize: bool = True
) -> float:
    r"""Area under the uplift curve (AUUC) above random targeting.

    :math:`\int_0^1 (U(\phi) - \phi\,U(1))\,d\phi` with :math:`U` from :func:`uplift_curve`,
    divided (``normalize=True``) by the same area for the best possible ranking, as for
    :func:`qini_coefficient`. See Gutierrez & Gérardy (2017) for the relation between the two.
    """
    return _normalised(scores, treated, outcome, normalize, uplift_curve)


def uplift_at_k(
    scores: ArrayLike,
    treated: ArrayLike,
    outcome: ArrayLike,
    *,
    k: float | int = 0.3,
    confidence: float = 0.95,
    method: Literal["newcombe", "wald"] = "newcombe",
) -> UpliftEstimate:
    r"""Uplift among the top k customers by score, with its interval.

    The customers are sorted by ``scores`` (highest first, ties broken by input order) and the
    first :math:`k` are kept (``k`` < 1: a share of all customers, rounded up; ``k`` ≥ 1: a
    count). :func:`uplift_estimate` is then applied to them:
    :math:`\hat p_T(k) - \hat p_C(k)`. This is the effect to expect when the campaign targets
    only its top k.

    Raises
    ------
    ValueError
        If the top k holds no treated or no control customer (names ``treated``), or ``k`` is
        out of range (names ``k``).
    """
    s = _scores(scores)
    t = _as_flag(treated, "treated")
    y = _as_flag(outcome, "outcome")
    n = _same_length(scores=s, treated=t, outcome=y)
    _check_groups(t)
    if isinstance(k, bool) or not isinstance(k, int | float | np.integer | np.floating) or k <= 0:
        raise ValueError(f"k: expected a share in (0, 1) or a count >= 1, got {k!r}")
    top = math.ceil(k * n) if k < 1 else int(k)
    if top > n:
        raise ValueError(f"k: {top} customers requested, only {n} given")
    idx = np.argsort(-s, kind="mergesort")[:top]
    t_k = t[idx]
    if t_k.all() or not t_k.any():
        group = "control" if t_k.all() else "treatment"
        raise ValueError(f"treated: the top {top} customers hold no {group} customer")
    return uplift_estimate(y[idx], t_k, confidence=confidence, method=method)


# --------------------------------------------------------------------------- money


@dataclass(frozen=True)
class IncrementalRevenue:
    r"""Money made by the campaign beyond what the control group says would have come anyway.

    All amounts are :class:`~decimal.Decimal`, rounded to ``quantum``.

    Attributes
    ----------
    revenue_per_treated, revenue_per_control : Decimal
        Mean revenue per customer, :math:`\bar r_T` and :math:`\bar r_C`.
    incremental_revenue : Decimal
        :math:`n_T(\bar r_T - \bar r_C)`.
    cost : Decimal
        Total campaign cost :math:`K`.
    net : Decimal
        :math:`n_T(\bar r_T - \bar r_C) - K`.
    roi : Decimal or None
        net / cost (None when the cost is 0).
    net_ci_low, net_ci_high : Decimal
        Welch (normal) interval for ``net`` at ``confidence``:
        :math:`n_T\bigl((\bar r_T - \bar r_C) \pm z\sqrt{s_T^2/n_T + s_C^2/n_C}\bigr) - K`.
    n_treated, n_control : int
    confidence : float
    """

    revenue_per_treated: Decimal
    revenue_per_control: Decimal
    incremental_revenue: Decimal
    cost: Decimal
    net: Decimal
    roi: Decimal | None
    net_ci_low: Decimal
    net_ci_high: Decimal
    n_treated: int
    n_control: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """Dict with amounts as strings (exact; JSON-ready)."""
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def _to_decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, Decimal):
        dec = value
    elif isinstance(value, bool):
        raise ValueError(f"{name}: expected an amount, got {value!r}")
    elif isinstance(value, int | np.integer):
        dec = Decimal(int(value))
    elif isinstance(value, float | np.floating):
        dec = Decimal(repr(float(value)))  # the float's shortest decimal form, not its binary
    else:
        try:
            dec = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{name}: {value!r} is not an amount") from None
    if not dec.is_finite():
        raise ValueError(f"{name}: amounts must be finite, got {value!r}")
    return dec


def _decimals(values: ArrayLike, name: str) -> list[Decimal]:
    arr = values.tolist() if isinstance(values, pd.Series | np.ndarray) else list(values)
    out = []
    for v in arr:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise ValueError(f"{name}: contains missing values")
        out.append(_to_decimal(v, name))
    return out


def incremental_revenue(
    revenue: ArrayLike,
    treated: ArrayLike,
    *,
    cost: Any = 0,
    cost_per_treated: Any = 0,
    confidence: float = 0.95,
    quantum: Decimal = CENT,
) -> IncrementalRevenue:
    r"""Incremental revenue of a campaign minus its cost, in exact decimal money.

    .. math::

        \text{net} = n_T\,(\bar r_T - \bar r_C) - K, \qquad
        K = \text{cost} + n_T \cdot \text{cost\_per\_treated},

    where :math:`\bar r_T, \bar r_C` are the mean revenue per customer in the window (0 for
    customers who did not come back) of the treated and the control group. The control group
    estimates what the treated customers would have spent anyway, so
    :math:`n_T(\bar r_T - \bar r_C)` is the revenue the campaign caused.

    Sums and means are computed in :class:`~decimal.Decimal` (floats are taken by their
    shortest decimal form, so ``19.99`` stays 19.99); only the interval's standard error uses
    floating point.

    Parameters
    ----------
    revenue : array-like of Decimal, int, float or str, shape (n_customers,)
        Revenue per customer in the measurement window.
    treated : array-like of 0/1 or bool
        Treatment flag.
    cost : Decimal-like, default 0
        Fixed campaign cost (or the total, when per-customer costs are not separate).
    cost_per_treated : Decimal-like, default 0
        Cost per treated customer (voucher, call time, email).
    confidence : float, default 0.95
        Level of the interval for ``net``.
    quantum : Decimal, default Decimal("0.01")
        Rounding of the results (ROUND_HALF_EVEN, Decimal's default).

    Returns
    -------
    IncrementalRevenue
    """
    t = _as_flag(treated, "treated")
    amounts = _decimals(revenue, "revenue")
    n = _same_length(revenue=np.empty(len(amounts)), treated=t)
    _check_groups(t)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: must be between 0 and 1, got {confidence!r}")
    fixed = _to_decimal(cost, "cost")
    per = _to_decimal(cost_per_treated, "cost_per_treated")
    if fixed < 0 or per < 0:
        raise ValueError("cost: costs must not be negative")
    n_t = int(t.sum())
    n_c = n - n_t
    sum_t = sum((a for a, flag in zip(amounts, t, strict=True) if flag), Decimal(0))
    sum_c = sum((a for a, flag in zip(amounts, t, strict=True) if not flag), Decimal(0))
    mean_t, mean_c = sum_t / n_t, sum_c / n_c
    incremental = n_t * (mean_t - mean_c)
    total_cost = fixed + n_t * per
    net = incremental - total_cost

    as_float = np.array([float(a) for a in amounts])
    var_t = float(np.var(as_float[t], ddof=1)) if n_t > 1 else 0.0
    var_c = float(np.var(as_float[~t], ddof=1)) if n_c > 1 else 0.0
    z = float(norm.ppf(0.5 + confidence / 2.0))
    half = _to_decimal(n_t * z * math.sqrt(var_t / n_t + var_c / n_c), "interval")

    def q(x: Decimal) -> Decimal:
        return x.quantize(quantum)

    return IncrementalRevenue(
        revenue_per_treated=q(mean_t),
        revenue_per_control=q(mean_c),
        incremental_revenue=q(incremental),
        cost=q(total_cost),
        net=q(net),
        roi=q(net / total_cost) if total_cost != 0 else None,
        net_ci_low=q(net - half),
        net_ci_high=q(net + half),
        n_treated=n_t,
        n_control=n_c,
        confidence=confidence,
    )
