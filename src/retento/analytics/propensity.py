r"""Purchase propensity: who will buy a product or category in the next weeks (target marketing).

For a target t (a product, or a category) and a horizon h, a customer's label at a cut-off c is

.. math::

    y_i(c) = \mathbb{1}\{\text{customer } i \text{ buys } t \text{ in } (c, c + h]\},

for every customer who bought anything on or before c. Features describe the history up to c
only (:func:`propensity_features`): recency, frequency and spend (RFM, Hughes 1994), tenure,
the customer's spend shares across categories, the count and recency of earlier purchases of
the target, and a *co-purchase affinity*

.. math::

    a_i(c) = \max_{j \in J_i(c),\, j \neq t} \frac{P(t \mid j)}{P(t)},

the largest lift (Agrawal, Imieliński & Swami, 1993) of the target among the items j the customer
has bought, estimated from all customers' histories up to c.

:class:`PropensityModel` (scikit-learn contract) is gradient boosting
(:class:`~sklearn.ensemble.HistGradientBoostingClassifier`, Friedman 2001) or a logistic
regression on log-scaled features. :meth:`PropensityModel.fit_transactions` trains on cut-offs
:math:`c_k = c - k\,h` (k = 1, ..., ``n_windows``), whose labels end by c, so what happens after
c is never seen - the same time split as :meth:`retento.analytics.ChurnRiskModel.fit_transactions`.
:func:`propensity_holdout` measures it honestly: the model is trained with cut-off
:math:`c_0 - h` and scored on the later period :math:`(c_0 - h, c_0]`, by ROC AUC, PR AUC (average
precision) and lift in the top 10 % (:func:`retento.analytics.churn_metrics`), against the
baseline "ranked by earlier purchases of the target" (the usual rule "invite those who bought it
before"). :meth:`PropensityModel.invite_list` gives the top-k customers by propensity.

References
----------
Hughes, A. M. (1994). *Strategic Database Marketing*. Probus.

Agrawal, R., Imieliński, T. & Swami, A. (1993). Mining association rules between sets of items
in large databases. *Proceedings of ACM SIGMOD*, 207-216.

Friedman, J. H. (2001). Greedy function approximation: a gradient boosting machine. *Annals of
Statistics* 29(5), 1189-1232.

Ling, C. X. & Li, C. (1998). Data mining for direct marketing: problems and solutions.
*Proceedings of KDD-98*, 73-79 (lift and the top-k evaluation of response models).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PropensityModel",
    "lift_table",
    "prepare_lines",
    "propensity_features",
    "propensity_holdout",
]

BASE_FEATURES = [
    "days_since_last",
    "purchases",
    "purchases_recent",
    "spend_total",
    "spend_recent",
    "spend_mean",
    "tenure_days",
    "items_distinct",
    "target_purchases",
    "days_since_target",
    "target_share",
    "copurchase_lift",
]
# Plain labels of the fixed features (category shares are labelled "share of <category>").
FEATURE_LABELS = {
    "days_since_last": "days since the last purchase",
    "purchases": "purchases (days with an order)",
    "purchases_recent": "purchases in the last horizon",
    "spend_total": "spend to date",
    "spend_recent": "spend in the last horizon",
    "spend_mean": "spend per purchase",
    "tenure_days": "days since the first purchase",
    "items_distinct": "different items bought",
    "target_purchases": "earlier purchases of the target",
    "days_since_target": "days since the target was last bought",
    "target_share": "target's share of spend",
    "copurchase_lift": "co-purchase affinity with the target",
}
_NEVER = 10_000.0  # "days since the target" of customers who never bought it (a finite value)


def prepare_lines(
    lines: pd.DataFrame,
    customer_col: str,
    date_col: str,
    item_col: str,
    amount_col: str | None = None,
    group_col: str | None = None,
) -> pd.DataFrame:
    """Check and normalise a purchase-line table to columns ``customer, day, item, group, amount``.

    One row per line (or per order and item). Dates are truncated to the day. Raises
    ``ValueError`` naming the column and the first bad row (1-based, as in the file).
    """
    for col in (customer_col, date_col, item_col, amount_col, group_col):
        if col is not None and col not in lines.columns:
            raise ValueError(f"column {col!r} is missing (columns: {', '.join(map(str, lines))})")
    if len(lines) == 0:
        raise ValueError("the purchase lines are empty")
    day = pd.to_datetime(lines[date_col], errors="coerce", utc=True)
    bad = np.flatnonzero(day.isna().to_numpy())
    if len(bad):
        raise ValueError(f"column {date_col!r}, row {bad[0] + 1}: not a date")
    out = pd.DataFrame(
        {
            "customer": lines[customer_col].to_numpy(),
            "day": day.dt.tz_convert(None).dt.normalize().to_numpy(),
            "item": lines[item_col].astype(str).to_numpy(),
        }
    )
    for col, name in ((customer_col, "customer"), (item_col, "item")):
        miss = np.flatnonzero(pd.isna(lines[col]).to_numpy())
        if len(miss):
            raise ValueError(f"column {col!r}, row {miss[0] + 1}: empty")
        del name
    out["group"] = (
        lines[group_col].fillna("(none)").astype(str).to_numpy()
        if group_col is not None
        else out["item"]
    )
    if amount_col is not None:
        amt = pd.to_numeric(lines[amount_col], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(amt.to_numpy(dtype=float)))
        if len(bad):
            raise ValueError(f"column {amount_col!r}, row {bad[0] + 1}: not a number")
        out["amount"] = amt.to_numpy(dtype=float)
    else:
        out["amount"] = 1.0
    return out


def _signed_log1p(a: np.ndarray) -> np.ndarray:
    return np.sign(a) * np.log1p(np.abs(a))


def _targets(target: str | Sequence[str]) -> set[str]:
    return {target} if isinstance(target, str) else {str(t) for t in target}


def propensity_features(
    lines: pd.DataFrame,
    cutoff: Any,
    target: str | Sequence[str],
    *,
    horizon_days: int,
    groups: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-customer features from the normalised lines (:func:`prepare_lines`) on or before
    ``cutoff``: the columns of ``BASE_FEATURES`` then ``share:<group>`` per group in ``groups``
    (default: every group seen before the cut-off). Customers without a purchase by then are
    absent."""
    cut = pd.Timestamp(cutoff).normalize()
    tset = _targets(target)
    hist = lines[lines["day"] <= cut]
    if hist.empty:
        raise ValueError(f"no purchases on or before the cut-off {cut.date()}")
    is_t = hist["item"].isin(tset).to_numpy()
    recent = (hist["day"] > cut - pd.Timedelta(days=horizon_days)).to_numpy()
    g = hist.groupby("customer", sort=True)
    first, last = g["day"].min(), g["day"].max()
    feats = pd.DataFrame(index=first.index)
    feats["days_since_last"] = (cut - last).dt.days.astype(float)
    feats["purchases"] = g["day"].nunique().astype(float)
    rec = hist.loc[recent]
    feats["purchases_recent"] = rec.groupby("customer")["day"].nunique().reindex(feats.index)
    feats["spend_total"] = g["amount"].sum()
    feats["spend_recent"] = rec.groupby("customer")["amount"].sum().reindex(feats.index)
    feats["spend_mean"] = feats["spend_total"] / feats["purchases"]
    feats["tenure_days"] = (cut - first).dt.days.astype(float)
    feats["items_distinct"] = g["item"].nunique().astype(float)
    th = hist.loc[is_t]
    tg = th.groupby("customer")
    feats["target_purchases"] = tg["day"].nunique().reindex(feats.index)
    feats["days_since_target"] = (cut - tg["day"].max()).dt.days.reindex(feats.index)
    feats["target_share"] = tg["amount"].sum().reindex(feats.index) / feats["spend_total"].where(
        feats["spend_total"] != 0
    )
    # Co-purchase lift P(t | j) / P(t), customer level, from everyone's history up to c.
    has = hist[["customer", "item"]].drop_duplicates()
    buyers = set(th["customer"].unique())
    n_cust = len(feats)
    p_t = len(buyers) / n_cust if n_cust else 0.0
    has = has[~has["item"].isin(tset)]
    if p_t > 0 and len(has):
        has = has.assign(bt=has["customer"].isin(buyers).to_numpy())
        per_item = has.groupby("item")["bt"].agg(["mean", "size"])
        # Items bought by very few customers give noisy lifts: shrink them towards 1.
        k = 20.0
        lift = ((per_item["mean"] * per_item["size"] + p_t * k) / (per_item["size"] + k)) / p_t
        has = has.assign(lift=has["item"].map(lift).to_numpy())
        feats["copurchase_lift"] = has.groupby("customer")["lift"].max().reindex(feats.index)
    else:
        feats["copurchase_lift"] = np.nan
    fills = {
        "purchases_recent": 0.0,
        "spend_recent": 0.0,
        "target_purchases": 0.0,
        "days_since_target": _NEVER,
        "target_share": 0.0,
        "copurchase_lift": 1.0,
    }
    feats = feats.fillna(fills)
    spend = hist.groupby(["customer", "group"])["amount"].sum().unstack(fill_value=0.0)
    groups = list(spend.columns) if groups is None else list(groups)
    spend = spend.reindex(index=feats.index, columns=groups, fill_value=0.0)
    total = spend.sum(axis=1).replace(0.0, np.nan)
    shares = spend.div(total, axis=0).fillna(0.0)
    shares.columns = [f"share:{c}" for c in groups]
    return pd.concat([feats.astype(float), shares], axis=1)


