r"""Churn risk: who will not buy again within a horizon, why, and how well the model knows it.

Churn is defined on a transaction log without contracts: a customer *churns* at a cut-off c
over a horizon h if they bought on or before c and do not buy in :math:`(c, c + h]`.

The pieces:

* :class:`TransactionLog` loads a transaction table (DataFrame, CSV or Parquet) into DuckDB once
  and builds per-customer features at any cut-off by SQL aggregation, plus labels.
* :func:`btyd_features` adds the buy-'til-you-die view: P(alive), expected purchases and the
  probability of no purchase in the horizon under MBG/NBD and BG/NBD, fitted at that cut-off.
* :class:`ChurnRiskModel` (scikit-learn contract) is gradient boosting
  (:class:`~sklearn.ensemble.HistGradientBoostingClassifier`) with an optional spline logistic
  regression companion, stacked and calibrated on out-of-fold predictions (Platt scaling of
  the models' logits). ``fit_transactions`` trains only on cut-offs *before* the scoring
  cut-off, with labels that end at it, so the evaluation period is never seen.
* :meth:`ChurnRiskModel.explain` turns feature contributions into reasons in English and
  Chinese ("no purchase for 5 months; usually buys every 6 weeks").
* :func:`churn_metrics` gives ROC AUC, PR AUC, lift in the top 10 %, Brier score and a
  calibration curve; :func:`telco_features` is the documented preprocessing of the IBM Telco
  (contractual) data for the tabular path.

References
----------
Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
models for customer base analysis. *International Journal of Research in Marketing* 24(3).

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way.
*Marketing Science* 24(2), 275-284.

Platt, J. (1999). Probabilistic outputs for support vector machines and comparisons to
regularized likelihood methods. *Advances in Large Margin Classifiers*, 61-74.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

# The holdout metrics live in churn_eval; re-exported here (public API).
from retento.analytics.churn_eval import churn_metrics

# Features and the transaction log live in churn_features; re-exported here (public API).
from retento.analytics.churn_features import (
    DAYS_PER_WEEK,
    TX_FEATURES,
    TX_GROUPS,
    TransactionLog,
    btyd_features,
)
from retento.analytics.churn_reasons import tx_reason

# The IBM Telco (contractual) preprocessing lives in churn_telco; re-exported (public API).
from retento.analytics.churn_telco import TELCO_FEATURE_LABELS, telco_features
from retento.analytics.churn_trees import FlatTrees

__all__ = [
    "DAYS_PER_WEEK",
    "TELCO_FEATURE_LABELS",
    "TX_FEATURES",
    "TX_GROUPS",
    "ChurnRiskModel",
    "TransactionLog",
    "btyd_features",
    "churn_metrics",
    "telco_features",
]


# -- threads -----------------------------------------------------------------------------------
@contextmanager
def _openmp_threads():
    """Run OpenMP (scikit-learn's gradient boosting) and BLAS on one thread.

    The histogram sums of gradient boosting depend on how many threads add them up, so a thread
    count chosen from the machine's load made the same data score differently (by up to 0.1
    percentage point) from one run to the next. One thread makes scores reproducible, and on a
    shared 2-core machine it is also the faster choice: OpenMP threads spin-wait for each other,
    and the 5-fold Telco run took 200 s with two threads against 6 s with one (load average 12).
    """
    with threadpool_limits(limits=1):
        yield


# Features the stacker may take as logits besides the models' (``btyd_stack``).
_STACK_COLUMNS = ("p_no_purchase_bgnbd",)


# -- the estimator ----------------------------------------------------------------------------
@dataclass
class _Prepared:
    """Columns of X as the boosting and the linear companion see them."""

    gb: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


class ChurnRiskModel:
    r"""Calibrated churn risk from gradient boosting, with reasons in plain words.

    Parameters
    ----------
    horizon_days : int
        Churn means no purchase within this many days after the cut-off.
    n_windows : int
        Training cut-offs before the scoring cut-off (transactions path).
    window_step_days : int, optional
        Days between training cut-offs; default ``horizon_days``, shortened when the history
        before the cut-off is too short (labels are then cut at the scoring cut-off).
    min_history_days : int
        Days of data a training cut-off needs before it.
    trend_days : int
        Length of the "recent" and "prior" windows of the trend features.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Gradient boosting hyper-parameters
        (:class:`~sklearn.ensemble.HistGradientBoostingClassifier`); small trees and a slow
        learning rate suit the few, strong features of churn data.
    linear : bool or "auto"
        Stack a spline logistic regression with the boosting (helps on small or nearly
        linear data such as CDNOW and Telco). ``"auto"``: only up to 100,000 training rows,
        where it is cheap and the boosting alone has the most variance.
    btyd_stack : bool or "auto"
        Also give the stacker the logit of BG/NBD's probability of no purchase in the horizon
        (the feature ``p_no_purchase_bgnbd``), so that where the parametric model already ranks
        customers well (logs close to a BG/NBD process) the calibrated risk leans on it instead
        of on the noisier learnt models. ``"auto"``: when that column is among the features.
    n_folds : int
        Folds for the out-of-fold predictions the stacker/calibrator is fitted on. Boosting
        alone on more than 100,000 rows holds out only the first fold (a one-logit Platt
        scaling needs no more; it halves the training time).
    max_train_rows : int
        Training rows above this are subsampled (seeded), keeping fits bounded.
    random_state : int
        Seed of the subsample, the folds and the boosting.
    feature_labels : mapping, optional
        ``{column: (english, chinese)}`` reason templates for tabular or extra feature columns,
        with ``{value}`` for the customer's value, e.g.
        ``{"complaints_open": ("{value:.0f} open complaint(s)", "{value:.0f} 个未解决投诉")}``.

    Attributes
    ----------
    feature_names_in_ : list of str
    estimators_ : list
        The boosting model and, with ``linear``, the logistic regression, fitted on all rows.
    stacker_ : LogisticRegression
        Maps the models' logits (and, with ``btyd_stack``, BG/NBD's logit) to a calibrated
        probability (Platt scaling).
    stack_columns_ : list of str
        Feature columns given to the stacker as logits besides the models' (``[]`` or
        ``["p_no_purchase_bgnbd"]``).
    oof_rows_, oof_risk_ : ndarray
        Training rows (after subsampling) held out for the stacker, and their out-of-fold
        risk.
    baseline_ : dict
        Population medians (numeric) and modes (categorical), the reference for reasons.
    groups_ : dict
        Reason groups of features.
    windows_ : list of dict
        Transactions path: each training cut-off, its label end, rows and churn rate.

    Notes
    -----
    Per-customer contributions are occlusion differences: for each feature group g,
    :math:`c_g = \hat p(x) - \hat p(x_{g \leftarrow \tilde x_g})` with :math:`\tilde x` the
    population median. Groups with the largest positive :math:`c_g` are the reasons. For
    numeric features the boosting is evaluated once by
    :class:`~retento.analytics.churn_trees.FlatTrees`, which recomputes only the trees that
    split on the moved group (the same numbers, about 10 times faster).
    """

    def __init__(
        self,
        *,
        horizon_days: int = 90,
        n_windows: int = 3,
        window_step_days: int | None = None,
        min_history_days: int = 60,
        trend_days: int = 91,
        max_iter: int = 150,
        learning_rate: float = 0.06,
        max_leaf_nodes: int = 4,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        linear: bool | str = "auto",
        btyd_stack: bool | str = "auto",
        n_folds: int = 3,
        max_train_rows: int = 250_000,
        random_state: int = 0,
        feature_labels: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.horizon_days = horizon_days
        self.n_windows = n_windows
        self.window_step_days = window_step_days
        self.min_history_days = min_history_days
        self.trend_days = trend_days
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.linear = linear
        self.btyd_stack = btyd_stack
        self.n_folds = n_folds
        self.max_train_rows = max_train_rows
        self.random_state = random_state
        self.feature_labels = feature_labels

    # scikit-learn's get_params/set_params without inheriting (keeps clone() working).
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters, as scikit-learn's ``BaseEstimator.get_params``."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params: Any) -> ChurnRiskModel:
        """Set hyper-parameters; returns self."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for ChurnRiskModel")
            setattr(self, k, v)
        return self

    # -- preparation ----------------------------------------------------------------------
    def _prepare(self, X: pd.DataFrame, fitting: bool) -> _Prepared:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a pandas DataFrame of features")
        if fitting:
            self.feature_names_in_ = [str(c) for c in X.columns]
            self.categorical_ = {
                str(c): list(pd.Series(X[c]).astype("string").dropna().unique())
                for c in X.columns
                if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
            }
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks the feature column(s) {', '.join(missing)}")
        X = X[self.feature_names_in_]
        gb = {}
        for c in self.feature_names_in_:
            if c in self.categorical_:
                cats = sorted(self.categorical_[c])
                gb[c] = pd.Categorical(X[c].astype("string"), categories=cats)
            else:
                gb[c] = pd.to_numeric(X[c], errors="coerce").astype(float).to_numpy()
        frame = pd.DataFrame(gb, index=X.index)
        numeric = [c for c in self.feature_names_in_ if c not in self.categorical_]
        return _Prepared(frame, numeric, list(self.categorical_))

    def _make_gb(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features="from_dtype",
            early_stopping=False,
            random_state=self.random_state,
        )

    def _make_linear(self, prep: _Prepared) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import (
            FunctionTransformer,
            OneHotEncoder,
            SplineTransformer,
            StandardScaler,
        )

        parts: list[tuple[str, Any, list[str]]] = []
        if prep.numeric:
            parts.append(
                (
                    "num",
                    make_pipeline(
                        SimpleImputer(strategy="median", add_indicator=True),
                        FunctionTransformer(_signed_log),
                        SplineTransformer(n_knots=4, degree=3, extrapolation="linear"),
                    ),
                    prep.numeric,
                )
            )
        if prep.categorical:
            parts.append(
                (
                    "cat",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="missing"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    prep.categorical,
                )
            )
        return make_pipeline(
            ColumnTransformer(parts),
            StandardScaler(with_mean=False),
            LogisticRegression(C=0.1, max_iter=3000),
        )

    def _linear_input(self, prep: _Prepared) -> pd.DataFrame:
        out = prep.gb.copy()
        for c in prep.categorical:
            out[c] = out[c].astype(object).where(out[c].notna(), "missing")
        return out

    def _logits(self, ests: list[Any], prep: _Prepared, chunk: int = 200_000) -> np.ndarray:
        n = len(prep.gb)
        out = np.empty((n, len(ests)))
        lin = self._linear_input(prep) if len(ests) > 1 else None
        flat = self._flat(ests[0])
        if flat is not None:
            out[:, 0], _ = flat.raw_and_moved(prep.gb.to_numpy(np.float64), {})
        for lo in range(0, n, chunk):
            sl = slice(lo, lo + chunk)
            if flat is None:
                out[sl, 0] = ests[0].decision_function(prep.gb.iloc[sl])
            if lin is not None:
                out[sl, 1] = ests[1].decision_function(lin.iloc[sl])
        return out

    def _stack_logits(self, gb: pd.DataFrame, moved: Mapping[str, float] | None = None) -> list:
        """The stacker's inputs besides the models' logits: logit of each ``stack_columns_``
        column (a missing value is the training median; ``moved`` replaces a column by a value,
        for occlusion)."""
        out = []
        for c in getattr(self, "stack_columns_", []):
            if moved is not None and c in moved:
                p = np.full(len(gb), float(moved[c]))
            else:
                p = gb[c].to_numpy(dtype=float)
            p = np.clip(np.where(np.isfinite(p), p, self.baseline_[c]), 1e-6, 1.0 - 1e-6)
            out.append(np.log(p) - np.log1p(-p))
        return out

    def _stack_input(self, logits: np.ndarray, gb: pd.DataFrame) -> np.ndarray:
        extra = self._stack_logits(gb)
        return np.column_stack([logits, *extra]) if extra else logits

    def _flat(self, est: Any) -> FlatTrees | None:
        """The boosting as :class:`FlatTrees` (exact, vectorised), or None when unsupported.

        Cached for the final model only (out-of-fold models are used once)."""
        final = getattr(self, "estimators_", None)
        if final is not None and est is final[0]:
            cached = self.__dict__.get("_flat_trees")
            if cached is None or cached[0] is not est:
                self._flat_trees = (est, FlatTrees.from_estimator(est))
            return self._flat_trees[1]
        return FlatTrees.from_estimator(est)

    # -- fitting ----------------------------------------------------------------------------
    def fit(
        self, X: pd.DataFrame, y: ArrayLike, *, groups: ArrayLike | None = None
    ) -> ChurnRiskModel:
        """Fit on a feature table and 0/1 churn labels (the tabular path); returns self.

        ``groups`` (e.g. customer ids when a customer appears in several windows) keeps each
        group within one fold of the out-of-fold predictions the calibration is fitted on.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GroupKFold, StratifiedKFold

        y = np.asarray(y).astype(int)
        if len(y) != len(X):
            raise ValueError("X and y must have the same number of rows")
        if not np.isin(y, (0, 1)).all() or np.unique(y).size < 2:
            raise ValueError("y must hold both classes, 0 (stays) and 1 (churns)")
        rng = np.random.default_rng(self.random_state)
        if len(y) > self.max_train_rows:
            keep = np.sort(rng.choice(len(y), self.max_train_rows, replace=False))
            X, y = X.iloc[keep], y[keep]
            groups = None if groups is None else np.asarray(groups)[keep]
        prep = self._prepare(X, fitting=True)
        self.groups_ = self._default_groups()
        self.baseline_ = self._baselines(prep)
        stackable = [c for c in _STACK_COLUMNS if c in prep.numeric]
        wanted = bool(stackable) if self.btyd_stack == "auto" else bool(self.btyd_stack)
        if wanted and not stackable:
            raise ValueError("btyd_stack=True needs the feature column p_no_purchase_bgnbd")
        self.stack_columns_ = stackable if wanted else []
        self.linear_ = bool(len(y) <= 100_000 if self.linear == "auto" else self.linear)
        n_models = 2 if self.linear_ else 1
        if groups is None:
            folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
            splits = list(folds.split(prep.gb, y))
        else:
            g = pd.factorize(np.asarray(groups))[0]
            # Shuffle group ids so folds do not follow the (sorted) customer order.
            g = rng.permutation(g.max() + 1)[g]
            splits = list(GroupKFold(self.n_folds).split(prep.gb, y, g))
        if not self.linear_ and len(y) > 100_000:
            # Boosting alone on many rows: the calibration is a two-parameter Platt scaling,
            # and one held-out fold (over 30,000 rows) fixes it as well as all folds would, for
            # half the boosting fits.
            splits = splits[:1]
        held_out = np.sort(np.concatenate([test for _, test in splits]))
        oof = np.empty((len(y), n_models))
        with _openmp_threads(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for train, test in splits:
                sub = _Prepared(prep.gb.iloc[train], prep.numeric, prep.categorical)
                ests = self._fit_models(sub, y[train])
                oof[test] = self._logits(
                    ests, _Prepared(prep.gb.iloc[test], prep.numeric, prep.categorical)
                )
            self.estimators_ = self._fit_models(prep, y)
        oof = self._stack_input(oof[held_out], prep.gb.iloc[held_out])
        y_oof = y[held_out]
        self.stacker_ = LogisticRegression(C=1e4, max_iter=1000).fit(oof, y_oof)
        self.oof_rows_ = held_out
        self.oof_risk_ = self.stacker_.predict_proba(oof)[:, 1]
        self.classes_ = np.array([0, 1])
        return self

    def _fit_models(self, prep: _Prepared, y: np.ndarray) -> list[Any]:
        ests = [self._make_gb().fit(prep.gb, y)]
        if self.linear_:
            ests.append(self._make_linear(prep).fit(self._linear_input(prep), y))
        return ests

    def _default_groups(self) -> dict[str, list[str]]:
        names = set(self.feature_names_in_)
        groups: dict[str, list[str]] = {}
        for g, cols in TX_GROUPS.items():
            present = [c for c in cols if c in names]
            if present:
                groups[g] = present
        # The label length of a window is a setting, not a fact about the customer: no reason.
        taken = {c for cols in groups.values() for c in cols} | {"horizon_days"}
        for c in self.feature_names_in_:
            if c not in taken:
                groups[c] = [c]
        return groups

    def _baselines(self, prep: _Prepared) -> dict[str, Any]:
        base: dict[str, Any] = {}
        for c in prep.numeric:
            v = prep.gb[c].to_numpy(dtype=float)
            base[c] = float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")
        for c in prep.categorical:
            mode = prep.gb[c].mode(dropna=True)
            base[c] = mode.iloc[0] if len(mode) else None
        return base

    def fit_transactions(
        self,
        log: TransactionLog,
        cutoff: Any,
        *,
        extra: pd.DataFrame | Callable[[pd.Timestamp], pd.DataFrame] | None = None,
    ) -> ChurnRiskModel:
        """Train on windows that end by ``cutoff``: never on what happens after it.

        Training cut-offs are :math:`c_k = c - k\\,s` (k = 1, ..., ``n_windows``) with step s =
        ``window_step_days`` (default ``horizon_days``); the label of :math:`c_k` is "no purchase
        in :math:`(c_k, \\min(c_k + h, c)]`". When the history is too short for full-horizon
        windows, the step shrinks so that the windows fit after ``min_history_days`` of data;
        the BTYD features of each window use that window's own label length.

        ``extra`` adds per-customer columns (complaints, surveys, loyalty ...): a DataFrame
        indexed by customer (the same values for every window, so only use facts known before
        the earliest training cut-off) or a function ``cutoff -> DataFrame`` giving the values
        as of each cut-off (preferred: no leakage). Missing customers get NaN.
        """
        cut = pd.Timestamp(cutoff)
        windows = self._windows(log, cut)
        frames, labels, groups, info = [], [], [], []
        for ck, days in windows:
            feats = log.features(ck, horizon_days=days, trend_days=self.trend_days)
            feats["horizon_days"] = float(days)
            feats = _with_extra(feats, extra, ck)
            lab = log.labels(ck, days, feats.index)
            frames.append(feats)
            labels.append(lab.to_numpy())
            groups.append(feats.index.to_numpy())
            info.append(
                {
                    "cutoff": ck.date().isoformat(),
                    "label_end": (ck + pd.Timedelta(days=days)).date().isoformat(),
                    "label_days": int(days),
                    "customers": int(len(feats)),
                    "churn_rate": float(lab.mean()) if len(lab) else float("nan"),
                }
            )
        X = pd.concat(frames, ignore_index=True)
        y = np.concatenate(labels)
        self.fit(X, y, groups=np.concatenate(groups))
        self.windows_ = info
        self.cutoff_ = cut.date().isoformat()
        return self

    def _windows(self, log: TransactionLog, cut: pd.Timestamp) -> list[tuple[pd.Timestamp, int]]:
        h = int(self.horizon_days)
        if h < 1:
            raise ValueError("horizon_days must be at least 1")
        earliest = log.first_day + pd.Timedelta(days=int(self.min_history_days))
        room = (cut - earliest).days
        step = int(self.window_step_days or h)
        if step * self.n_windows > room:
            step = room // max(self.n_windows, 1)
        if step < 14:
            raise ValueError(
                f"not enough history before the cut-off {cut.date()} to train: the data start "
                f"on {log.first_day.date()}, and training needs {self.min_history_days} days of "
                f"history plus at least {self.n_windows} x 14 days of labelled windows"
            )
        out = []
        for k in range(1, self.n_windows + 1):
            ck = cut - pd.Timedelta(days=k * step)
            if ck < earliest:
                break
            out.append((ck, min(h, (cut - ck).days)))
        return out

    # -- prediction -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "stacker_"):
            raise RuntimeError("ChurnRiskModel is not fitted; call fit() first")

    def _risk_prepared(self, prep: _Prepared) -> np.ndarray:
        with _openmp_threads():
            logits = self._stack_input(self._logits(self.estimators_, prep), prep.gb)
            return self.stacker_.predict_proba(logits)[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: P(stays), P(churns)."""
        self._check_fitted()
        p = self._risk_prepared(self._prepare(X, fitting=False))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the churn probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per customer and reason group: how much lower the risk would be with that group's
        features at the population median (positive = the group raises the risk)."""
        self._check_fitted()
        prep = self._prepare(X, fitting=False)
        flat = self._flat(self.estimators_[0])
        if flat is not None:
            frame = self._contributions_flat(prep, flat)
            frame.index = X.index
            return frame
        risk = self._risk_prepared(prep)
        out = {}
        for g, cols in self.groups_.items():
            moved = prep.gb.copy()
            for c in cols:
                base = self.baseline_[c]
                if c in prep.categorical:
                    moved[c] = pd.Categorical(
                        [base] * len(moved), categories=moved[c].cat.categories
                    )
                else:
                    moved[c] = base
            out[g] = risk - self._risk_prepared(_Prepared(moved, prep.numeric, prep.categorical))
        frame = pd.DataFrame(out, index=X.index)
        frame.attrs["risk"] = risk
        return frame

    def _contributions_flat(self, prep: _Prepared, flat: FlatTrees) -> pd.DataFrame:
        """Occlusion contributions with the boosting evaluated once (:class:`FlatTrees`): each
        group changes only the trees that split on it. Same numbers as predicting the moved
        copies (to rounding in the last bits of the log-odds)."""
        names = list(prep.gb.columns)
        moves = {
            g: {names.index(c): float(self.baseline_[c]) for c in cols}
            for g, cols in self.groups_.items()
        }
        with _openmp_threads():
            raw, moved = flat.raw_and_moved(prep.gb.to_numpy(np.float64), moves)
            lin = None
            if self.linear_:
                lin_in = self._linear_input(prep)
                lin = self.estimators_[1].decision_function(lin_in)

            def risk_of(
                gb_logit: np.ndarray, lin_logit: np.ndarray | None, stack: list
            ) -> np.ndarray:
                cols = [gb_logit] if lin_logit is None else [gb_logit, lin_logit]
                return self.stacker_.predict_proba(np.column_stack(cols + stack))[:, 1]

            stack = self._stack_logits(prep.gb)
            risk = risk_of(raw, lin, stack)
            out = {}
            for g, cols in self.groups_.items():
                lin_moved = lin
                if lin is not None:
                    shifted = lin_in.copy()
                    for c in cols:
                        shifted[c] = self.baseline_[c]
                    lin_moved = self.estimators_[1].decision_function(shifted)
                stack_moved = stack
                if set(cols) & set(getattr(self, "stack_columns_", [])):
                    stack_moved = self._stack_logits(prep.gb, {c: self.baseline_[c] for c in cols})
                out[g] = risk - risk_of(moved[g], lin_moved, stack_moved)
        frame = pd.DataFrame(out, index=prep.gb.index)
        frame.attrs["risk"] = risk
        return frame

    def explain(
        self, X: pd.DataFrame, *, top: int = 3, min_contribution: float = 0.01
    ) -> pd.DataFrame:
        """Risk and the ``top`` reasons per customer, in English and Chinese.

        Columns: ``churn_risk``, then for i = 1..top ``reason_code_i`` (stable code, e.g.
        ``lapsed``; extra/tabular features use their column name as code),
        ``reason_i`` (English), ``reason_zh_i`` (Chinese) and ``contribution_i`` (risk points
        the reason adds). Only reasons adding at least ``min_contribution`` are listed.
        """
        contrib = self.contributions(X)
        risk = contrib.attrs["risk"]
        names = np.array(list(contrib.columns), dtype=object)
        vals = contrib.to_numpy()
        order = np.argsort(-vals, axis=1, kind="stable")[:, :top]
        out = pd.DataFrame({"churn_risk": risk}, index=X.index)
        for i in range(top):
            idx = order[:, i] if order.shape[1] > i else np.zeros(len(X), dtype=int)
            c = vals[np.arange(len(X)), idx] if order.shape[1] > i else np.zeros(len(X))
            ok = c >= min_contribution
            groups = np.where(ok, names[idx], None)
            code, en, zh = self._texts(X, groups)
            out[f"reason_code_{i + 1}"] = code
            out[f"reason_{i + 1}"] = en
            out[f"reason_zh_{i + 1}"] = zh
            out[f"contribution_{i + 1}"] = np.where(ok, c, np.nan)
        return out

    def _texts(
        self, X: pd.DataFrame, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(X)
        code = np.full(n, None, dtype=object)
        en = np.full(n, None, dtype=object)
        zh = np.full(n, None, dtype=object)
        w = int(self.trend_days)
        for g in pd.unique(groups[pd.notna(groups)]):
            rows = np.flatnonzero(groups == g)
            if g in TX_GROUPS:
                # Texts depend only on a few values (whole days, counts): word each distinct
                # combination once and copy it to the customers who share it.
                cols = [c for c in _REASON_INPUTS[g] if c in X.columns]
                sub = X.iloc[rows][cols]
                first, inverse = _distinct_rows(sub)
                c, texts = tx_reason(g, sub.iloc[first], w, self.baseline_)
                code[rows] = np.asarray(c, dtype=object)[inverse]
                en[rows] = np.asarray(texts[0], dtype=object)[inverse]
                zh[rows] = np.asarray(texts[1], dtype=object)[inverse]
            else:
                sub = X.iloc[rows]
                labels = (self.feature_labels or {}).get(g)
                if labels is None:
                    raise ValueError(
                        f"no reason text for the feature {g!r}: pass "
                        "feature_labels={column: (english, chinese)}"
                    )
                code[rows] = g
                for arr, tmpl in ((en, labels[0]), (zh, labels[1])):
                    arr[rows] = [tmpl.format(value=v) for v in sub[g].tolist()]
        return code, en, zh

    def score_transactions(
        self,
        log: TransactionLog,
        cutoff: Any,
        *,
        extra: pd.DataFrame | Callable[[pd.Timestamp], pd.DataFrame] | None = None,
        top: int = 3,
    ) -> pd.DataFrame:
        """Features, risk and reasons of every customer who bought on or before ``cutoff``."""
        self._check_fitted()
        feats = log.features(cutoff, horizon_days=self.horizon_days, trend_days=self.trend_days)
        feats["horizon_days"] = float(self.horizon_days)
        feats = _with_extra(feats, extra, pd.Timestamp(cutoff))
        out = feats.join(self.explain(feats, top=top))
        self.horizon_shift_ = 0.0
        trained = max((w["label_days"] for w in getattr(self, "windows_", [])), default=None)
        if trained is not None and trained < self.horizon_days:
            out["churn_risk"], self.horizon_shift_ = _anchor_to_btyd(out)
        return out


# The feature columns each built-in reason text is worded from (churn_reasons.tx_reason); a test
# checks that wording distinct rows gives the same texts as wording every row.
_REASON_INPUTS: dict[str, list[str]] = {
    "lapsed": ["days_since_last", "median_gap_days"],
    "frequency": [
        "purchase_trend",
        "purchases_recent",
        "purchases_prior",
        "purchases",
        "tenure_days",
    ],
    "spend": ["spend_recent", "spend_prior", "spend_mean"],
    "tenure": ["tenure_days"],
    "btyd": ["p_alive_mbgnbd"],
    "quantity": ["units_trend", "units_recent", "units_prior", "units_per_order"],
}


def _distinct_rows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first row of each distinct combination of values (NaN equal to NaN),
    and for every row the number of its combination."""
    if frame.shape[1] == 0:
        return np.zeros(min(len(frame), 1), dtype=np.int64), np.zeros(len(frame), dtype=np.int64)
    key = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for c in frame.columns:
        codes, uniques = pd.factorize(frame[c].to_numpy(), use_na_sentinel=False)
        size *= max(len(uniques), 1)
        if size >= 2**62:  # too many combinations for one integer key
            return np.arange(len(frame)), np.arange(len(frame))
        key = key * len(uniques) + codes
    inverse, uniques = pd.factorize(key)
    first = np.empty(len(uniques), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(frame))[::-1]  # the last write is the first row
    return first, inverse


