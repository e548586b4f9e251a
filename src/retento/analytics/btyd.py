r"""Buy-'til-you-die models of customer lifetime value: the BG/NBD model (Pareto/NBD:
:mod:`retento.analytics.btyd_pnbd`; MBG/NBD: ``btyd_mbg``; the Gamma-Gamma spend model:
``btyd_gg``; the fitting machinery they share: ``btyd_base``).

All of them follow the scikit-learn contract: ``__init__`` stores hyper-parameters only, ``fit``
returns ``self`` and learned attributes end in ``_`` (``params_``, ``log_likelihood_``,
``standard_errors_``). Parameters are estimated by maximum likelihood with L-BFGS-B in
log-parameter space using closed-form gradients; identical customer rows are collapsed into
weights before fitting.

This module also re-exports :class:`~retento.analytics.btyd_gg.GammaGammaModel` and
:class:`~retento.analytics.btyd_base.ConvergenceError`, which were defined here before the split.

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

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from retento.analytics.btyd_base import (
    ConvergenceError,
    FloatArray,
    _across_a_one,
    _arr,
    _BTYDModel,
    _n_threads,
    _prepared_chunks,
    _stay_hyp2f1,
)
from retento.analytics.btyd_gg import GammaGammaModel

__all__ = [
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
]


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
        log_stay = (r + x) * np.log1p(-z)

        def term(a: float) -> FloatArray:
            stay_hyp = _stay_hyp2f1(r + x, b + x, a + b + x - 1.0, z, log_stay)
            return (a + b + x - 1.0) / (a - 1.0) * (1.0 - stay_hyp)

        return _across_a_one(a, term)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        r"""Expected repeat purchases :math:`E[X(t)]` of a new customer in :math:`(0, t]`.

        .. math::
            E[X(t)] = \frac{a+b-1}{a-1}\left[1 - \left(\frac{\alpha}{\alpha+t}\right)^r
            {}_2F_1\!\left(r, b; a+b-1; \frac{t}{\alpha+t}\right)\right]
        """
        r, alpha, a, b = self._theta()
        t = _arr(t)
        z = t / (alpha + t)
        log_stay = r * np.log1p(-z)
        return _across_a_one(
            a,
            lambda a: (
                (a + b - 1.0) / (a - 1.0) * (1.0 - _stay_hyp2f1(r, b, a + b - 1.0, z, log_stay))
            ),
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
