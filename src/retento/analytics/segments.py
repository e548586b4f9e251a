r"""Customer segmentation: clusters on RFM, CLV, churn-risk and engagement features, with names.

Input is one row per customer (a *feature table*): ``recency`` (days since the last purchase),
``frequency`` (purchase days), ``monetary`` (total spend), and optionally ``clv``, ``churn_risk``
(a probability) and ``engagement`` (any score, higher = more engaged).
:func:`segment_features` builds the RFM part from a transaction file at a cut-off date.

Scaling
-------
The skewed, non-negative features (recency, frequency, monetary, CLV) are first put on a log
scale, :math:`g(x) = \operatorname{sign}(x) \log(1 + |x|)`, so that one customer spending
100 times the median does not become a cluster of its own; churn risk and engagement are used
as they are. Every feature :math:`z` is then centred on its median and divided by the larger
of its inter-quartile range and its standard deviation,

.. math:: \tilde z = (z - \operatorname{median}(z)) / \max(\operatorname{IQR}(z), \sigma(z)),

(1 when the feature is constant). The IQR keeps a long tail from setting the scale; the standard
deviation takes over when most customers share one value (one-time buyers, a score of 0), where
the IQR alone is near 0 and would make that feature outweigh all others. A scaled value of +1 is
at most one IQR above the median customer, so the features weigh about the same in the distance.

Clustering and the choice of k
------------------------------
* ``method="kmeans"``: k-means with k-means++ seeding (Arthur & Vassilvitskii 2007), the best
  of ``n_init`` runs. k is the one with the highest mean silhouette
  :math:`s = \frac{1}{n}\sum_i (b_i - a_i)/\max(a_i, b_i)` (Rousseeuw 1987), where
  :math:`a_i` is the mean distance to the own cluster and :math:`b_i` to the nearest other.
  The silhouette costs :math:`O(n^2)`; it is computed on a random sample of
  ``silhouette_sample`` customers (10,000 by default), which estimates the mean to about
  :math:`\pm 0.01`.
* ``method="gmm"``: a Gaussian mixture with full covariances fitted by EM, k-means-initialised.
  k minimises the Bayesian information criterion
  :math:`\mathrm{BIC} = -2 \log L + p \log n` (Schwarz 1978), with
  :math:`p = k-1 + kd + k\,d(d+1)/2` free parameters in :math:`d` dimensions.
  Every variance gets a floor of 0.01 (a standard deviation of a tenth of the scale): purchase
  counts are discrete and a group of one-time buyers has no spread at all, so without the floor
  a component collapses onto it with an unbounded likelihood and BIC keeps asking for more k.

With more than ``selection_sample`` customers (200,000 by default), k is chosen on a random
sample of that size; the final model with the chosen k is fitted on everyone. Every candidate's
score is kept in ``scores_`` so a report can show why that k was chosen.

Segment names
-------------
Segments are numbered by share of revenue (0 = the largest). Each gets an English and a
Chinese name from its profile relative to the population, by these rules on the percentile
rank of the segment's median :math:`m` of a feature among all customers,
:math:`p = (\#\{x < m\} + \#\{x \le m\}) / 2n` (ties count half):

* level "high" when :math:`p > 2/3`, "low" when :math:`p < 1/3`, otherwise "mid" (the
  segment's typical customer is in the top, bottom or middle third of all customers), and
  "very_high" above 0.9, "very_low" below 0.1 (the top or bottom tenth); a "very" level
  without words of its own below reads like the plain one;
* recency: very low = "Very recent" / "最近", low = "Recent" / "近期", mid = "Cooling" /
  "渐冷", high = "Lapsed" / "流失的";
* frequency: a segment whose median customer bought on one day only is "one-time buyers" /
  "一次性买家"; otherwise very high = "very frequent" / "超高频", high = "frequent" / "高频",
  mid = "regular" / "中频", low = "infrequent" / "低频";
* monetary: very high = "top spenders" / "顶级消费", high = "high spenders" / "高消费", mid =
  "mid spenders" / "中等消费", low = "low spenders" / "低消费"; for one-time buyers, high and
  low become "big-ticket" / "高消费" and "small-ticket" / "低消费" before "one-time buyers" (mid is left out);
* optional features add a qualifier when not "mid": CLV high "with high CLV" / "高价值",
  low "with low CLV" / "低价值"; churn risk high "at risk" / "高流失风险", low "safe" /
  "低流失风险"; engagement high "engaged" / "高互动", low "disengaged" / "低互动".

So "Recent frequent high spenders" / "近期高频高消费" and "Lapsed one-time buyers" /
"流失的一次性买家". Names are unique: when two segments get the same name, each is suffixed
with its rank by revenue among them, " (2)" / "（2）" for the second and so on.

References
----------
Arthur, D. & Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. *SODA*.
Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and validation of
cluster analysis. *J. Comput. Appl. Math.* 20, 53-65.
Schwarz, G. (1978). Estimating the dimension of a model. *Ann. Statist.* 6(2), 461-464.
Wedel, M. & Kamakura, W. A. (2000). *Market Segmentation*, 2nd ed. Kluwer.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from retento.analytics.errors import SummaryInputError

__all__ = ["CustomerSegmentation", "SEGMENT_FEATURES", "segment_features", "silhouette"]

#: Feature columns the segmentation knows, in order; the first three are required.
SEGMENT_FEATURES = ("recency", "frequency", "monetary", "clv", "churn_risk", "engagement")
_REQUIRED = SEGMENT_FEATURES[:3]
_LOG_FEATURES = {"recency", "frequency", "monetary", "clv"}
_METHODS = ("kmeans", "gmm")
#: Added to the mixture's variances (scaled units: a standard deviation of 0.1).
GMM_VARIANCE_FLOOR = 0.01

_WORDS = {
    "recency": {
        "very_low": ("Very recent", "最近"),
        "low": ("Recent", "近期"),
        "mid": ("Cooling", "渐冷"),
        "high": ("Lapsed", "流失的"),
    },
    "frequency": {
        "very_high": ("very frequent", "超高频"),
        "high": ("frequent", "高频"),
        "mid": ("regular", "中频"),
        "low": ("infrequent", "低频"),
    },
    "monetary": {
        "very_high": ("top spenders", "顶级消费"),
        "high": ("high spenders", "高消费"),
        "mid": ("mid spenders", "中等消费"),
        "low": ("low spenders", "低消费"),
    },
    "one_time_monetary": {
        "high": ("big-ticket", "高消费"),
        "mid": ("", ""),
        "low": ("small-ticket", "低消费"),
    },
    "clv": {"high": ("with high CLV", "高价值"), "low": ("with low CLV", "低价值")},
    "churn_risk": {"high": ("at risk", "高流失风险"), "low": ("safe", "低流失风险")},
    "engagement": {"high": ("engaged", "高互动"), "low": ("disengaged", "低互动")},
}


def _level(p: float) -> str:
    if p > 0.9:
        return "very_high"
    if p < 0.1:
        return "very_low"
    return "high" if p > 2 / 3 else "low" if p < 1 / 3 else "mid"


def _word(feature: str, level: str) -> tuple[str, str]:
    """The words for a level; "very_" levels without words of their own use the plain ones."""
    words = _WORDS[feature]
    return words.get(level) or words.get(level.removeprefix("very_"), ("", ""))


def _percentile(sorted_values: np.ndarray, m: float) -> float:
    """Mid-rank percentile of ``m`` in ``sorted_values`` (ties count half)."""
    below = np.searchsorted(sorted_values, m, side="left")
    at_or_below = np.searchsorted(sorted_values, m, side="right")
    return float(below + at_or_below) / (2 * len(sorted_values))


def segment_name(levels: dict[str, str], one_time: bool) -> tuple[str, str]:
    """English and Chinese name from the feature levels ("low"/"mid"/"high"), by the rules in
    the module docstring."""
    r_en, r_zh = _word("recency", levels["recency"])
    if one_time:
        m_en, m_zh = _word("one_time_monetary", levels["monetary"])
        en = " ".join(w for w in (r_en, m_en, "one-time buyers") if w)
        zh = r_zh + m_zh + "一次性买家"
    else:
        f_en, f_zh = _word("frequency", levels["frequency"])
        m_en, m_zh = _word("monetary", levels["monetary"])
        en = f"{r_en} {f_en} {m_en}"
        zh = r_zh + f_zh + m_zh
    extra_en, extra_zh = [], []
    for feature in ("clv", "churn_risk", "engagement"):
        level = levels.get(feature, "mid")
        if level != "mid":
            en_word, zh_word = _word(feature, level)
            extra_en.append(en_word)
            extra_zh.append(zh_word)
    if extra_en:
        en += ", " + ", ".join(extra_en)
        zh += "（" + "、".join(extra_zh) + "）"
    return en, zh


def silhouette(Z: np.ndarray, labels: np.ndarray, k: int, block: int = 256) -> float:
    r"""Mean silhouette of the points ``Z`` with cluster ``labels`` in ``0..k-1``.

    :math:`s_i = (b_i - a_i) / \max(a_i, b_i)` with :math:`a_i` the mean distance to the other
    members of its cluster and :math:`b_i` the smallest mean distance to another cluster;
    :math:`s_i = 0` for a point alone in its cluster (Rousseeuw 1987). Computed ``block`` rows
    at a time: each block's distance rows times the one-hot membership matrix give the
    per-cluster distance sums, so memory is ``block x n`` and the work is two matrix products
    (several times faster than scikit-learn's ``silhouette_score`` on low-dimensional data).
    """
    n = len(Z)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), labels] = 1.0
    counts = onehot.sum(axis=0)
    sq = np.einsum("ij,ij->i", Z, Z)
    total = 0.0
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        d2 = sq[lo:hi, None] + sq[None, :] - 2.0 * (Z[lo:hi] @ Z.T)
        np.maximum(d2, 0.0, out=d2)
        sums = np.sqrt(d2, out=d2) @ onehot
        own = labels[lo:hi]
        rows = np.arange(hi - lo)
        n_own = counts[own] - 1
        a = np.divide(sums[rows, own], n_own, out=np.zeros(hi - lo), where=n_own > 0)
        means = sums / np.where(counts > 0, counts, 1)
        means[:, counts == 0] = np.inf
        means[rows, own] = np.inf
        b = means.min(axis=1)
        s = np.where(n_own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-300), 0.0)
        total += float(s.sum())
    return total / n


def _log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class CustomerSegmentation:
    """Cluster customers on RFM (and CLV, churn-risk, engagement) features and name the clusters.

    scikit-learn's estimator contract: parameters are stored as given, ``fit`` learns,
    ``predict`` assigns new customers, ``get_params``/``set_params`` work with ``clone``.

    Parameters
    ----------
    method : {"kmeans", "gmm"}, default "kmeans"
    n_clusters : int, optional
        A fixed k; when ``None`` k is chosen over ``k_min..k_max`` (silhouette for k-means,
        BIC for the mixture; see the module docstring).
    k_min, k_max : int, default 2 and 8
    features : sequence of str, optional
        Columns to use; by default every column of :data:`SEGMENT_FEATURES` present in ``X``.
    silhouette_sample : int, default 10,000
        Customers the silhouette is computed on (it is quadratic in their number).
    selection_sample : int, default 200,000
        With more customers, k is chosen on a random sample of this size.
    n_init : int, default 4
        k-means restarts (best inertia kept); the mixture uses one k-means-initialised run.
    random_state : int, default 0
        Makes the result reproducible: same data and seed, same segments and names.
    n_jobs : int, optional, default 1
        Threads for the k-means/mixture/silhouette kernels (OpenMP and BLAS); ``None`` leaves
        the libraries' default (all cores). One by default: on a shared or busy machine, OpenMP
        threads that outnumber free cores make a 2,000-customer fit 50 times slower.

    Attributes
    ----------
    n_clusters_ : int
        The k used.
    scores_ : DataFrame
        One row per candidate k: ``k``, ``score``, ``metric`` ("silhouette" or "bic"),
        ``chosen``. A single row when ``n_clusters`` is fixed.
    features_ : list of str
    center_, scale_ : ndarray
        Scaling median and max(IQR, standard deviation) (on the log scale for the log features).
    labels_ : ndarray of int
        Segment of each customer of the fit, 0 = the segment with the largest revenue share.
    profiles_ : DataFrame
        One row per segment: ``segment``, ``name_en``, ``name_zh``, ``size``, ``share``,
        ``revenue_share``, ``mean_<feature>``, ``median_<feature>`` and ``level_<feature>``.

    Examples
    --------
    >>> X = pd.DataFrame({"recency": [3, 5, 4, 300, 320, 310],
    ...                   "frequency": [12, 10, 11, 1, 1, 1],
    ...                   "monetary": [900, 800, 1000, 20, 25, 30]})
    >>> seg = CustomerSegmentation(n_clusters=2).fit(X)
    >>> seg.profiles_["name_en"].tolist()
    ['Recent frequent high spenders', 'Lapsed small-ticket one-time buyers']
    """

    def __init__(
        self,
        method: str = "kmeans",
        n_clusters: int | None = None,
        k_min: int = 2,
        k_max: int = 8,
        features: list[str] | tuple[str, ...] | None = None,
        silhouette_sample: int = 10_000,
        selection_sample: int = 200_000,
        n_init: int = 4,
        random_state: int = 0,
        n_jobs: int | None = 1,
    ) -> None:
        self.method = method
        self.n_clusters = n_clusters
        self.k_min = k_min
        self.k_max = k_max
        self.features = features
        self.silhouette_sample = silhouette_sample
        self.selection_sample = selection_sample
        self.n_init = n_init
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_clusters": self.n_clusters,
            "k_min": self.k_min,
            "k_max": self.k_max,
            "features": self.features,
            "silhouette_sample": self.silhouette_sample,
            "selection_sample": self.selection_sample,
            "n_init": self.n_init,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    def set_params(self, **params: Any) -> CustomerSegmentation:
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"unknown parameter {key!r}")
            setattr(self, key, value)
        return self

    # -- validation and scaling ------------------------------------------------------------
    def _check_params(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"method must be 'kmeans' or 'gmm', not {self.method!r}")
        if self.n_clusters is not None and int(self.n_clusters) < 1:
            raise ValueError("n_clusters must be at least 1")
        if self.n_clusters is None and not 2 <= self.k_min <= self.k_max:
            raise ValueError(
                f"need 2 <= k_min <= k_max, got k_min={self.k_min}, k_max={self.k_max}"
            )
        if self.silhouette_sample < 100 or self.selection_sample < 100:
            raise ValueError("silhouette_sample and selection_sample must be at least 100")
        if self.n_init < 1:
            raise ValueError("n_init must be at least 1")

    def _matrix(self, X: pd.DataFrame, fitting: bool) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a pandas DataFrame with one row per customer")
        if fitting:
            wanted = list(self.features) if self.features is not None else None
            if wanted is None:
                wanted = [c for c in SEGMENT_FEATURES if c in X.columns or c in _REQUIRED]
            unknown = [c for c in wanted if c not in SEGMENT_FEATURES]
            if unknown:
                raise ValueError(
                    f"unknown feature {unknown[0]!r}; known: {', '.join(SEGMENT_FEATURES)}"
                )
            missing = [c for c in SEGMENT_FEATURES[:3] if c not in wanted]
            if missing:
                raise ValueError(f"feature {missing[0]!r} is required")
            features = wanted
        else:
            features = self.features_
        absent = [c for c in features if c not in X.columns]
        if absent:
            raise SummaryInputError(
                f"Column {absent[0]!r} not found; columns are: {', '.join(map(str, X.columns))}"
            )
        cols = []
        for c in features:
            values = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values)
            if c in ("recency", "frequency"):
                bad |= values < 0
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise SummaryInputError(
                    f"Column {c!r} has a missing, non-numeric or invalid value for customer "
                    f"{X.index[i]!r} ({int(bad.sum())} bad row(s) in total)"
                )
            cols.append(_log(values) if c in _LOG_FEATURES else values)
        if len(X) == 0:
            raise SummaryInputError("No customers to segment")
        Z = np.column_stack(cols)
        if fitting:
            self.features_ = features
            q1, med, q3 = np.percentile(Z, [25, 50, 75], axis=0)
            scale = np.maximum(q3 - q1, Z.std(axis=0))
            scale = np.where(scale > 0, scale, 1.0)
            self.center_, self.scale_ = med, scale
        return (Z - self.center_) / self.scale_

    # -- model ------------------------------------------------------------------------------
    def _model(self, k: int, seed: int) -> Any:
        if self.method == "kmeans":
            from sklearn.cluster import KMeans

            return KMeans(k, init="k-means++", n_init=self.n_init, random_state=seed)
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(
            k, covariance_type="full", random_state=seed, reg_covar=GMM_VARIANCE_FLOOR
        )

    def _choose_k(self, Z: np.ndarray, rng: np.random.Generator) -> int:
        n = len(Z)
        if self.n_clusters is not None:
            k = int(self.n_clusters)
            if k > n:
                raise SummaryInputError(f"n_clusters={k} but there are only {n} customers")
            self.scores_ = pd.DataFrame(
                {"k": [k], "score": [np.nan], "metric": ["fixed"], "chosen": [True]}
            )
            return k
        S = (
            Z[rng.choice(n, self.selection_sample, replace=False)]
            if n > self.selection_sample
            else Z
        )
        distinct = len(np.unique(S, axis=0)) if len(S) <= 100_000 else len(S)
        k_hi = min(self.k_max, distinct - 1 if self.method == "kmeans" else distinct)
        if k_hi < self.k_min:
            raise SummaryInputError(
                f"Only {distinct} distinct customer profile(s): cannot choose k in "
                f"{self.k_min}..{self.k_max}; set a smaller k"
            )
        rows = []
        pick = np.sort(rng.choice(len(S), min(self.silhouette_sample, len(S)), replace=False))
        for k in range(self.k_min, k_hi + 1):
            model = self._model(k, self.random_state).fit(S)
            if self.method == "kmeans":
                labels = model.labels_
                if len(np.unique(labels)) < 2:
                    score = -1.0
                else:
                    score = silhouette(S[pick], labels[pick], k)
                rows.append((k, score, "silhouette"))
            else:
                rows.append((k, float(model.bic(S)), "bic"))
        scores = pd.DataFrame(rows, columns=["k", "score", "metric"])
        best = scores["score"].idxmax() if self.method == "kmeans" else scores["score"].idxmin()
        scores["chosen"] = scores.index == best
        self.scores_ = scores
        return int(scores.loc[best, "k"])

    def fit(self, X: pd.DataFrame, y: Any = None) -> CustomerSegmentation:
        """Scale the features, choose k, cluster, and profile and name the segments."""
        # Load the OpenMP/BLAS libraries first: threadpool_limits only limits loaded ones.
        import sklearn.cluster  # noqa: F401
        import sklearn.metrics  # noqa: F401
        import sklearn.mixture  # noqa: F401
        from threadpoolctl import threadpool_limits

        self._check_params()
        with threadpool_limits(limits=self.n_jobs):
            return self._fit(X)

    def _fit(self, X: pd.DataFrame) -> CustomerSegmentation:
        Z = self._matrix(X, fitting=True)
        rng = np.random.default_rng(self.random_state)
        k = self._choose_k(Z, rng)
        self.model_ = self._model(k, self.random_state).fit(Z)
        raw = np.asarray(self.model_.predict(Z))
        # Renumber by revenue share (largest first), then by size, then by the raw id.
        money = pd.to_numeric(X["monetary"], errors="coerce").to_numpy(dtype=float)
        revenue = np.bincount(raw, weights=money, minlength=k)
        size = np.bincount(raw, minlength=k)
        order = sorted(range(k), key=lambda c: (-revenue[c], -size[c], c))
        self._relabel = np.empty(k, dtype=np.int64)
        self._relabel[order] = np.arange(k)
        self.n_clusters_ = k
        self.labels_ = self._relabel[raw]
        self.profiles_ = self._profiles(X, self.labels_)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Segment of each customer of ``X`` (same feature columns as the fit)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("CustomerSegmentation is not fitted yet: call fit first")
        from threadpoolctl import threadpool_limits

        Z = self._matrix(X, fitting=False)
        with threadpool_limits(limits=self.n_jobs):
            return self._relabel[np.asarray(self.model_.predict(Z))]

    def fit_predict(self, X: pd.DataFrame, y: Any = None) -> np.ndarray:
        return self.fit(X).labels_

    def names(self, lang: str = "en") -> dict[int, str]:
        """Segment id -> name in ``lang`` ("en" or "zh")."""
        if lang not in ("en", "zh"):
            raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
        return dict(zip(self.profiles_["segment"], self.profiles_[f"name_{lang}"], strict=True))

    # -- profiles and names -----------------------------------------------------------------
    def _profiles(self, X: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
        k = self.n_clusters_
        n = len(labels)
        raw = pd.DataFrame(
            {c: pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float) for c in self.features_}
        )
        raw["_seg"] = labels
        grouped = raw.groupby("_seg")
        means, medians = grouped.mean(), grouped.median()
        size = np.bincount(labels, minlength=k)
        money = raw["monetary"].to_numpy()
        total = money.sum()
        revenue = np.bincount(labels, weights=money, minlength=k)
        population = {c: np.sort(raw[c].to_numpy()) for c in self.features_}
        rows = []
        for s in range(k):
            levels = {
                c: _level(_percentile(population[c], float(medians.loc[s, c])))
                for c in self.features_
            }
            one_time = bool(medians.loc[s, "frequency"] <= 1)
            en, zh = segment_name(levels, one_time)
            row: dict[str, Any] = {
                "segment": s,
                "name_en": en,
                "name_zh": zh,
                "size": int(size[s]),
                "share": size[s] / n,
                "revenue_share": revenue[s] / total if total > 0 else np.nan,
            }
            for c in self.features_:
                row[f"mean_{c}"] = float(means.loc[s, c])
                row[f"median_{c}"] = float(medians.loc[s, c])
            for c in self.features_:
                row[f"level_{c}"] = levels[c]
            rows.append(row)
        profiles = pd.DataFrame(rows)
        for lang, fmt in (("en", " ({})"), ("zh", "（{}）")):
            col = f"name_{lang}"
            dup = profiles[col].duplicated(keep=False)
            rank = profiles[dup].groupby(col).cumcount() + 1
            profiles.loc[dup, col] = [
                name + (fmt.format(r) if r > 1 else "")
                for name, r in zip(profiles.loc[dup, col], rank, strict=True)
            ]
        return profiles


def segment_features(
    transactions: pd.DataFrame | str | os.PathLike[str],
    customer_col: str,
    date_col: str,
    amount_col: str,
    *,
    as_of: Any = None,
) -> pd.DataFrame:
    """RFM feature table of a transaction log at a cut-off date.

    Parameters
    ----------
    transactions : DataFrame or path
        One row per transaction; a path is read by DuckDB (``.csv`` or ``.parquet``) with the
        same checks as :func:`retento.analytics.summarize` (a bad row is named).
    customer_col, date_col, amount_col : str
    as_of : date-like, optional
        Cut-off: later transactions are ignored. Defaults to the last transaction date.

    Returns
    -------
    DataFrame
        Indexed by customer (sorted): ``recency`` (days from the last purchase day to
        ``as_of``), ``frequency`` (distinct purchase days, at least 1) and ``monetary`` (total
        amount up to ``as_of``).

    Raises
    ------
    SummaryInputError
        Missing column, bad value (the row is named), or no purchase by ``as_of``.
    """
    import duckdb

    from retento.analytics.summary import _lit_date, load_checked

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        load_checked(con, transactions, customer_col, date_col, amount_col)
        end = as_of if as_of is not None else con.execute("SELECT max(day) FROM t").fetchone()[0]
        cut = _lit_date(end)
        arrays = con.execute(
            f"""SELECT cust, CAST(date_diff('day', max(day), {cut}) AS DOUBLE) AS recency,
                       CAST(count(DISTINCT day) AS DOUBLE) AS frequency,
                       sum(amt) AS monetary
                FROM t WHERE day <= {cut} GROUP BY cust ORDER BY cust"""
        ).fetchnumpy()
    finally:
        con.close()
    index = pd.Index(np.asarray(arrays.pop("cust")), name=customer_col)
    out = pd.DataFrame(
        {k: np.asarray(arrays[k], dtype=float) for k in ("recency", "frequency", "monetary")},
        index=index,
    )
    if len(out) == 0:
        raise SummaryInputError(f"No purchase on or before {cut[6:-1]}")
    return out
