r"""Buy-'til-you-die models of customer lifetime value: BG/NBD and Gamma-Gamma, and the shared
fitting machinery (Pareto/NBD: :mod:`retento.analytics.btyd_pnbd`; MBG/NBD: ``btyd_mbg``).

All three follow the scikit-learn contract: ``__init__`` stores hyper-parameters only, ``fit``
returns ``self`` and learned attributes end in ``_`` (``params_``, ``log_likelihood_``,
``standard_errors_``). Parameters are estimated by maximum likelihood with L-BFGS-B in
log-parameter space using closed-form gradients; identical customer rows are collapsed into
weights before fitting.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers: who are they
and what will they do next? *Management Science* 33(1), 1-24.

Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://brucehardie.com/notes/025/

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
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special
from threadpoolctl import threadpool_limits

__all__ = [
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
]

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
        warnings.warn(
            f"{model} fit hit a parameter bound ({dict(zip(names, theta, strict=True))}); "
            "the data may not identify the model",
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


class _BTYDModel(ABC):
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
        gamma_gamma: GammaGammaModel,
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


def _bg_chunk(theta: tuple[float, float, float, float], d: dict) -> tuple[float, ...]:
    """BG/NBD log-likelihood terms that depend on (x, t_x, T) for one chunk of customers,
    and their derivatives w.r.t. (r, alpha, a, b). Preallocated buffers (``out=``) avoid
    allocating and page-faulting fresh temporaries in every evaluation."""
    r, alpha, a, b = theta
    ll = dr = dalpha = da = db = 0.0
    # x = 0: the bracket is (alpha + T)^-r.
    T0, w0, c1, c2 = d["T0"], d["w0"], d["c1"], d["c2"]
    if len(T0):
        np.add(T0, alpha, out=c1)
        sl = float(np.dot(w0, np.log(c1, out=c2)))
        ll -= r * sl
        dr -= sl
        dalpha -= r * float(np.dot(w0, np.reciprocal(c1, out=c1)))
    # x > 0: log[(alpha+T)^-(r+x) + a/(b+x-1) (alpha+t_x)^-(r+x)]
    #       = -(r+x) log(alpha+T) + log(1 + e^D),
    # D = log a - log(b+x-1) + (r+x)(log(alpha+T) - log(alpha+t_x)).
    xp, txp, Tp, wp, wxp = d["xp"], d["txp"], d["Tp"], d["wp"], d["wxp_"]
    if len(xp):
        b1, b2, b3, b4, b5, b6 = d["buf"]
        lT = np.log(np.add(Tp, alpha, out=b1), out=b2)
        inv_aT = np.reciprocal(b1, out=b1)
        diff = np.subtract(lT, np.log(np.add(txp, alpha, out=b3), out=b4), out=b4)
        # g = 1/(alpha+T) - 1/(alpha+t_x), kept in b1 once the sums over 1/(alpha+T) are taken.
        g = np.subtract(inv_aT, np.reciprocal(b3, out=b3), out=b3)
        sum_inv_aT = float(np.dot(wp, inv_aT))
        sum_x_inv_aT = float(np.dot(wxp, inv_aT))
        np.copyto(b1, g)
        g = b1
        lbx = np.log(a) - np.log(b + d["xpu"] - 1.0)
        D = np.take(lbx, d["xpinv"], out=b5)
        D += np.multiply(xp, diff, out=b6)
        D += r * diff
        # With q = exp(-|D|): log(1 + e^D) = max(D, 0) + log1p(q) and
        # expit(D) = 1/(1+q) if D >= 0 else q/(1+q); stable for either sign of D.
        q = np.exp(np.negative(np.abs(D, out=b6), out=b6), out=b6)
        ll += float(np.dot(wp, np.maximum(D, 0.0, out=b3)))
        ll += float(np.dot(wp, np.log1p(q, out=b3)))
        pi = np.divide(q, np.add(q, 1.0, out=b3), out=b6)
        np.subtract(1.0, pi, out=pi, where=D >= 0)
        s_lT = float(np.dot(wp, lT))
        ll -= r * s_lT + float(np.dot(wxp, lT))
        wpi = pi if d["unit_w"] else np.multiply(wp, pi, out=b6)
        dr += float(np.dot(wpi, diff)) - s_lT
        wpix = np.multiply(wpi, xp, out=b5)
        dalpha += r * float(np.dot(wpi, g)) + float(np.dot(wpix, g))
        dalpha -= r * sum_inv_aT + sum_x_inv_aT
        wpi_x = np.bincount(d["xpinv"], weights=wpi, minlength=len(d["xpu"]))
        da += float(wpi_x.sum()) / a
        db -= float(np.dot(wpi_x, (1.0 / (b + d["xpu"] - 1.0))))
    return ll, dr, dalpha, da, db


class BetaGeoModel(_BTYDModel):
    r"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    While active, a customer buys with Poisson rate :math:`\lambda`; after each purchase they
    become inactive with probability :math:`p`. Across customers
    :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and :math:`p \sim \mathrm{Beta}(a, b)`.

    The likelihood of a customer with :math:`x` repeat purchases, the last at :math:`t_x`,
    observed for :math:`T` is

    .. math::
        L = \frac{B(a, b+x)}{B(a, b)} \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)}
            \left[(\alpha+T)^{-(r+x)} + \delta_{x>0}\frac{a}{b+x-1}(\alpha+t_x)^{-(r+x)}\right].

    Parameters
    ----------
    maxiter : int
        Maximum number of L-BFGS-B iterations.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Maximised total log-likelihood.
    standard_errors_ : dict
        Standard errors from the inverse Hessian of the log-likelihood.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). *Marketing Science* 24(2), 275-284.
    """

    _names = ["r", "alpha", "a", "b"]

    def _x0(self, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> FloatArray:
        mean_rate = max(float(np.sum(w * x) / np.sum(w * T)), 1e-6)
        return np.log([1.0, 1.0 / mean_rate, 1.0, 1.0])

    def _negll_grad(
        self, logp: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray
    ) -> tuple[float, FloatArray]:
        return self._negll_grad_prepared(logp, self._prepare(x, tx, T, w))

    def _prepare(self, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> dict:
        """Tabulate x and split customers into x = 0 and x > 0 groups, in chunks that are
        evaluated in parallel threads (NumPy releases the GIL). Done once per fit."""
        key = (id(x), id(tx), id(T), id(w), len(x))
        cached = getattr(self, "_prep_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        xu, inv = self._x_groups(x)
        # Indices into the x > 0 values only (xu is sorted, so x = 0 can only be the first).
        has0 = int(len(xu) > 0 and xu[0] == 0.0)
        xpu = xu[has0:]
        unit_w = bool(w.min(initial=1.0) == 1.0 and w.max(initial=1.0) == 1.0)
        n_chunks = _n_threads(len(x))
        bounds = np.linspace(0, len(x), n_chunks + 1).astype(int)

        def chunk(lo: int, hi: int) -> dict:
            xc, txc, Tc, wc = x[lo:hi], tx[lo:hi], T[lo:hi], w[lo:hi]
            pos = np.flatnonzero(xc > 0)
            zero = np.flatnonzero(xc <= 0)
            xp = xc.take(pos)
            wp = wc.take(pos)
            return {
                "T0": Tc.take(zero),
                "w0": wc.take(zero),
                "xp": xp,
                "txp": txc.take(pos),
                "Tp": Tc.take(pos),
                "wp": wp,
                "xpu": xpu,
                "xpinv": inv[lo:hi].take(pos) - has0,
                "wxp_": xp if unit_w else xp * wp,
                "unit_w": unit_w,
                "c1": np.empty(len(zero)),
                "c2": np.empty(len(zero)),
                "buf": [np.empty(len(pos)) for _ in range(6)],
            }

        prep = _prepared_chunks(chunk, bounds, n_chunks, xu, inv, w)
        self._prep_cache = (key, prep)
        return prep

    @staticmethod
    def _negll_grad_prepared(logp: FloatArray, d: dict) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(logp)
        wsum, xu, wx = d["wsum"], d["xu"], d["wx"]
        # Terms depending on x only: evaluated on the distinct x values.
        lg = (
            special.gammaln(r + xu)
            + special.gammaln(a + b)
            + special.gammaln(b + xu)
            - special.gammaln(b)
            - special.gammaln(a + b + xu)
        )
        la = np.log(alpha)
        ll = float(np.dot(wx, lg)) + wsum * (r * la - special.gammaln(r))
        dr = float(np.dot(wx, special.digamma(r + xu))) + wsum * (la - special.digamma(r))
        dalpha = wsum * r / alpha
        psi_ab = special.digamma(a + b)
        psi_abx = special.digamma(a + b + xu)
        da = float(np.dot(wx, (psi_ab - psi_abx)))
        db = float(np.dot(wx, (psi_ab + special.digamma(b + xu) - special.digamma(b) - psi_abx)))
        theta = (r, alpha, a, b)
        chunks = d["chunks"]
        if d["pool"] is None:
            parts = [_bg_chunk(theta, c) for c in chunks]
        else:
            parts = list(d["pool"].map(lambda c: _bg_chunk(theta, c), chunks))
        for part in parts:
            ll += part[0]
            dr += part[1]
            dalpha += part[2]
            da += part[3]
            db += part[4]
        grad = np.array([dr * r, dalpha * alpha, da * a, db * b])
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros(4)
        return -ll, -grad

    @staticmethod
    def _x_groups(x: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
        xi = x.astype(np.int64)
        if np.all(xi == x) and xi.max(initial=0) < 100_000:
            counts = np.bincount(xi)
            xu = np.flatnonzero(counts)
            lookup = np.zeros(len(counts), dtype=np.intp)
            lookup[xu] = np.arange(len(xu))
            return xu.astype(float), lookup[xi]
        xu, inv = np.unique(x, return_inverse=True)
        return xu, inv.ravel()

    def _loglik(
        self, theta: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray
    ) -> FloatArray:
        r, alpha, a, b = theta
        a1 = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + x)
            - special.betaln(a, b)
        )
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0,
                np.log(a) - np.log(np.maximum(b + x - 1.0, 1e-300)) - (r + x) * np.log(alpha + tx),
                -np.inf,
            )
        return a1 + np.logaddexp(a3, a4)

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        r"""Probability that a customer is still active at T.

        .. math::
            P(\text{alive}) = \left[1 + \delta_{x>0}\frac{a}{b+x-1}
            \left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}\right]^{-1}
        """
        r, alpha, a, b = self._theta()
        x, tx, T = np.broadcast_arrays(_arr(frequency), _arr(recency), _arr(T))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.log(a) - np.log(b + x - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, special.expit(-d), 1.0)

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        r"""Expected purchases in :math:`(T, T+t]` given :math:`(x, t_x, T)`.

        .. math::
            E[Y(t)\mid x,t_x,T] = \frac{a+b+x-1}{a-1}
            \left[1 - \left(\frac{\alpha+T}{\alpha+T+t}\right)^{r+x}
            {}_2F_1\!\left(r+x, b+x; a+b+x-1; \frac{t}{\alpha+T+t}\right)\right]
            P(\text{alive})
        """
        t, x, tx, T = np.broadcast_arrays(_arr(t), _arr(frequency), _arr(recency), _arr(T))
        return self._purchase_term(t, x, T) * self.probability_alive(x, tx, T)

    def _purchase_term(self, t: ArrayLike, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[Y(t) | x, t_x, T] / P(alive): depends on (x, T), not on t_x."""
        r, alpha, a, b = self._theta()
        z = t / (alpha + T + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        term = 1.0 - np.exp((r + x) * np.log1p(-z)) * hyp
        return (a + b + x - 1.0) / (a - 1.0) * term

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        r"""Expected repeat purchases :math:`E[X(t)]` of a new customer in :math:`(0, t]`.

        .. math::
            E[X(t)] = \frac{a+b-1}{a-1}\left[1 - \left(\frac{\alpha}{\alpha+t}\right)^r
            {}_2F_1\!\left(r, b; a+b-1; \frac{t}{\alpha+t}\right)\right]
        """
        r, alpha, a, b = self._theta()
        t = _arr(t)
        z = t / (alpha + t)
        return (
            (a + b - 1.0)
            / (a - 1.0)
            * (1.0 - np.exp(r * np.log1p(-z)) * special.hyp2f1(r, b, a + b - 1.0, z))
        )

    def probability_of_purchases(self, t: float, n: ArrayLike) -> FloatArray:
        r""":math:`P(X(t) = n)` for a new customer (FHL 2005, eq. 8)."""
        r, alpha, a, b = self._theta()
        n = _arr(n)
        lb = special.betaln(a, b + n) - special.betaln(a, b)
        first = np.exp(
            lb
            + special.gammaln(r + n)
            - special.gammaln(r)
            - special.gammaln(n + 1)
            + r * np.log(alpha / (alpha + t))
            + n * np.log(t / (alpha + t))
        )
        out = first.copy()
        pos = n > 0
        if np.any(pos):
            npos = n[pos]
            # sum_{j=0}^{n-1} Gamma(r+j)/(Gamma(r) j!) (t/(alpha+t))^j
            jmax = int(npos.max())
            j = np.arange(jmax)
            terms = np.exp(
                special.gammaln(r + j)
                - special.gammaln(r)
                - special.gammaln(j + 1)
                + j * np.log(t / (alpha + t))
            )
            csum = np.concatenate([[0.0], np.cumsum(terms)])
            bracket = 1.0 - (alpha / (alpha + t)) ** r * csum[npos.astype(int)]
            out[pos] += np.exp(special.betaln(a + 1, b + npos - 1) - special.betaln(a, b)) * bracket
        return out


class GammaGammaModel:
    r"""Gamma-Gamma model of the mean transaction value (Fader & Hardie 2013).

    Individual transaction values are :math:`z \sim \mathrm{Gamma}(p, \nu)` with
    :math:`\nu \sim \mathrm{Gamma}(q, \gamma)` across customers. For a customer with
    :math:`x > 0` repeat transactions of mean :math:`\bar z` the likelihood is

    .. math::
        L = \frac{\Gamma(px+q)}{\Gamma(px)\Gamma(q)}
            \frac{\gamma^q \bar z^{px-1} x^{px}}{(\gamma + x\bar z)^{px+q}}

    and the conditional expected mean spend is

    .. math::
        E[Z\mid x,\bar z] = \frac{p(\gamma + x\bar z)}{px+q-1}.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q`` and ``v`` (:math:`\gamma`).
    log_likelihood_ : float
    standard_errors_ : dict

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
    http://brucehardie.com/notes/025/
    """

    _names = ["p", "q", "v"]

    def __init__(self, *, maxiter: int = 2000) -> None:
        self.maxiter = maxiter

    @_serial_blas
    def fit(
        self, frequency: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None = None
    ) -> GammaGammaModel:
        """Fit on customers with ``frequency > 0`` (others are ignored); returns self."""
        x, z = _arr(frequency), _arr(monetary)
        w = np.ones(len(x)) if weights is None else _arr(weights)
        keep = x > 0
        if np.any(keep & (z <= 0)):
            raise ValueError("monetary must be positive for customers with frequency > 0")
        (x, z), w = _collapse([x[keep], z[keep]], w[keep])
        if len(x) < 2:
            raise ValueError("need at least two repeat customers to fit the Gamma-Gamma model")
        m = float(np.average(z, weights=w))
        var = float(np.average((z - m) ** 2, weights=w)) or m**2
        x0 = np.log([max(m**2 / var, 0.5), 3.0, 2.0 * m])
        prep = self._prepare(x, z, w)
        theta, ll, res = _maximize(
            lambda p: self._negll_grad_prepared(p, prep),
            x0,
            self._names,
            "GammaGammaModel",
            self.maxiter,
        )
        self.params_ = dict(zip(self._names, (float(v) for v in theta), strict=True))
        self.log_likelihood_ = ll
        self.n_iter_ = int(res.nit)
        self._data = (x, z, w)
        self._se: dict[str, float] | None = None
        return self

    @staticmethod
    def _negll_grad(
        logp: FloatArray, x: FloatArray, z: FloatArray, w: FloatArray
    ) -> tuple[float, FloatArray]:
        return GammaGammaModel._negll_grad_prepared(logp, GammaGammaModel._prepare(x, z, w))

    @staticmethod
    def _prepare(x: FloatArray, z: FloatArray, w: FloatArray) -> dict:
        """Sufficient statistics: the Gamma-function terms depend on x only."""
        xu, inv = np.unique(x, return_inverse=True)
        inv = inv.ravel()
        lz = np.log(z)
        return {
            "xu": xu,
            "nx": np.bincount(inv, weights=w, minlength=len(xu)),
            "W": float(w.sum()),
            "swlz": float(np.dot(w, lz)),
            "swxlz": float((w * x) @ lz),
            "xz": x * z,
            "w": w,
            "wx": w * x,
            "buf": np.empty(len(x)),
        }

    @staticmethod
    def _negll_grad_prepared(logp: FloatArray, d: dict) -> tuple[float, FloatArray]:
        p, q, v = np.exp(logp)
        xu, nx, W = d["xu"], d["nx"], d["W"]
        pxu = p * xu
        lv = np.log(np.add(d["xz"], v, out=d["buf"]), out=d["buf"])  # log(v + x zbar)
        s_l, s_xl = float(np.dot(d["w"], lv)), float(np.dot(d["wx"], lv))
        inv = np.reciprocal(np.add(d["xz"], v, out=d["buf"]), out=d["buf"])
        s_r, s_xr = float(np.dot(d["w"], inv)), float(np.dot(d["wx"], inv))
        psi = special.digamma(pxu + q)
        ll = (
            float(np.dot(nx, (special.gammaln(pxu + q) - special.gammaln(pxu) + pxu * np.log(xu))))
            - W * special.gammaln(q)
            + W * q * np.log(v)
            + p * d["swxlz"]
            - d["swlz"]
            - p * s_xl
            - q * s_l
        )
        dp = float(nx @ (xu * (psi - special.digamma(pxu) + np.log(xu)))) + d["swxlz"] - s_xl
        dq = float(np.dot(nx, psi)) - W * special.digamma(q) + W * np.log(v) - s_l
        dv = W * q / v - p * s_xr - q * s_r
        if not np.isfinite(ll):
            return 1e300, np.zeros(3)
        return -ll, -np.array([dp * p, dq * q, dv * v])

    @property
    def standard_errors_(self) -> dict[str, float]:
        """Asymptotic standard errors of ``params_``."""
        if not hasattr(self, "params_"):
            raise RuntimeError("GammaGammaModel is not fitted; call fit() first")
        if self._se is None:
            x, z, w = self._data

            def grad(theta: FloatArray) -> FloatArray:
                return -self._negll_grad(np.log(theta), x, z, w)[1] / theta

            theta = np.array([self.params_[n] for n in self._names])
            self._se = _standard_errors(grad, theta, self._names)
        return self._se

    def conditional_expected_average_value(
        self, frequency: ArrayLike, monetary: ArrayLike
    ) -> FloatArray:
        r""":math:`E[Z\mid x,\bar z] = p(\gamma + x\bar z)/(px+q-1)`; the population mean
        :math:`p\gamma/(q-1)` when :math:`x = 0`."""
        if not hasattr(self, "params_"):
            raise RuntimeError("GammaGammaModel is not fitted; call fit() first")
        p, q, v = (self.params_[n] for n in self._names)
        x, z = np.broadcast_arrays(_arr(frequency), _arr(monetary))
        return p * (v + x * z) / (p * x + q - 1.0)