def _labels(lines: pd.DataFrame, cutoff: pd.Timestamp, days: int, tset: set[str], idx: pd.Index):
    end = cutoff + pd.Timedelta(days=days)
    win = lines[(lines["day"] > cutoff) & (lines["day"] <= end) & lines["item"].isin(tset)]
    return pd.Series(idx.isin(win["customer"].unique()).astype(int), index=idx)


def lift_table(y_true: Any, score: Any, *, bins: int = 10) -> pd.DataFrame:
    """Response rate per score decile (highest first), its lift over the overall rate, and the
    cumulative share of all buyers reached (the gains curve)."""
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    order = np.argsort(-s, kind="stable")
    base = y.mean() if len(y) else float("nan")
    rows, reached = [], 0.0
    for i, chunk in enumerate(np.array_split(order, min(bins, max(len(y), 1)))):
        if not len(chunk):
            continue
        rate = float(y[chunk].mean())
        reached += float(y[chunk].sum())
        rows.append(
            {
                "decile": i + 1,
                "customers": int(len(chunk)),
                "buyers": int(y[chunk].sum()),
                "rate": rate,
                "lift": rate / base if base > 0 else float("nan"),
                "cumulative_gain": reached / y.sum() if y.sum() > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows)


class PropensityModel:
    """Propensity to buy a target product or category within ``horizon_days`` of a cut-off.

    Parameters
    ----------
    target : str or sequence of str
        The item value(s) of the ``item`` column that count as buying the target.
    horizon_days : int, default 90
        Length of the purchase window after the cut-off.
    method : {"gb", "logistic"}, default "gb"
        Gradient boosting or logistic regression on log-scaled, standardised features.
    n_windows : int, default 4
        Training cut-offs :math:`c - k h`, k = 1..n_windows (fewer when history is short).
    min_history_days : int, default 90
        Days of data before the earliest training cut-off.
    random_state : int, default 0

    Attributes
    ----------
    feature_names_in_ : ndarray of str
    groups_ : list of str
        Category (group) share columns, fixed at fit.
    windows_ : list of dict
        The training cut-offs with customers and the positive rate.
    cutoff_ : str
        The last day any training label covers (ISO date).
    estimator_ : fitted scikit-learn classifier
    """

    def __init__(
        self,
        target: str | Sequence[str] = "",
        *,
        horizon_days: int = 90,
        method: str = "gb",
        n_windows: int = 4,
        min_history_days: int = 90,
        random_state: int = 0,
    ) -> None:
        self.target = target
        self.horizon_days = horizon_days
        self.method = method
        self.n_windows = n_windows
        self.min_history_days = min_history_days
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        keys = ("target", "horizon_days", "method", "n_windows", "min_history_days")
        return {k: getattr(self, k) for k in (*keys, "random_state")}

    def set_params(self, **params: Any) -> PropensityModel:
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for PropensityModel")
            setattr(self, k, v)
        return self

    # -- fitting ----------------------------------------------------------------------------
    def _make(self) -> Any:
        if self.method == "gb":
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(
                max_iter=150,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=40,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=self.random_state,
            )
        if self.method == "logistic":
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import FunctionTransformer, StandardScaler

            return make_pipeline(
                FunctionTransformer(_signed_log1p),
                StandardScaler(),
                LogisticRegression(C=1.0, max_iter=2000),
            )
        raise ValueError("method must be 'gb' or 'logistic'")

    def fit(self, X: pd.DataFrame, y: Any) -> PropensityModel:
        """Fit on a feature table and 0/1 labels (the tabular path); returns self."""
        from threadpoolctl import threadpool_limits

        yv = np.asarray(y).astype(int)
        if len(yv) != len(X):
            raise ValueError("X and y must have the same number of rows")
        if np.unique(yv).size < 2:
            raise ValueError(
                "the training windows hold no buyers of the target (or only buyers); "
                "choose a more common target or a longer horizon"
            )
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.groups_ = [c[len("share:") :] for c in X.columns if str(c).startswith("share:")]
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.estimator_ = self._make().fit(X.to_numpy(dtype=float), yv)
        self.classes_ = np.array([0, 1])
        return self

    def _windows(self, lines: pd.DataFrame, cut: pd.Timestamp) -> list[pd.Timestamp]:
        h = int(self.horizon_days)
        if h < 1:
            raise ValueError("horizon_days must be at least 1")
        earliest = lines["day"].min() + pd.Timedelta(days=int(self.min_history_days))
        out = []
        for k in range(1, int(self.n_windows) + 1):
            ck = cut - pd.Timedelta(days=k * h)
            if ck < earliest:
                break
            out.append(ck)
        if not out:
            raise ValueError(
                f"not enough history before {cut.date()} to train: the data start on "
                f"{lines['day'].min().date()}, and training needs {self.min_history_days} days "
                f"of history plus one horizon of {h} days"
            )
        return out

    def fit_transactions(self, lines: pd.DataFrame, cutoff: Any) -> PropensityModel:
        """Train on windows whose labels end by ``cutoff`` (lines from :func:`prepare_lines`)."""
        cut = pd.Timestamp(cutoff).normalize()
        if self.method not in ("gb", "logistic"):
            raise ValueError("method must be 'gb' or 'logistic'")
        tset = _targets(self.target)
        if not tset or "" in tset:
            raise ValueError("target is empty")
        if not lines["item"].isin(tset).any():
            raise ValueError(f"target {sorted(tset)[0]!r} never appears in the item column")
        hist = lines[lines["day"] <= cut]  # nothing after the cut-off is ever looked at
        groups = sorted(hist["group"].unique())
        frames, labels, info = [], [], []
        for ck in self._windows(hist, cut):
            f = propensity_features(hist, ck, tset, horizon_days=self.horizon_days, groups=groups)
            lab = _labels(hist, ck, int(self.horizon_days), tset, f.index)
            frames.append(f)
            labels.append(lab.to_numpy())
            info.append(
                {
                    "cutoff": ck.date().isoformat(),
                    "label_end": (ck + pd.Timedelta(days=self.horizon_days)).date().isoformat(),
                    "customers": int(len(f)),
                    "positive_rate": float(lab.mean()),
                }
            )
        self.fit(pd.concat(frames, ignore_index=True), np.concatenate(labels))
        self.windows_ = info
        self.cutoff_ = cut.date().isoformat()
        return self

    # -- scoring ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise RuntimeError("PropensityModel is not fitted; call fit() first")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: P(does not buy), P(buys)."""
        from threadpoolctl import threadpool_limits

        self._check_fitted()
        x = pd.DataFrame(X).reindex(columns=list(self.feature_names_in_), fill_value=0.0)
        with threadpool_limits(limits=1):
            return self.estimator_.predict_proba(x.to_numpy(dtype=float))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where P(buys) >= 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def features_at(self, lines: pd.DataFrame, cutoff: Any) -> pd.DataFrame:
        """The model's features for every customer with a purchase on or before ``cutoff``."""
        self._check_fitted()
        return propensity_features(
            lines,
            cutoff,
            self.target,
            horizon_days=self.horizon_days,
            groups=self.groups_,
        )

    def score_transactions(self, lines: pd.DataFrame, cutoff: Any) -> pd.DataFrame:
        """Per customer: ``propensity`` and the facts a marketer reads (earlier purchases of
        the target, days since it and since any purchase), highest propensity first."""
        f = self.features_at(lines, cutoff)
        out = pd.DataFrame(
            {
                "propensity": self.predict_proba(f)[:, 1],
                "target_purchases": f["target_purchases"].astype(int),
                "days_since_target": f["days_since_target"].where(f["days_since_target"] < _NEVER),
                "days_since_last": f["days_since_last"].astype(int),
                "spend_total": f["spend_total"],
            },
            index=f.index,
        )
        out.index.name = "customer"
        return out.sort_values("propensity", ascending=False, kind="stable")

    def invite_list(self, lines: pd.DataFrame, cutoff: Any, top_k: int = 100) -> pd.DataFrame:
        """The ``top_k`` customers by propensity at ``cutoff``, with their rank."""
        if top_k < 1:
            raise ValueError("top_k must be at least 1")
        out = self.score_transactions(lines, cutoff).head(int(top_k)).copy()
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out


def baseline_score(features: pd.DataFrame) -> np.ndarray:
    """The "bought it before" rule: earlier purchases of the target, ties broken by recency of
    the target (more recent first); customers who never bought it come last."""
    recency = features["days_since_target"].to_numpy(dtype=float)
    return features["target_purchases"].to_numpy(dtype=float) + 1.0 / (2.0 + recency)


def propensity_holdout(
    model: PropensityModel, lines: pd.DataFrame, as_of: Any, *, bins: int = 10
) -> dict[str, Any]:
    """Train a copy of ``model`` with cut-off ``as_of - h`` and score the later period
    :math:`(as\\_of - h, as\\_of]` it never saw.

    Returns ``cutoff`` and ``period_end``, ``model`` and ``baseline`` metrics
    (:func:`~retento.analytics.churn_metrics`: ``roc_auc``, ``pr_auc``, ``lift_at_10``,
    ``base_rate``, ``customers``), the ``lift`` tables of both (:func:`lift_table`) and the
    ``windows`` trained on.
    """
    from retento.analytics.churn import churn_metrics

    end = pd.Timestamp(as_of).normalize()
    h = int(model.horizon_days)
    cut = end - pd.Timedelta(days=h)
    m = PropensityModel(**model.get_params()).fit_transactions(lines, cut)
    f = m.features_at(lines, cut)
    y = _labels(lines, cut, h, _targets(model.target), f.index).to_numpy()
    if np.unique(y).size < 2:
        raise ValueError(
            f"nobody (or everybody) bought the target between {cut.date()} and {end.date()}; "
            "the holdout cannot be evaluated"
        )
    p = m.predict_proba(f)[:, 1]
    b = baseline_score(f)
    keep = ("roc_auc", "pr_auc", "lift_at_10", "base_rate", "customers")
    mm = churn_metrics(y, p, bins=bins)
    bm = churn_metrics(y, b, bins=bins)
    return {
        "cutoff": cut.date().isoformat(),
        "period_end": end.date().isoformat(),
        "trained_until": m.cutoff_,
        "windows": m.windows_,
        "model": {k: mm[k] for k in keep},
        "baseline": {k: bm[k] for k in keep if k not in ("base_rate", "customers")},
        "lift": lift_table(y, p, bins=bins),
        "baseline_lift": lift_table(y, b, bins=bins),
    }
