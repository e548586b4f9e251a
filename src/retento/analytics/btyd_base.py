r"""The shared machinery of the buy-'til-you-die transaction models (BG/NBD in
:mod:`retento.analytics.btyd`, MBG/NBD in ``btyd_mbg``, Pareto/NBD in ``btyd_pnbd``) and of the
Gamma-Gamma spend model (``btyd_gg``).

It holds the base class :class:`_BTYDModel` (fitting, the large-data Newton path, standard
errors, the discounted customer lifetime value), :class:`ConvergenceError`, the helpers every
model fits with (collapsing identical rows into weights, L-BFGS-B in log-parameter space,
standard errors from the observed information, serial BLAS) and the thread pool over which the
BG/NBD-family likelihoods evaluate customer chunks. :mod:`retento.analytics.btyd` re-exports the
names that code outside the models imports from there (``ConvergenceError``,
``_discounted_clv``, ``_unique_rows``).

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and related
expressions. http://brucehardie.com/notes/009/
"""

from __future__ import annotations

import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special
from threadpoolctl import threadpool_limits

__all__ = ["ConvergenceError"]

FloatArray = NDArray[np.float64]
_F = TypeVar("_F", bound=Callable[..., Any])


def _serial_blas(fn: _F) -> _F:
    """Run ``fn`` with the BLAS library limited to one thread.

    The likelihoods reduce long vectors with ``np.dot``; OpenBLAS spreads each such reduction
    over all cores and spin-waits between them, which on two cores was 3-10x slower than one
    thread (and worse while our own chunk threads run or the machine is busy). Parallelism
    comes from evaluating customer chunks in threads instead.
    """

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]


class ConvergenceError(RuntimeError):
    """Maximum-likelihood estimation did not converge to a finite optimum."""


class _SpendModel(Protocol):
    """What the lifetime value needs of a fitted spend model: the expected mean spend
    (:class:`retento.analytics.btyd_gg.GammaGammaModel`, kept out of this module's imports)."""

    def conditional_expected_average_value(
        self, frequency: ArrayLike, monetary: ArrayLike
    ) -> FloatArray: ...


_A_ONE = 1e-5  # half-width of the neighbourhood of a = 1 evaluated by symmetry


def _across_a_one(a: float, f: Callable[[float], FloatArray]) -> FloatArray:
    r"""``f(a)`` for an expression :math:`g(a)/(a-1)` whose singularity at :math:`a = 1` is
    removable (:math:`g(1) = 0`), as in the BG/NBD and MBG/NBD expected purchases.

    A fit can end exactly at :math:`a = 1` (seen when no customer has bought twice: the
    likelihood does not depend on :math:`a, b`, which keep their start values), where the
    formula gives 0/0. Within :math:`10^{-5}` of 1 the value is the mean of ``f`` at
    :math:`1 \pm 10^{-5}`: ``f`` is analytic in :math:`a`, so the error is
    :math:`O(10^{-10})`, and :math:`g` is still computed to ~11 significant digits there.
    """
    if abs(a - 1.0) >= _A_ONE:
        return f(a)
    return 0.5 * (f(1.0 - _A_ONE) + f(1.0 + _A_ONE))


def _stay_hyp2f1(
    A: ArrayLike, B: ArrayLike, C: ArrayLike, z: ArrayLike, log_stay: ArrayLike
) -> FloatArray:
    r""":math:`e^{\text{log\_stay}}\,{}_2F_1(A, B; C; z)` for :math:`0 \le z < 1`, as in the
    BG/NBD and MBG/NBD expected purchases.

    SciPy's ``hyp2f1`` returns NaN when :math:`A = r + x` is huge (a fit on a few customers can
    end with :math:`r, \alpha \sim 10^7`), which made every expected purchase and CLV NaN. Those
    entries are summed from the Gauss series in log space,
    :math:`\sum_k \frac{(A)_k (B)_k}{(C)_k k!} z^k`, whose terms are positive here
    (:math:`A, B, C > 0`), so the sum is exact to rounding once the terms fall below
    :math:`10^{-17}` of it.
    """
    A, B, C, z, log_stay = np.broadcast_arrays(_arr(A), _arr(B), _arr(C), _arr(z), _arr(log_stay))
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.exp(log_stay) * special.hyp2f1(A, B, C, z)
    bad = ~np.isfinite(out) & (z >= 0) & (z < 1) & (A > 0) & (B > 0) & (C > 0)
    if np.any(bad):
        out = out.copy()
        out[bad] = _log_gauss_series(A[bad], B[bad], C[bad], z[bad], log_stay[bad])
    return out


