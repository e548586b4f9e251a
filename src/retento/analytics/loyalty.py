"""Loyalty measurement (客户忠诚): three dimensions, a loyalty index, six loyalty types, the trap.

:class:`LoyaltyMeasure` scores every customer of a per-customer feature table on the three
dimensions of SPEC §4 — **behavioural** (行为忠诚: repeat purchase), **intentional** (意识忠诚:
stated future intent) and **emotional** (情感忠诚: satisfaction and complaint history) — combines
them into a **loyalty index** 0–100 with configurable weights, classifies the customer into one
of the six **loyalty types** of the course material (垄断 monopoly, 亲缘 kinship, 利益 interest,
惰性 inertia, 信赖 trust, 潜在 potential; ``none`` when neither attitude nor behaviour shows any
loyalty) with the rule that fired and a reason in words (English and Chinese), and flags the
**satisfaction trap** (顾客满意陷阱): satisfied by survey, but buying below their own rhythm.

The decision table is documented in :class:`LoyaltyMeasure` and in ``docs/analytics-loyalty.md``.
The columns' vocabulary and parsing live in :mod:`retento.analytics.loyalty_columns`, the reasons
in words in ``loyalty_reasons``; the public names are all importable from here.

Input columns
-------------
Every column is optional; a dimension (or a component of one) whose columns are missing, or whose
value is missing for a customer, is left out and the remaining weights are renormalised.

==========================  ==============================================================
column                      meaning
==========================  ==============================================================
``n_orders``                purchases so far (non-cancelled orders); 0 = none yet
``days_since_first_order``  days from the first purchase to the as-of date
``days_since_last_order``   days from the last purchase to the as-of date
``median_gap_days``         median days between consecutive purchases (the own rhythm)
``orders_recent``           purchases in the last ``recent_days`` (see the parameter)
``share_of_wallet``         share of the customer's category spend that is ours, 0–1
``segment``                 label of the peer group frequency is compared with
``discount_share``          share of the customer's orders with a discount, 0–1
``points_redeemed_share``   share of earned loyalty points the customer has redeemed, 0–1
``tier_rank``               place of the customer's loyalty tier, 0 (lowest) – 1 (highest)
``tier_name``               the tier's name, used in the reason only
``tier_name_zh``            the tier's Chinese name, used in the Chinese reason (else ``tier_name``)
``tenure_days``             days the customer has been a customer
``no_alternative``          True: the customer has no alternative supplier (垄断)
``affiliated``              True: employee, relative or related company (亲缘)
``satisfaction``            latest overall satisfaction, on 1–5
``repurchase_intent``       latest stated repurchase intent, on 1–5
``recommend``               latest likelihood to recommend, 0–10 (the NPS question)
``complaints``              complaints filed
``complaints_open``         of which still open
``complaints_breached``     of which breached their SLA
``followup_csat``           mean satisfaction with complaint handling, on 1–5
==========================  ==============================================================

References
----------
Dick, A. S., & Basu, K. (1994). Customer loyalty: Toward an integrated conceptual framework.
*Journal of the Academy of Marketing Science*, 22(2), 99–113.

Oliver, R. L. (1999). Whence consumer loyalty? *Journal of Marketing*, 63(4_suppl1), 33–44.

Jones, T. O., & Sasser, W. E. (1995). Why satisfied customers defect. *Harvard Business
Review*, 73(6), 88–99.

Reichheld, F. F. (2003). The one number you need to grow. *Harvard Business Review*, 81(12),
46–54.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from retento.analytics.loyalty_columns import (
    DEFAULT_WEIGHTS,
    DIMENSIONS,
    FEATURE_COLUMNS,
    LOYALTY_TYPE_NAMES,
    LOYALTY_TYPES,
    _flag,
    _num,
)
from retento.analytics.loyalty_reasons import _facts, _reasons

__all__ = [
    "DIMENSIONS",
    "FEATURE_COLUMNS",
    "LOYALTY_TYPES",
    "LOYALTY_TYPE_NAMES",
    "LoyaltyMeasure",
]


def _nanmean(parts: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """Row-wise weighted mean of the parts that are not NaN (NaN when all are)."""
    stack = np.vstack(parts)
    w = np.ones(len(parts)) if weights is None else np.asarray(weights, dtype=float)
    mask = ~np.isnan(stack)
    wsum = (mask * w[:, None]).sum(axis=0)
    total = (np.where(mask, stack, 0.0) * w[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wsum > 0, total / np.where(wsum > 0, wsum, 1.0), np.nan)


class LoyaltyMeasure:
    r"""Loyalty dimensions, index, type and satisfaction-trap flag per customer.

    Follows scikit-learn's estimator contract (``__init__`` only stores hyper-parameters,
    :meth:`fit` returns ``self``, learned attributes end in ``_``, :meth:`get_params` /
    :meth:`set_params`), so it can be cloned and grid-searched, but it needs no scikit-learn.

    **Behavioural loyalty** (行为忠诚) is the mean of the available components, each 0–100:

    - repeat: :math:`100\,(n-1)/n` for :math:`n \ge 1` purchases, 0 without purchases;
    - frequency against the segment: with the purchase rate
      :math:`f = 365\,n / \max(d_{first}, \text{min\_span\_days})` a year and the segment's
      median rate :math:`\tilde f_s` learned by :meth:`fit` (among buyers),
      :math:`r = f / \tilde f_s` and the score :math:`100\,r/(1+r)` (50 at the segment median);
    - share of wallet: :math:`100\,\text{share\_of\_wallet}` where known;
    - rhythm kept: :math:`100 \min(1, k\,g / d_{last})` for customers with a rhythm (at least two
      purchases; :math:`g` the median gap, :math:`k` = ``overdue_factor``): full marks while the
      last purchase is within :math:`k` usual gaps, falling as it becomes overdue.

    **Intentional loyalty** (意识忠诚) is the mean of :math:`100\,(\text{repurchase}-1)/4` and
    :math:`10\,\text{recommend}` (the 0–10 NPS question of Reichheld, 2003).

    **Emotional loyalty** (情感忠诚) combines satisfaction :math:`S = 100\,(s-1)/4` with the
    complaint history of customers who complained,
    :math:`C = \text{clip}(100 - p_c\,n_c - p_o\,n_o - p_b\,n_b, 0, 100)`, averaged with
    :math:`100\,(\text{followup}-1)/4` when the complaint handling was rated (a well-recovered
    complaint restores loyalty); emotional = :math:`(1-w_c)S + w_c C` (either alone when the
    other is unknown). A customer who never complained has no complaint component: silence is
    not evidence.

    **Loyalty index** = :math:`\sum_d w_d s_d / \sum_{d\,\text{known}} w_d` over the three
    dimensions (weights renormalised over the known ones, per customer).

    **Attitude** (relative attitude in Dick & Basu, 1994) is the weighted mean of the intentional
    and emotional scores. **Price sensitivity** is the mean of ``discount_share`` and
    ``points_redeemed_share`` (0–1); **switching cost** the mean of ``tier_rank`` and
    :math:`\min(1, \text{tenure\_days} / \text{tenure\_full\_days})`.

    **Loyalty type**: behaviour is *high* when behavioural ≥ ``behaviour_threshold``, attitude
    *high* when attitude ≥ ``attitude_threshold`` (unknown attitude is not high). The first
    matching rule wins:

    ====  =========  ==========  ========================================  ============
    rule  behaviour  attitude    context                                   type
    ====  =========  ==========  ========================================  ============
    R1    high       high        —                                         trust 信赖
    R2    high       not high    ``no_alternative``                        monopoly 垄断
    R3    high       not high    ``affiliated``                            kinship 亲缘
    R4    high       not high    price sensitivity ≥ threshold             interest 利益
    R5a   high       not high    switching cost ≥ threshold                inertia 惰性
    R5b   high       not high    otherwise (habit, convenience)            inertia 惰性
    R6    low        high        —                                         potential 潜在
    R7    low        not high    —                                         none 无忠诚
    ====  =========  ==========  ========================================  ============

    R1, R2–R5 and R6 are Dick & Basu's *loyalty*, *spurious loyalty* and *latent loyalty*
    cells; the context columns split spurious loyalty into the course material's monopoly,
    kinship, interest and inertia loyalty. Oliver's (1999) phases read the same way: trust is
    the conative/action phase, potential the affective phase without action yet.

    **Satisfaction trap** (Jones & Sasser, 1995): *satisfied* (satisfaction ≥
    ``satisfied_threshold``) and, for a customer with at least ``min_orders_for_rhythm``
    purchases, *falling behaviour* — either **overdue** (:math:`d_{last} > k \max(g, 1)`) or
    **slowing** (purchases in the last ``recent_days`` a day fewer than ``recent_drop`` times the
    customer's own rate before that window, which must be at least ``recent_days`` long).

    Parameters
    ----------
    weights : dict, optional
        Index weights of ``behavioural``, ``intentional``, ``emotional`` (non-negative, any scale,
        normalised; missing keys weigh 0). Default 0.4 / 0.3 / 0.3.
    behaviour_threshold : float
        Behavioural score (0–100) at which behaviour counts as high (default 50).
    attitude_threshold : float
        Attitude score (0–100) at which attitude counts as high (default 60, i.e. about 3.4 of 5).
    price_sensitivity_threshold : float
        Price sensitivity (0–1) at which a customer counts as deal-driven (default 0.5).
    switching_cost_threshold : float
        Switching cost (0–1) at which inertia is attributed to it (default 0.5).
    satisfied_threshold : float
        Satisfaction (1–5) that counts as satisfied for the trap (default 4, the top-2 box).
    overdue_factor : float
        :math:`k`: overdue when the last purchase is more than :math:`k` usual gaps ago (default 2).
    recent_days : int
        Length of the recent window of ``orders_recent`` (default 90).
    recent_drop : float
        Slowing when the recent rate is below this share of the earlier rate (default 0.5).
    min_orders_for_rhythm : int
        Purchases needed before a customer has a rhythm for the trap (default 3: two gaps).
    min_span_days : float
        Floor of the observation span in the purchase rate, so a new customer's two purchases
        in a week do not count as 100 a year (default 90).
    tenure_full_days : float
        Tenure at which the tenure part of the switching cost is full (default 1095, 3 years).
    complaint_weight : float
        :math:`w_c`, the share of the complaint history in the emotional score (default 0.3).
    complaint_penalty, open_penalty, breach_penalty : float
        :math:`p_c, p_o, p_b`: points off the complaint score per complaint, per open complaint
        and per SLA-breached complaint (defaults 10, 15, 15).
    explain : bool
        Write the reasons in words (default). False leaves ``reason_en``/``reason_zh`` empty,
        which saves most of the time on large inputs; every row's result depends only on that
        row and the fitted reference, so the reasons of a few rows can be had afterwards with
        ``set_params(explain=True).transform(X.loc[rows])``.

    Attributes
    ----------
    weights_ : dict
        The normalised index weights.
    segment_frequency_ : dict
        Median purchases a year among buyers, per segment (key ``None`` without segments).
    overall_frequency_ : float
        Median purchases a year among all buyers (used for segments not seen in ``fit``; NaN
        when nobody bought).
    n_features_in_ : int
        Number of columns seen in :meth:`fit`.
    feature_names_in_ : numpy.ndarray
        Their names.

    Examples
    --------
    >>> X = pd.DataFrame({"n_orders": [12, 12], "days_since_first_order": [400, 400],
    ...                   "days_since_last_order": [20, 20], "median_gap_days": [33, 33],
    ...                   "satisfaction": [5, 2], "discount_share": [0.0, 0.05]})
    >>> LoyaltyMeasure().fit_transform(X)["loyalty_type"].tolist()
    ['trust', 'inertia']
    """

    def __init__(
        self,
        *,
        weights: dict[str, float] | None = None,
        behaviour_threshold: float = 50.0,
        attitude_threshold: float = 60.0,
        price_sensitivity_threshold: float = 0.5,
        switching_cost_threshold: float = 0.5,
        satisfied_threshold: float = 4.0,
        overdue_factor: float = 2.0,
        recent_days: int = 90,
        recent_drop: float = 0.5,
        min_orders_for_rhythm: int = 3,
        min_span_days: float = 90.0,
        tenure_full_days: float = 1095.0,
        complaint_weight: float = 0.3,
        complaint_penalty: float = 10.0,
        open_penalty: float = 15.0,
        breach_penalty: float = 15.0,
        explain: bool = True,
    ) -> None:
        self.weights = weights
        self.behaviour_threshold = behaviour_threshold
        self.attitude_threshold = attitude_threshold
        self.price_sensitivity_threshold = price_sensitivity_threshold
        self.switching_cost_threshold = switching_cost_threshold
        self.satisfied_threshold = satisfied_threshold
        self.overdue_factor = overdue_factor
        self.recent_days = recent_days
        self.recent_drop = recent_drop
        self.min_orders_for_rhythm = min_orders_for_rhythm
        self.min_span_days = min_span_days
        self.tenure_full_days = tenure_full_days
        self.complaint_weight = complaint_weight
        self.complaint_penalty = complaint_penalty
        self.open_penalty = open_penalty
        self.breach_penalty = breach_penalty
        self.explain = explain

    # -- scikit-learn protocol --------------------------------------------------------------
    _PARAMS = (
        "weights",
        "behaviour_threshold",
        "attitude_threshold",
        "price_sensitivity_threshold",
        "switching_cost_threshold",
        "satisfied_threshold",
        "overdue_factor",
        "recent_days",
        "recent_drop",
        "min_orders_for_rhythm",
        "min_span_days",
        "tenure_full_days",
        "complaint_weight",
        "complaint_penalty",
        "open_penalty",
        "breach_penalty",
        "explain",
    )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyper-parameters as a dict (scikit-learn protocol)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> LoyaltyMeasure:
        """Set hyper-parameters by name (scikit-learn protocol); unknown names raise ValueError."""
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(f"invalid parameter {name!r} for LoyaltyMeasure")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = {
            k: v
            for k, v in self.get_params().items()
            if v != type(self)().get_params()[k]  # only non-default values, like scikit-learn
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"LoyaltyMeasure({inner})"

    # -- validation -------------------------------------------------------------------------
    def _check_params(self) -> dict[str, float]:
        raw = DEFAULT_WEIGHTS if self.weights is None else dict(self.weights)
        unknown = set(raw) - set(DIMENSIONS)
        if unknown:
            raise ValueError(
                f"weights has unknown dimension(s) {sorted(unknown)}; use {list(DIMENSIONS)}"
            )
        w = {d: float(raw.get(d, 0.0)) for d in DIMENSIONS}
        if any(not math.isfinite(v) or v < 0 for v in w.values()):
            raise ValueError("weights must be finite and non-negative")
        total = sum(w.values())
        if total <= 0:
            raise ValueError("weights must not all be zero")
        for name, lo, hi in (
            ("behaviour_threshold", 0, 100),
            ("attitude_threshold", 0, 100),
            ("price_sensitivity_threshold", 0, 1),
            ("switching_cost_threshold", 0, 1),
            ("satisfied_threshold", 1, 5),
            ("recent_drop", 0, 1),
            ("complaint_weight", 0, 1),
        ):
            v = float(getattr(self, name))
            if not (lo <= v <= hi):
                raise ValueError(f"{name} must lie in [{lo}, {hi}], got {v!r}")
        for name in (
            "overdue_factor",
            "recent_days",
            "min_span_days",
            "tenure_full_days",
        ):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive, got {v!r}")
        for name in ("complaint_penalty", "open_penalty", "breach_penalty"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be non-negative, got {v!r}")
        if int(self.min_orders_for_rhythm) < 2:
            raise ValueError("min_orders_for_rhythm must be at least 2 (one gap)")
        return {d: v / total for d, v in w.items()}

    @staticmethod
    def _check_frame(X: Any) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame, not {type(X).__name__}")
        return X

    def _per_year(self, X: pd.DataFrame) -> np.ndarray:
        n = np.nan_to_num(_num(X, "n_orders"), nan=0.0) if "n_orders" in X else None
        if n is None:
            return np.full(len(X), np.nan)
        first = _num(X, "days_since_first_order")
        span = np.maximum(np.nan_to_num(first, nan=0.0), float(self.min_span_days))
        rate = 365.0 * n / span
        return np.where(n > 0, rate, 0.0)

    @staticmethod
    def _segments(X: pd.DataFrame) -> np.ndarray:
        if "segment" not in X.columns:
            return np.full(len(X), None, dtype=object)
        return X["segment"].astype(object).where(X["segment"].notna(), None).to_numpy()

    # -- fit / transform --------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any = None) -> LoyaltyMeasure:
        """Learn the segments' median purchase rates (the frequency reference) from ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per customer with (some of) the documented columns; usually the whole
            customer base, so that :meth:`transform` can score any subset against it.
        y : ignored

        Returns
        -------
        LoyaltyMeasure
            ``self``.
        """
        X = self._check_frame(X)
        weights = self._check_params()
        per_year = self._per_year(X)
        buyers = per_year > 0
        segments = self._segments(X)
        overall = float(np.median(per_year[buyers])) if buyers.any() else float("nan")
        seg_freq: dict[Any, float] = {}
        if buyers.any():
            frame = pd.DataFrame({"s": segments[buyers], "f": per_year[buyers]})
            for key, value in frame.groupby("s", dropna=False, sort=False)["f"].median().items():
                seg_freq[
                    None if key is None or (isinstance(key, float) and math.isnan(key)) else key
                ] = float(value)
        self.weights_ = weights
        self.segment_frequency_ = seg_freq
        self.overall_frequency_ = overall
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def use_reference(
        self, segment_frequency: dict[Any, float], overall_frequency: float
    ) -> LoyaltyMeasure:
        """Take a frequency reference learned earlier instead of fitting again; returns ``self``.

        ``segment_frequency`` and ``overall_frequency`` are the ``segment_frequency_`` and
        ``overall_frequency_`` of a fitted measure (e.g. stored with a run), so a few customers
        can be scored later against the base they were scored with, without the whole base.
        """
        self.weights_ = self._check_params()
        self.segment_frequency_ = {k: float(v) for k, v in segment_frequency.items()}
        self.overall_frequency_ = float(overall_frequency)
        self.n_features_in_ = 0
        self.feature_names_in_ = np.asarray([], dtype=object)
        return self

    def describe(self, X: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
        """The reasons in words for decisions already made: no fit needed.

        Parameters
        ----------
        X : pandas.DataFrame
            The customers' input columns (as for :meth:`transform`).
        decisions : pandas.DataFrame
            Same index as ``X`` with ``loyalty_type``, ``rule`` and ``trap_signal`` (e.g. the
            output of :meth:`transform`, stored and re-weighted later).

        Returns
        -------
        pandas.DataFrame
            ``reason_en`` and ``reason_zh``, indexed like ``X``; the same sentences
            :meth:`transform` writes for these decisions.
        """
        X = self._check_frame(X)
        d = decisions.reindex(X.index)
        has_orders = "n_orders" in X.columns
        n = np.nan_to_num(_num(X, "n_orders"), nan=0.0)
        first = _num(X, "days_since_first_order")
        recent = _num(X, "orders_recent")
        rd = float(self.recent_days)
        with np.errstate(invalid="ignore", divide="ignore"):
            before_rate = np.where(first - rd >= rd, (n - recent) / (first - rd), np.nan)
        facts = _facts(X, n if has_orders else None, before_rate, recent / rd)
        signal = d["trap_signal"].fillna("").astype(str).to_numpy()
        en, zh = _reasons(
            d["loyalty_type"].astype(str).to_numpy(),
            d["rule"].astype(str).to_numpy(),
            signal,
            facts,
            float(self.overdue_factor),
            rd,
        )
        return pd.DataFrame({"reason_en": en, "reason_zh": zh}, index=X.index)

    def fit_transform(self, X: pd.DataFrame, y: Any = None) -> pd.DataFrame:
        """:meth:`fit` on ``X``, then :meth:`transform` it."""
        return self.fit(X, y).transform(X)

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise RuntimeError("LoyaltyMeasure is not fitted; call fit() first")

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Score every customer of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per customer (the index is kept), documented columns, any subset.

        Returns
        -------
        pandas.DataFrame
            Same index as ``X``, columns ``behavioural``, ``intentional``, ``emotional``,
            ``attitude``, ``loyalty_index`` (0–100, NaN when unknown), ``orders_per_year``,
            ``frequency_ratio`` (against the segment median), ``price_sensitivity``,
            ``switching_cost`` (0–1, NaN when unknown), ``behaviour_high``, ``attitude_high``
            (bool), ``loyalty_type`` (:data:`LOYALTY_TYPES`), ``rule`` (``R1`` … ``R7``),
            ``satisfaction_trap`` (bool), ``trap_signal`` (``overdue``, ``slowing`` or ``""``),
            ``reason_en`` and ``reason_zh`` (the type, and the trap when flagged, in words).

        Raises
        ------
        ValueError
            A value outside its column's range, or a non-numeric value, naming the column.
        RuntimeError
            If called before :meth:`fit`.
        """
        self._check_fitted()
        X = self._check_frame(X)
        w = self.weights_
        n_rows = len(X)
        has_orders = "n_orders" in X.columns
        n = np.nan_to_num(_num(X, "n_orders"), nan=0.0)
        first = _num(X, "days_since_first_order")
        last = _num(X, "days_since_last_order")
        gap = _num(X, "median_gap_days")
        recent = _num(X, "orders_recent")
        sow = _num(X, "share_of_wallet")
        gap = np.where(n >= 2, gap, np.nan)
        k = float(self.overdue_factor)

        # Behavioural.
        per_year = self._per_year(X)
        segments = self._segments(X)
        ref = np.array(
            [self.segment_frequency_.get(s, self.overall_frequency_) for s in segments]
            if self.segment_frequency_
            else [self.overall_frequency_] * n_rows,
            dtype=float,
        ).reshape(n_rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(ref > 0, per_year / ref, np.nan)
        freq_score = np.where(np.isnan(ratio), np.nan, 100.0 * ratio / (1.0 + ratio))
        repeat = np.where(n > 0, 100.0 * (n - 1) / np.maximum(n, 1.0), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            rhythm = np.where(
                np.isnan(gap) | np.isnan(last),
                np.nan,
                100.0 * np.minimum(1.0, k * np.maximum(gap, 1.0) / np.maximum(last, 1e-9)),
            )
        if has_orders:
            behavioural = _nanmean([repeat, freq_score, 100.0 * sow, rhythm])
            behavioural = np.where(n > 0, behavioural, _nanmean([np.zeros(n_rows), 100.0 * sow]))
        else:
            behavioural = np.full(n_rows, np.nan)

        # Intentional.
        repurchase = _num(X, "repurchase_intent")
        recommend = _num(X, "recommend")
        intentional = _nanmean([100.0 * (repurchase - 1.0) / 4.0, 10.0 * recommend])

        # Emotional.
        sat = _num(X, "satisfaction")
        n_c = np.nan_to_num(_num(X, "complaints"), nan=0.0)
        n_o = np.nan_to_num(_num(X, "complaints_open"), nan=0.0)
        n_b = np.nan_to_num(_num(X, "complaints_breached"), nan=0.0)
        followup = _num(X, "followup_csat")
        complaint = np.clip(
            100.0
            - float(self.complaint_penalty) * n_c
            - float(self.open_penalty) * n_o
            - float(self.breach_penalty) * n_b,
            0.0,
            100.0,
        )
        complaint = _nanmean([complaint, 100.0 * (followup - 1.0) / 4.0])
        complaint = np.where(n_c > 0, complaint, np.nan)
        wc = float(self.complaint_weight)
        emotional = _nanmean([100.0 * (sat - 1.0) / 4.0, complaint], [1.0 - wc, wc])
        if wc == 0.0:
            emotional = np.where(np.isnan(sat), complaint, emotional)
        elif wc == 1.0:
            emotional = np.where(n_c > 0, complaint, 100.0 * (sat - 1.0) / 4.0)

        dims = {"behavioural": behavioural, "intentional": intentional, "emotional": emotional}
        index = _nanmean([dims[d] for d in DIMENSIONS], [w[d] for d in DIMENSIONS])
        if w["intentional"] + w["emotional"] > 0:
            attitude = _nanmean([intentional, emotional], [w["intentional"], w["emotional"]])
        else:
            attitude = _nanmean([intentional, emotional])

        # Context.
        price = _nanmean([_num(X, "discount_share"), _num(X, "points_redeemed_share")])
        tenure = _num(X, "tenure_days")
        switching = _nanmean(
            [_num(X, "tier_rank"), np.minimum(1.0, tenure / float(self.tenure_full_days))]
        )
        no_alt = _flag(X, "no_alternative")
        affiliated = _flag(X, "affiliated")

        # Type.
        b_high = np.nan_to_num(behavioural, nan=-1.0) >= float(self.behaviour_threshold)
        a_high = np.nan_to_num(attitude, nan=-1.0) >= float(self.attitude_threshold)
        p_high = np.nan_to_num(price, nan=-1.0) >= float(self.price_sensitivity_threshold)
        s_high = np.nan_to_num(switching, nan=-1.0) >= float(self.switching_cost_threshold)
        spurious = b_high & ~a_high
        conditions = [
            b_high & a_high,
            spurious & no_alt,
            spurious & affiliated,
            spurious & p_high,
            spurious & s_high,
            spurious,
            ~b_high & a_high,
        ]
        rule = np.select(conditions, ["R1", "R2", "R3", "R4", "R5a", "R5b", "R6"], default="R7")
        ltype = np.select(
            conditions,
            ["trust", "monopoly", "kinship", "interest", "inertia", "inertia", "potential"],
            default="none",
        )

        # Satisfaction trap.
        satisfied = np.nan_to_num(sat, nan=-1.0) >= float(self.satisfied_threshold)
        rhythmic = n >= int(self.min_orders_for_rhythm)
        overdue = rhythmic & ~np.isnan(gap) & ~np.isnan(last)
        overdue &= np.nan_to_num(last, nan=0.0) > k * np.maximum(np.nan_to_num(gap, nan=0.0), 1.0)
        rd = float(self.recent_days)
        before_days = first - rd
        before_orders = n - recent
        with np.errstate(invalid="ignore", divide="ignore"):
            before_rate = np.where(before_days >= rd, before_orders / before_days, np.nan)
            recent_rate = recent / rd
        slowing = rhythmic & ~np.isnan(before_rate) & ~np.isnan(recent_rate)
        slowing &= np.nan_to_num(recent_rate, nan=np.inf) < float(self.recent_drop) * np.nan_to_num(
            before_rate, nan=0.0
        )
        trap = satisfied & (overdue | slowing)
        signal = np.where(trap & overdue, "overdue", np.where(trap & slowing, "slowing", ""))

        out = pd.DataFrame(
            {
                "behavioural": behavioural,
                "intentional": intentional,
                "emotional": emotional,
                "attitude": attitude,
                "loyalty_index": index,
                "orders_per_year": per_year,
                "frequency_ratio": ratio,
                "price_sensitivity": price,
                "switching_cost": switching,
                "behaviour_high": b_high,
                "attitude_high": a_high,
                "loyalty_type": ltype,
                "rule": rule,
                "satisfaction_trap": trap,
                "trap_signal": signal,
            },
            index=X.index,
        )
        facts = _facts(X, n if has_orders else None, before_rate, recent_rate)
        if self.explain:
            en, zh = _reasons(ltype, rule, signal, facts, k, rd)
        else:
            en = zh = [""] * n_rows
        out["reason_en"] = en
        out["reason_zh"] = zh
        return out