def _anchor_to_btyd(scores: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Shift the risk's log-odds so its mean is the BTYD forecast of the no-purchase share.

    When the history before the cut-off is shorter than the horizon, the training labels cover
    less time than the horizon, and the calibrated risk is calibrated to the shorter windows.
    The BTYD models forecast the exact horizon; their mean probability of no purchase (average
    of MBG/NBD and BG/NBD) sets the level, the model keeps the ranking (ROC AUC unchanged).
    """
    from scipy import optimize, special

    target = float(np.nanmean(scores[["p_no_purchase_mbgnbd", "p_no_purchase_bgnbd"]].to_numpy()))
    risk = np.clip(scores["churn_risk"].to_numpy(float), 1e-9, 1 - 1e-9)
    if not np.isfinite(target) or not 0.0 < target < 1.0:
        return risk, 0.0
    z = special.logit(risk)
    shift = optimize.brentq(lambda d: special.expit(z + d).mean() - target, -30.0, 30.0)
    return special.expit(z + shift), float(shift)


def _with_extra(
    feats: pd.DataFrame, extra: pd.DataFrame | Callable[[pd.Timestamp], pd.DataFrame] | None, cut
) -> pd.DataFrame:
    if extra is None:
        return feats
    table = extra(pd.Timestamp(cut)) if callable(extra) else extra
    clash = [c for c in table.columns if c in feats.columns]
    if clash:
        raise ValueError(f"extra feature column(s) clash with built-in ones: {', '.join(clash)}")
    return feats.join(table, how="left")


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))