def _log_gauss_series(
    A: FloatArray, B: FloatArray, C: FloatArray, z: FloatArray, log_stay: FloatArray
) -> FloatArray:
    """``exp(log_stay) * 2F1(A, B; C; z)`` by summing the series in log space (positive terms)."""
    with np.errstate(divide="ignore"):
        log_z = np.log(z)
    log_term = np.zeros(len(A))
    log_sum = np.zeros(len(A))
    done = z == 0
    # A few terms when SciPy fails (huge alpha: z tiny); a series that would need more than
    # ~20,000 terms (z near 1) is left NaN, as before, rather than run for seconds.
    for k in range(20_000):
        if done.all():
            break
        log_term = (
            log_term + np.log(A + k) + np.log(B + k) - np.log(C + k) - np.log(k + 1.0) + log_z
        )
        log_sum = np.where(done, log_sum, np.logaddexp(log_sum, log_term))
        ratio_below_one = (A + k + 1) * (B + k + 1) * z < (C + k + 1) * (k + 2)
        done |= ratio_below_one & (log_term < log_sum - 40.0)
    return np.where(done, np.exp(log_stay + log_sum), np.nan)


def _arr(x: ArrayLike) -> FloatArray:
    return np.atleast_1d(np.asarray(x, dtype=float))


