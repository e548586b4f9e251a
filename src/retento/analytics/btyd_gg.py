r"""The Gamma-Gamma model of the mean transaction value (Fader & Hardie 2013), the spend model
that turns a transaction model's expected purchases into a customer lifetime value
(:meth:`retento.analytics.btyd_base._BTYDModel.customer_lifetime_value`).

It is fitted like the transaction models, with the helpers of :mod:`retento.analytics.btyd_base`
(collapsed identical rows, L-BFGS-B in log-parameter space with the analytic gradient). Fitting it
on a real transaction log, where some repeat customers have no positive mean spend, is
:func:`retento.analytics.spend.fit_spend`. :class:`GammaGammaModel` is also importable from
:mod:`retento.analytics.btyd` and :mod:`retento.analytics`.

References
----------
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://brucehardie.com/notes/025/
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from retento.analytics.btyd_base import (
    FloatArray,
    _arr,
    _collapse,
    _maximize,
    _MaxiterParams,
    _serial_blas,
    _standard_errors,
)

__all__ = ["GammaGammaModel"]


class GammaGammaModel(_MaxiterParams):
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
