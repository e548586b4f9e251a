r"""Driver analysis: which customer characteristics explain an outcome, and how sure we are.

An outcome y (spend per customer, a satisfaction score, ...) is regressed on p customer
features after standardising both (z-scores), so each coefficient is a *beta weight*: the
change of y, in standard deviations, for one standard deviation more of the feature with the
others held fixed. The regression is the elastic net (Zou & Hastie, 2005),

.. math::

    \hat\beta = \arg\min_\beta \frac{1}{2n}\lVert z_y - Z\beta\rVert_2^2
        + \alpha\Bigl(\rho\lVert\beta\rVert_1 + \frac{1-\rho}{2}\lVert\beta\rVert_2^2\Bigr),

with the penalty :math:`\alpha` and the mix :math:`\rho` (``l1_ratio``; :math:`\rho` near 0 is
ridge, 1 the lasso) chosen by K-fold cross-validation on the training rows. Correlated features
(frequency and spend, say) share the weight instead of one taking it at random, and features
that explain nothing are set to zero.

Uncertainty. ``ci="bootstrap"`` (default) refits the net with the chosen
:math:`(\alpha, \rho)` on B resamples of the customers (rows drawn with replacement) and
reports percentile intervals and the share of resamples in which a feature was kept
(*selection frequency*, Meinshausen & Bühlmann, 2010, in spirit). The penalty shrinks
coefficients towards 0 and the bootstrap of the lasso is not exact at 0 (Chatterjee & Lahiri,
2011), so an interval touching 0 means "not shown to matter". ``ci="ols"`` instead refits
ordinary least squares on the selected features only (the "relaxed" or post-selection fit,
Belloni & Chernozhukov, 2013) with heteroscedasticity-robust HC3 standard errors; it is unbiased
when the selection is right but ignores the selection step, so intervals are too narrow when it
is not.

Fit quality is :math:`R^2` on a held-out share of customers that neither the penalty choice nor
the coefficients saw.

Importance and the driver matrix. A feature's importance is its share of the sum of absolute
beta weights. :func:`importance_performance` places each driver by importance and by
performance (its mean score, e.g. the 0-100 rating of a survey item), with the quadrants of the
CSI driver matrix (:meth:`retento.analytics.PLSPMResult.importance_performance`): "concentrate
here" (important, performing below average), "keep up the good work", "low priority" and
"possible overkill".

References
----------
Zou, H. & Hastie, T. (2005). Regularization and variable selection via the elastic net.
*Journal of the Royal Statistical Society B* 67(2), 301-320.

Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall.

Chatterjee, A. & Lahiri, S. N. (2011). Bootstrapping lasso estimators. *Journal of the American
Statistical Association* 106(494), 608-625.

Belloni, A. & Chernozhukov, V. (2013). Least squares after model selection in high-dimensional
sparse models. *Bernoulli* 19(2), 521-547.

Meinshausen, N. & Bühlmann, P. (2010). Stability selection. *Journal of the Royal Statistical
Society B* 72(4), 417-473.

Martilla, J. A. & James, J. C. (1977). Importance-performance analysis. *Journal of Marketing*
41(1), 77-79.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["DriverAnalysis", "importance_performance"]

QUADRANTS = ("concentrate here", "keep up the good work", "low priority", "possible overkill")


class DriverAnalysis:
    """Standardised elastic-net driver analysis with confidence intervals (scikit-learn contract).

    Parameters
    ----------
    l1_ratios : sequence of float, default (0.05, 0.5, 0.95)
        Candidate elastic-net mixes :math:`\\rho` tried by cross-validation (0.05 is close to
        ridge, 1.0 is the lasso).
    cv : int, default 5
        Folds of the cross-validation choosing :math:`(\\alpha, \\rho)`.
    test_size : float, default 0.25
        Share of rows held out for the out-of-sample :math:`R^2` (0 for none).
    ci : {"bootstrap", "ols"}, default "bootstrap"
        How the confidence intervals are computed (see the module notes).
    n_bootstrap : int, default 200
        Resamples for ``ci="bootstrap"``.
    level : float, default 0.95
        Confidence level of the intervals.
    labels : mapping, optional
        Plain-language label per feature name, carried into :meth:`summary`.
    random_state : int, default 0
        Seed of the split, the folds and the bootstrap.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        The features used (constant columns are dropped, see ``dropped_``).
    coef_ : ndarray
        Standardised coefficients (beta weights) fitted on all rows.
    coef_raw_ : ndarray
        The same in the outcome's units per unit of each feature.
    intercept_raw_ : float
    ci_lower_, ci_upper_ : ndarray
        Confidence interval of each standardised coefficient.
    selection_frequency_ : ndarray
        Share of bootstrap refits keeping the feature (1.0 for ``ci="ols"`` selected features).
    importance_ : ndarray
        :math:`|\\beta_j| / \\sum_k |\\beta_k|` (0 when every coefficient is 0).
    alpha_, l1_ratio_ : float
        The penalty chosen by cross-validation.
    r2_train_, r2_test_ : float
        :math:`R^2` on the training rows and on the held-out rows (NaN without a holdout).
    n_train_, n_test_ : int
    """

    def __init__(
        self,
        *,
        l1_ratios: Sequence[float] = (0.05, 0.5, 0.95),
        cv: int = 5,
        test_size: float = 0.25,
        ci: str = "bootstrap",
        n_bootstrap: int = 200,
        level: float = 0.95,
        labels: Mapping[str, str] | None = None,
        random_state: int = 0,
    ) -> None:
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.test_size = test_size
        self.ci = ci
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.labels = labels
        self.random_state = random_state

    # -- scikit-learn contract ---------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "l1_ratios",
                "cv",
                "test_size",
                "ci",
                "n_bootstrap",
                "level",
                "labels",
                "random_state",
            )
        }

    def set_params(self, **params: Any) -> DriverAnalysis:
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for DriverAnalysis")
            setattr(self, k, v)
        return self

    # -- fitting -----------------------------------------------------------------------------
    def _check(self, X: pd.DataFrame, y: ArrayLike) -> tuple[pd.DataFrame, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X, dtype=float)).add_prefix("x")
        yv = np.asarray(y, dtype=float).ravel()
        if len(yv) != len(X):
            raise ValueError("X and y must have the same number of rows")
        if self.ci not in ("bootstrap", "ols"):
            raise ValueError("ci must be 'bootstrap' or 'ols'")
        if not 0 < self.level < 1:
            raise ValueError("level must be between 0 and 1")
        if not 0 <= self.test_size < 1:
            raise ValueError("test_size must be in [0, 1)")
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise ValueError(f"feature {bad[0]!r} is not numeric")
        keep = np.isfinite(yv)
        X, yv = X.loc[keep], yv[keep]
        if len(yv) < max(20, 2 * self.cv):
            raise ValueError(f"too few rows with an outcome to analyse ({len(yv)}; need 20)")
        if np.nanstd(yv) == 0:
            raise ValueError("the outcome is the same for every row; nothing to explain")
        return X.astype(float), yv

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> DriverAnalysis:
        """Fit on a feature table (numeric columns; NaN are filled with the median) and an
        outcome; returns self. Rows with a missing outcome are ignored."""
        from sklearn.linear_model import ElasticNet, ElasticNetCV
        from sklearn.metrics import r2_score

        X, yv = self._check(X, y)
        med = X.median()
        X = X.fillna(med).fillna(0.0)
        sd = X.std(ddof=0)
        self.dropped_ = [str(c) for c in X.columns if not sd[c] > 0]
        X = X.loc[:, [c for c in X.columns if sd[c] > 0]]
        if X.shape[1] == 0:
            raise ValueError("every feature is constant; nothing can explain the outcome")
        self.feature_names_in_ = np.array([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        x = X.to_numpy()
        rng = np.random.default_rng(self.random_state)
        n = len(yv)
        order = rng.permutation(n)
        n_test = int(round(self.test_size * n))
        test, train = np.sort(order[:n_test]), np.sort(order[n_test:])

        def zfit(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
            mu, s = x[rows].mean(0), x[rows].std(0)
            s = np.where(s > 0, s, 1.0)
            return mu, s, float(yv[rows].mean()), float(yv[rows].std() or 1.0)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mu, s, ym, ys = zfit(train)
            cvm = ElasticNetCV(
                l1_ratio=list(self.l1_ratios),
                cv=min(self.cv, len(train)),
                alphas=50,
                max_iter=5000,
                random_state=self.random_state,
                selection="cyclic",
            ).fit((x[train] - mu) / s, (yv[train] - ym) / ys)
            self.alpha_ = float(cvm.alpha_)
            self.l1_ratio_ = float(cvm.l1_ratio_)
            pred = ym + ys * cvm.predict((x[train] - mu) / s)
            self.r2_train_ = float(r2_score(yv[train], pred))
            if n_test >= 2:
                pt = ym + ys * cvm.predict((x[test] - mu) / s)
                self.r2_test_ = float(r2_score(yv[test], pt))
            else:
                self.r2_test_ = float("nan")
            self.n_train_, self.n_test_ = int(len(train)), int(n_test)

            # Final coefficients on all rows with the chosen penalty.
            mu, s, ym, ys = zfit(np.arange(n))
            z = (x - mu) / s
            zy = (yv - ym) / ys
            net = ElasticNet(alpha=self.alpha_, l1_ratio=self.l1_ratio_, max_iter=5000)
            beta = net.fit(z, zy).coef_.copy()
            self.coef_ = beta
            self.coef_raw_ = beta * ys / s
            self.intercept_raw_ = float(ym - np.sum(self.coef_raw_ * mu))
            self._x_mean, self._x_scale, self._y_mean, self._y_scale = mu, s, ym, ys
            a = (1 - self.level) / 2
            if self.ci == "bootstrap":
                B = int(self.n_bootstrap)
                if B < 10:
                    raise ValueError("n_bootstrap must be at least 10")
                draws = np.empty((B, len(beta)))
                for b in range(B):
                    idx = rng.integers(0, n, n)
                    zb, yb = z[idx], zy[idx]
                    sb = zb.std(0)
                    sb = np.where(sb > 0, sb, 1.0)
                    mb = zb.mean(0)
                    yb_sd = yb.std() or 1.0
                    fit = net.fit((zb - mb) / sb, (yb - yb.mean()) / yb_sd)
                    # back to the full-sample standardisation, so draws are comparable
                    draws[b] = fit.coef_ * yb_sd / sb
                self.ci_lower_ = np.quantile(draws, a, axis=0)
                self.ci_upper_ = np.quantile(draws, 1 - a, axis=0)
                self.selection_frequency_ = (np.abs(draws) > 1e-12).mean(axis=0)
                self.bootstrap_se_ = draws.std(axis=0, ddof=1)
            else:
                self._ols(z, zy, beta, a)
        total = np.abs(self.coef_).sum()
        self.importance_ = np.abs(self.coef_) / total if total > 0 else np.zeros_like(self.coef_)
        return self

    def _ols(self, z: np.ndarray, zy: np.ndarray, beta: np.ndarray, a: float) -> None:
        """Post-selection OLS with HC3 standard errors on the selected (non-zero) features."""
        from scipy import stats

        sel = np.flatnonzero(np.abs(beta) > 1e-12)
        lo = np.zeros_like(beta)
        hi = np.zeros_like(beta)
        coef = np.zeros_like(beta)
        if len(sel):
            A = np.column_stack([np.ones(len(zy)), z[:, sel]])
            XtX_inv = np.linalg.pinv(A.T @ A)
            b = XtX_inv @ A.T @ zy
            resid = zy - A @ b
            h = np.einsum("ij,jk,ik->i", A, XtX_inv, A)
            w = resid**2 / np.clip(1 - h, 1e-8, None) ** 2
            cov = XtX_inv @ (A.T * w) @ A @ XtX_inv
            se = np.sqrt(np.clip(np.diag(cov)[1:], 0, None))
            t = stats.t.ppf(1 - a, max(len(zy) - len(sel) - 1, 1))
            coef[sel] = b[1:]
            lo[sel], hi[sel] = b[1:] - t * se, b[1:] + t * se
        self.coef_ = coef
        self.coef_raw_ = coef * self._y_scale / self._x_scale
        self.intercept_raw_ = float(self._y_mean - np.sum(self.coef_raw_ * self._x_mean))
        self.ci_lower_, self.ci_upper_ = lo, hi
        self.selection_frequency_ = (np.abs(beta) > 1e-12).astype(float)

    # -- results -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("DriverAnalysis is not fitted; call fit() first")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The fitted outcome for new rows (missing features at the training median)."""
        self._check_fitted()
        cols = list(self.feature_names_in_)
        x = pd.DataFrame(X)[cols].astype(float).to_numpy()
        x = np.where(np.isfinite(x), x, self._x_mean)
        return self.intercept_raw_ + x @ self.coef_raw_

    def score(self, X: pd.DataFrame, y: ArrayLike) -> float:
        """:math:`R^2` of :meth:`predict` on ``(X, y)``."""
        from sklearn.metrics import r2_score

        return float(r2_score(np.asarray(y, dtype=float), self.predict(X)))

    def summary(self) -> pd.DataFrame:
        """One row per feature, most important first: label, standardised coefficient and its
        interval, coefficient per unit, importance share, selection frequency, and whether the
        interval excludes 0 (``significant``)."""
        self._check_fitted()
        names = list(self.feature_names_in_)
        labels = dict(self.labels or {})
        out = pd.DataFrame(
            {
                "label": [labels.get(n, n) for n in names],
                "coef": self.coef_,
                "ci_lower": self.ci_lower_,
                "ci_upper": self.ci_upper_,
                "coef_per_unit": self.coef_raw_,
                "importance": self.importance_,
                "selection_frequency": self.selection_frequency_,
            },
            index=pd.Index(names, name="feature"),
        )
        out["significant"] = (out["ci_lower"] > 0) | (out["ci_upper"] < 0)
        return out.sort_values(["importance", "selection_frequency"], ascending=False)