def _collapse(
    columns: list[FloatArray], weights: ArrayLike | None
) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical rows into unique rows with summed weights."""
    n = len(columns[0])
    w = np.ones(n) if weights is None else _arr(weights)
    if len(w) != n or any(len(c) != n for c in columns):
        raise ValueError("all inputs must have the same length")
    # A sum is finite only if every term is (NaN and inf propagate); the element-wise test
    # runs only when it is not, to tell overflow of huge finite values from bad input.
    for col in [*columns, w]:
        if not np.isfinite(col.sum()) and not np.all(np.isfinite(col)):
            raise ValueError("inputs contain NaN or infinite values")
    # Cheap test first: with (nearly) continuous values in the last column, collapsing cannot
    # halve the work, and sorting rows would cost more than it saves.
    if n > 10_000 and len(np.unique(columns[-1][:: max(n // 20_000, 1)])) > 0.5 * min(n, 20_000):
        return columns, w
    uniq, inverse = _unique_rows(columns)
    m = len(uniq[0])
    if m == n and weights is None:
        return columns, w
    return uniq, np.bincount(inverse, weights=w, minlength=m)


def _unique_rows(columns: list[FloatArray]) -> tuple[list[FloatArray], NDArray[np.intp]]:
    """Distinct rows of equal-length columns (hash-based) and the inverse index."""
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(col, sort=False)
        key = key * len(uniques) + codes
        key, _ = pd.factorize(key, sort=False)
    inverse, uniq_keys = pd.factorize(key, sort=False)
    first = np.empty(len(uniq_keys), dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    return [np.ascontiguousarray(c[first]) for c in columns], inverse


def _maximize(
    negll_and_grad: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    names: list[str],
    model: str,
    maxiter: int = 2000,
) -> tuple[FloatArray, float, Any]:
    """Minimise a negative log-likelihood over log-parameters with L-BFGS-B."""
    res = optimize.minimize(
        negll_and_grad,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-20.0, 20.0)] * len(x0),
        options={"maxiter": maxiter, "ftol": 1e-13, "gtol": 1e-7, "maxcor": 20},
    )
    theta = np.exp(res.x)
    if not np.all(np.isfinite(theta)) or not np.isfinite(res.fun):
        raise ConvergenceError(f"{model} fit did not reach a finite optimum: {res.message}")
    # L-BFGS-B may stop with ABNORMAL (line search) when it cannot improve any further in
    # floating point; that is convergence if the gradient is negligible.
    grad_small = bool(np.max(np.abs(res.jac)) <= 1e-6 * max(1.0, abs(float(res.fun))))
    if not res.success and not grad_small:
        warnings.warn(
            f"{model} fit may not have converged: {res.message}", RuntimeWarning, stacklevel=3
        )
    if np.any(np.abs(res.x) >= 19.99):
        # Plain numbers ("r=5.879e+04"), not the dict's repr (np.float64(58785.76...)).
        at = ", ".join(f"{n}={float(v):.4g}" for n, v in zip(names, theta, strict=True))
        warnings.warn(
            f"{model} fit hit a parameter bound ({at}); the data may not identify the model",
            RuntimeWarning,
            stacklevel=3,
        )
    return theta, -float(res.fun), res


def _standard_errors(
    grad: Callable[[FloatArray], FloatArray], theta: FloatArray, names: list[str]
) -> dict[str, float]:
    """Standard errors from the inverse of the observed information (numerical Hessian of the
    analytic gradient, central differences in the natural parameters)."""
    k = len(theta)
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(abs(theta[j]), 1e-3)
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        hess[:, j] = (grad(up) - grad(dn)) / (2 * h)
    hess = 0.5 * (hess + hess.T)
    try:
        cov = np.linalg.inv(-hess)
        se = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        se = np.full(k, np.nan)
    return dict(zip(names, (float(s) for s in se), strict=True))


_CLV_NODES, _CLV_WEIGHTS = np.polynomial.legendre.leggauss(8)


def _discounted_clv(
    expected: Callable[[float], FloatArray],
    value: FloatArray,
    horizon: float,
    discount_rate: float,
    margin: float,
    freq_unit_days: float,
) -> FloatArray:
    r"""Margin x value x discounted expected purchases over (0, horizon].

    With continuous discounting :math:`\delta(t) = (1+d)^{-t u/365.25} = e^{-\kappa t}`,
    integration by parts gives

    .. math::
        \int_0^H \delta(t)\,dE[Y(t)] = \delta(H)E[Y(H)] + \kappa\int_0^H \delta(t)E[Y(t)]dt,

    and the smooth integral is evaluated by 8-point Gauss-Legendre quadrature.
    """
    if horizon <= 0:
        raise ValueError("horizon must be positive")
    if discount_rate < 0:
        raise ValueError("discount_rate must be >= 0")
    kappa = np.log1p(discount_rate) * freq_unit_days / 365.25
    total = np.exp(-kappa * horizon) * expected(float(horizon))
    if kappa > 0:
        nodes = 0.5 * horizon * (_CLV_NODES + 1.0)
        weights = 0.5 * horizon * _CLV_WEIGHTS
        for t, wt in zip(nodes, weights, strict=True):
            total = total + kappa * wt * np.exp(-kappa * t) * expected(float(t))
    return margin * value * total


class _MaxiterParams:
    """``get_params`` / ``set_params`` of the models whose one hyper-parameter is ``maxiter``,
    as scikit-learn's ``BaseEstimator`` (so ``sklearn.base.clone`` works on them)."""

    maxiter: int

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters, as scikit-learn's ``BaseEstimator.get_params``."""
        return {"maxiter": self.maxiter}

    def set_params(self, **params: Any) -> Any:
        """Set hyper-parameters; returns self."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}")
            setattr(self, key, value)
        return self


class _BTYDModel(_MaxiterParams, ABC):
    """Shared API of the transaction models."""

    _names: list[str] = []

    params_: dict[str, float]
    log_likelihood_: float

    def __init__(self, *, maxiter: int = 2000) -> None:
        self.maxiter = maxiter

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_prep_cache", None)  # evaluation buffers and thread pool: not model state
        return state

    # -- subclasses implement -------------------------------------------------------------
    @abstractmethod
    def _negll_grad(
        self, logp: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray
    ) -> tuple[float, FloatArray]:
        """Negative weighted log-likelihood and its gradient in log-parameter space."""

    @abstractmethod
    def _x0(self, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> FloatArray:
        """Starting point of the optimiser in log-parameter space."""

    # -- shared -----------------------------------------------------------------------------
    @_serial_blas
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> _BTYDModel:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            Repeat purchases x, time of last purchase :math:`t_x` and age T of each customer.
        weights : array-like, optional
            Number of customers with each row (identical rows are collapsed automatically).

        Returns
        -------
        self
        """
        x, tx, Tn = _arr(frequency), _arr(recency), _arr(T)
        if np.any(x < 0) or np.any(tx < 0) or np.any(tx > Tn + 1e-9):
            raise ValueError("need frequency >= 0 and 0 <= recency <= T")
        if np.any((x == 0) & (tx != 0)):
            raise ValueError("recency must be 0 for customers with frequency 0")
        (x, tx, Tn), w = _collapse([x, tx, Tn], weights)
        x0 = self._x0(x, tx, Tn, w)
        full = lambda p: self._negll_grad(p, x, tx, Tn, w)  # noqa: E731
        res = None
        if len(x) > _LARGE:
            res = self._fit_large(x, tx, Tn, w, x0, full)
        if res is None:
            theta, ll, res = _maximize(full, x0, self._names, type(self).__name__, self.maxiter)
        else:
            theta, ll = np.exp(res.x), -float(res.fun)
        self.params_ = dict(zip(self._names, (float(v) for v in theta), strict=True))
        self.log_likelihood_ = ll
        self.n_iter_ = int(res.nit)
        self.n_customers_ = float(w.sum())
        self._data = (x, tx, Tn, w)
        self.__dict__.pop("_prep_cache", None)  # buffers and thread pool: not state
        self._se: dict[str, float] | None = None
        return self

    def _fit_large(
        self,
        x: FloatArray,
        tx: FloatArray,
        T: FloatArray,
        w: FloatArray,
        x0: FloatArray,
        full: Callable[[FloatArray], tuple[float, FloatArray]],
    ) -> optimize.OptimizeResult | None:
        """Large data: L-BFGS-B on a 5% subsample, then Newton steps on all rows with the
        subsample's Hessian (scaled to the full weight) as a fixed preconditioner.

        Near the optimum the full-data Hessian differs from the scaled subsample Hessian by
        sampling error only, so each step gains more than a digit; every step is backtracked
        on the full likelihood. Returns ``None`` (fall back to L-BFGS-B on all rows) if this
        does not converge.
        """
        n = len(x)
        sub = np.sort(
            np.random.default_rng(0).choice(n, size=min(n, max(n // 20, 20_000)), replace=False)
        )
        xs, txs, Ts, ws = x[sub], tx[sub], T[sub], w[sub]
        sub_fun = lambda p: self._negll_grad(p, xs, txs, Ts, ws)  # noqa: E731
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            theta, _, _ = _maximize(sub_fun, x0, self._names, "", self.maxiter)
        p = np.log(theta)
        k = len(p)
        hess = np.empty((k, k))
        for j in range(k):
            e = np.zeros(k)
            e[j] = 1e-4
            hess[:, j] = (sub_fun(p + e)[1] - sub_fun(p - e)[1]) / 2e-4
        hess = 0.5 * (hess + hess.T) * (w.sum() / ws.sum())
        try:
            chol = np.linalg.cholesky(hess)
        except np.linalg.LinAlgError:
            return None
        f, g = full(p)
        nfev = 1
        for it in range(1, 31):
            step = -np.linalg.solve(chol.T, np.linalg.solve(chol, g))
            decrement = float(-g @ step)
            if decrement < 1e-11 * max(1.0, abs(f)):
                return optimize.OptimizeResult(
                    x=p, fun=f, jac=g, nit=it - 1, nfev=nfev, success=True,
                    message="Newton decrement below tolerance",
                )  # fmt: skip
            t = 1.0
            for _ in range(30):
                fn, gn = full(p + t * step)
                nfev += 1
                if np.isfinite(fn) and fn <= f - 1e-4 * t * decrement:
                    break
                t *= 0.5
            else:
                return None
            p, f, g = p + t * step, fn, gn
        return None

    @property
    def standard_errors_(self) -> dict[str, float]:
        """Asymptotic standard errors of ``params_`` (inverse observed information)."""
        self._check_fitted()
        if self._se is None:
            x, tx, T, w = self._data

            def grad(theta: FloatArray) -> FloatArray:
                _, g = self._negll_grad(np.log(theta), x, tx, T, w)
                return -g / theta  # chain rule: d/dtheta = (d/dlog theta) / theta

            self._se = _standard_errors(grad, self._theta(), self._names)
        return self._se

    def _theta(self) -> FloatArray:
        self._check_fitted()
        return np.array([self.params_[n] for n in self._names])

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood at the fitted parameters."""
        x, tx, Tn = np.broadcast_arrays(_arr(frequency), _arr(recency), _arr(T))
        return self._loglik(self._theta(), x, tx, Tn)

    @abstractmethod
    def _loglik(self, theta: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray):
        """Per-customer log-likelihood at log-parameters ``theta``."""

    @abstractmethod
    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units."""

    def _expected_purchases_fn(
        self, x: FloatArray, tx: FloatArray, T: FloatArray
    ) -> Callable[[float], FloatArray]:
        """``t -> E[Y(t) | x, t_x, T]`` for many horizons ``t`` on the same customers (the
        discounted CLV's quadrature evaluates nine), equal to
        :meth:`conditional_expected_purchases` value for value.

        Models whose expectation factors as ``_purchase_term(t, x, T) * P(alive | x, t_x, T)``
        (BG/NBD, MBG/NBD) compute P(alive) once and the term, with its hypergeometric
        function, once per distinct (x, T) pair: a few thousand pairs against hundreds of
        thousands of distinct (x, t_x, T) rows on a year of weekly data.
        """
        term = getattr(self, "_purchase_term", None)
        if term is None:
            return lambda t: self.conditional_expected_purchases(t, x, tx, T)
        x, tx, T = np.broadcast_arrays(_arr(x), _arr(tx), _arr(T))
        (px, pT), pairs = _unique_rows([x, T])
        alive = self.probability_alive(x, tx, T)
        return lambda t: term(float(t), px, pT)[pairs] * alive

    def customer_lifetime_value(
        self,
        gamma_gamma: _SpendModel,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary: ArrayLike,
        *,
        horizon: float,
        discount_rate: float,
        margin: float = 1.0,
        freq_unit_days: float = 7.0,
    ) -> FloatArray:
        r"""Discounted expected margin over the next ``horizon`` time units.

        .. math::
            \mathrm{CLV}_i = m\,E[Z_i \mid x_i, \bar z_i]\int_0^H (1+d)^{-t u/365.25}\,
            dE[Y_i(t) \mid x_i, t_{x,i}, T_i]

        with the horizon H, the yearly discount rate :math:`d` (continuous discounting), the
        margin :math:`m` and :math:`u` = ``freq_unit_days``. With d = 0 this is
        :math:`m\,E[Z]\,E[Y(H)]`. The integral is computed exactly by parts plus 8-point
        Gauss-Legendre quadrature (see ``_discounted_clv``).

        Parameters
        ----------
        gamma_gamma : GammaGammaModel
            Fitted spend model giving :math:`E[Z \mid x, \bar z]`.
        frequency, recency, T, monetary : array-like
            Calibration summary (``monetary`` is the mean repeat spend).
        horizon : float
            Length of the forecast, in the model's time unit.
        discount_rate : float
            Discount rate per year.
        margin : float
            Profit margin applied to spend.
        freq_unit_days : float
            Days per model time unit (7 for weeks, 1 for days).

        Returns
        -------
        ndarray
        """
        x, tx, Tn, m = np.broadcast_arrays(_arr(frequency), _arr(recency), _arr(T), _arr(monetary))
        value = gamma_gamma.conditional_expected_average_value(x, m)
        # The discounted expected purchases depend on (x, t_x, T) only: evaluate them once per
        # distinct row (real data has far fewer distinct rows than customers).
        (ux, utx, uT), inverse = _unique_rows([x, tx, Tn])
        det = _discounted_clv(
            self._expected_purchases_fn(ux, utx, uT),
            np.ones(len(ux)),
            horizon,
            discount_rate,
            1.0,
            freq_unit_days,
        )
        return margin * value * det[inverse]


_POOLS: dict[int, ThreadPoolExecutor] = {}
_LARGE = 200_000  # rows above which fits start on a subsample


def _n_threads(n: int) -> int:
    """Threads for a likelihood over n customers: one per core for large n, else one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = min(cores or 1, 8)
    # Threads only pay off on idle cores: on a busy machine they wait for each other.
    busy = hasattr(os, "getloadavg") and os.getloadavg()[0] > cores - 0.5
    if n < 200_000 or cores < 2 or busy:
        return 1
    return cores


def _thread_pool(n: int) -> ThreadPoolExecutor | None:
    if n <= 1:
        return None
    if n not in _POOLS:
        _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="retento-btyd")
    return _POOLS[n]


def _prepared_chunks(
    chunk: Callable[[int, int], dict],
    bounds: Sequence[int],
    n_chunks: int,
    xu: FloatArray,
    inv: np.ndarray,
    w: FloatArray,
) -> dict:
    """The prepared likelihood input shared by BG/NBD and MBG/NBD: the per-chunk arrays built by
    ``chunk(lo, hi)`` (in the thread pool when there is one) and the weighted counts per
    distinct ``x``."""
    pool = _thread_pool(n_chunks)
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    chunks = (
        [chunk(*sp) for sp in spans]
        if pool is None
        else list(pool.map(lambda sp: chunk(*sp), spans))
    )
    return {
        "xu": xu,
        "wx": np.bincount(inv, weights=w, minlength=len(xu)),
        "wsum": float(w.sum()),
        "chunks": chunks,
        "pool": pool,
    }
