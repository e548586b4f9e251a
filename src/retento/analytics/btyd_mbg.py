r"""MBG/NBD: the modified BG/NBD model, whose P(alive) is below 1 for one-time buyers.

In the BG/NBD model a customer can only drop out right after a *repeat* purchase, so anyone
without a repeat purchase is alive with probability 1 however long ago they bought: a one-time
buyer who left two years ago scores as safe as one who bought yesterday. Batislam, Denizel &
Filiztekin (2007) let the customer also drop out right after the *first* purchase; P(alive) then
falls with the time since the first purchase for x = 0 as well.

The estimator follows the scikit-learn contract and the conventions of
:mod:`retento.analytics.btyd` (maximum likelihood on collapsed sufficient statistics with
analytic gradients, in log-parameter space, by the base class of ``btyd_base``; the same chunked,
threaded likelihood kernel as BG/NBD).

References
----------
Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
models for customer base analysis. *International Journal of Research in Marketing* 24(3),
201-209.

Hoppe, D. & Wagner, U. (2007). Customer base analysis: the case for a central variant of the
Betageometric/NBD model. *Marketing - Journal of Research and Management* 3(2), 75-90.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from retento.analytics.btyd import BetaGeoModel, _bg_chunk
from retento.analytics.btyd_base import (
    FloatArray,
    _across_a_one,
    _arr,
    _BTYDModel,
    _n_threads,
    _prepared_chunks,
    _stay_hyp2f1,
)

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(_BTYDModel):
    r"""MBG/NBD model of repeat purchasing (Batislam, Denizel & Filiztekin 2007).

    While active, a customer buys with Poisson rate :math:`\lambda`; right after *every*
    purchase, the first one included, they become inactive with probability :math:`p`. Across
    customers :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and
    :math:`p \sim \mathrm{Beta}(a, b)`.

    The likelihood of a customer with :math:`x` repeat purchases, the last at :math:`t_x`
    (:math:`t_x = 0` when :math:`x = 0`), observed for :math:`T` is

    .. math::
        L = \frac{B(a, b+x+1)}{B(a, b)} \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)}
            \left[(\alpha+T)^{-(r+x)} + \frac{a}{b+x}(\alpha+t_x)^{-(r+x)}\right],

    the BG/NBD likelihood with :math:`b+x` in place of :math:`b+x-1` and no indicator
    :math:`\delta_{x>0}`: a one-time buyer may have left at the first purchase. Hence

    .. math::
        P(\text{alive}\mid x,t_x,T) = \left[1 + \frac{a}{b+x}
        \left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}\right]^{-1} < 1.

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
    Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). *International Journal of Research in
    Marketing* 24(3), 201-209.
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
        """Tabulate x and cut the customers into chunks for the shared BG/NBD kernel.

        The kernel evaluates :math:`\\log[(\\alpha+T)^{-(r+x)} + \\frac{a}{b+u-1}
        (\\alpha+t_x)^{-(r+x)}]` for its "x > 0" group, with u looked up per distinct x. Every
        MBG/NBD customer, x = 0 included, has that form with u = x + 1, so all customers go to
        that group and the lookup table holds x + 1.
        """
        key = (id(x), id(tx), id(T), id(w), len(x))
        cached = getattr(self, "_prep_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        xu, inv = BetaGeoModel._x_groups(x)
        unit_w = bool(w.min(initial=1.0) == 1.0 and w.max(initial=1.0) == 1.0)
        n_chunks = _n_threads(len(x))
        bounds = np.linspace(0, len(x), n_chunks + 1).astype(int)
        empty = np.empty(0)

        def chunk(lo: int, hi: int) -> dict:
            xc, wc = x[lo:hi], w[lo:hi]
            n = hi - lo
            return {
                "T0": empty,
                "w0": empty,
                "xp": xc,
                "txp": tx[lo:hi],
                "Tp": T[lo:hi],
                "wp": wc,
                "xpu": xu + 1.0,
                "xpinv": inv[lo:hi],
                "wxp_": xc if unit_w else xc * wc,
                "unit_w": unit_w,
                "c1": empty,
                "c2": empty,
                "buf": [np.empty(n) for _ in range(6)],
            }

        prep = _prepared_chunks(chunk, bounds, n_chunks, xu, inv, w)
        self._prep_cache = (key, prep)
        return prep

    @staticmethod
    def _negll_grad_prepared(logp: FloatArray, d: dict) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(logp)
        wsum, xu, wx = d["wsum"], d["xu"], d["wx"]
        # log Gamma(r+x) - log Gamma(r) + r log alpha + log B(a, b+x+1) - log B(a, b): the
        # terms that depend on x only, evaluated on the distinct x values.
        lg = (
            special.gammaln(r + xu)
            + special.gammaln(a + b)
            + special.gammaln(b + xu + 1.0)
            - special.gammaln(b)
            - special.gammaln(a + b + xu + 1.0)
        )
        la = np.log(alpha)
        ll = float(np.dot(wx, lg)) + wsum * (r * la - special.gammaln(r))
        dr = float(np.dot(wx, special.digamma(r + xu))) + wsum * (la - special.digamma(r))
        dalpha = wsum * r / alpha
        psi_ab = special.digamma(a + b)
        psi_abx = special.digamma(a + b + xu + 1.0)
        da = float(np.dot(wx, (psi_ab - psi_abx)))
        db = float(
            np.dot(wx, (psi_ab + special.digamma(b + xu + 1.0) - special.digamma(b) - psi_abx))
        )
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

    def _loglik(
        self, theta: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray
    ) -> FloatArray:
        r, alpha, a, b = theta
        a1 = (
            special.gammaln(r + x)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + x + 1.0)
            - special.betaln(a, b)
        )
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + tx)
        return a1 + np.logaddexp(a3, a4)

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        r"""Probability that a customer is still active at T.

        .. math::
            P(\text{alive}) = \left[1 + \frac{a}{b+x}
            \left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}\right]^{-1}
        """
        r, alpha, a, b = self._theta()
        x, tx, T = np.broadcast_arrays(_arr(frequency), _arr(recency), _arr(T))
        d = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return special.expit(-d)

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        r"""Expected purchases in :math:`(T, T+t]` given :math:`(x, t_x, T)`.

        .. math::
            E[Y(t)\mid x,t_x,T] = \frac{a+b+x}{a-1}
            \left[1 - \left(\frac{\alpha+T}{\alpha+T+t}\right)^{r+x}
            {}_2F_1\!\left(r+x, b+x+1; a+b+x; \frac{t}{\alpha+T+t}\right)\right]
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
            stay_hyp = _stay_hyp2f1(r + x, b + x + 1.0, a + b + x, z, log_stay)
            return (a + b + x) / (a - 1.0) * (1.0 - stay_hyp)

        return _across_a_one(a, term)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        r"""Expected repeat purchases :math:`E[X(t)]` of a new customer in :math:`(0, t]`.

        .. math::
            E[X(t)] = \frac{b}{a-1}\left[1 - \left(\frac{\alpha}{\alpha+t}\right)^r
            {}_2F_1\!\left(r, b+1; a+b; \frac{t}{\alpha+t}\right)\right]
        """
        r, alpha, a, b = self._theta()
        t = _arr(t)
        z = t / (alpha + t)
        log_stay = r * np.log1p(-z)
        return _across_a_one(
            a, lambda a: b / (a - 1.0) * (1.0 - _stay_hyp2f1(r, b + 1.0, a + b, z, log_stay))
        )