def importance_performance(
    importance: pd.Series | Mapping[str, float], performance: pd.Series | Mapping[str, float]
) -> pd.DataFrame:
    """The importance--performance (driver) matrix of the CSI reports, for any drivers.

    Parameters
    ----------
    importance : Series or mapping
        Importance per driver (e.g. the standardised coefficient of :class:`DriverAnalysis`).
    performance : Series or mapping
        Performance per driver on a common scale (e.g. the mean 0-100 rating of a survey item).

    Returns
    -------
    pandas.DataFrame
        Index ``driver``; columns ``importance``, ``performance`` and ``quadrant``, with the
        rule of :meth:`~retento.analytics.PLSPMResult.importance_performance` (Martilla & James,
        1977): importance at or above the mean and performance below it is "concentrate here";
        both at or above, "keep up the good work"; both below, "low priority"; importance below
        and performance at or above, "possible overkill". Sorted by importance, descending.
    """
    imp = pd.Series(importance, dtype=float)
    perf = pd.Series(performance, dtype=float).reindex(imp.index)
    if imp.empty:
        raise ValueError("no drivers")
    if perf.isna().any():
        missing = list(perf.index[perf.isna()])
        raise ValueError(f"no performance for driver {missing[0]!r}")
    imp_hi = imp >= imp.mean()
    perf_hi = perf >= perf.mean()
    quadrant = np.where(
        imp_hi,
        np.where(perf_hi, QUADRANTS[1], QUADRANTS[0]),
        np.where(perf_hi, QUADRANTS[3], QUADRANTS[2]),
    )
    out = pd.DataFrame(
        {"importance": imp, "performance": perf, "quadrant": quadrant},
        index=pd.Index(imp.index, name="driver"),
    )
    return out.sort_values("importance", ascending=False)
