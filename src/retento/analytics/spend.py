"""Gamma-Gamma spend model on a real transaction log: fitted only where it can hold.

The Gamma-Gamma likelihood needs a positive mean repeat spend. Real logs have $0 repeat
purchases (free replacements, fully discounted orders) and refunds, so a few repeat customers
have a mean of 0 or less. They are left out of the fit, counted, and scored - like one-time
buyers - with the population mean spend. ``retento analyze clv`` and ``retento score`` both use
:func:`fit_spend`, so the rule is one code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from retento.analytics.btyd_gg import GammaGammaModel

__all__ = ["LEFT_OUT_REASON", "SpendFit", "fit_spend"]

LEFT_OUT_REASON = (
    "mean repeat spend is zero or negative ($0 or refunded repeat purchases); "
    "scored with the population mean spend"
)


@dataclass
class SpendFit:
    """A fitted Gamma-Gamma model and who was kept out of its fit.

    Attributes
    ----------
    model : GammaGammaModel
    fitted : ndarray of bool
        Customers the model was fitted on (repeat buyers with positive mean repeat spend).
    left_out : int
        Repeat buyers left out because their mean repeat spend is 0 or negative.
    population_mean : float
        The model's mean spend for a customer it knows nothing about, p v / (q - 1).
    """

    model: GammaGammaModel
    fitted: np.ndarray
    left_out: int
    population_mean: float
    frequency: np.ndarray = field(repr=False)
    monetary: np.ndarray = field(repr=False)

    @property
    def left_out_reason(self) -> str | None:
        return LEFT_OUT_REASON if self.left_out else None

    def expected_spend(self) -> np.ndarray:
        """Expected spend per purchase of every customer the fit was given: the conditional
        expectation for the fitted ones, the population mean for everyone else."""
        x, m = self.frequency, self.monetary
        return self.model.conditional_expected_average_value(
            np.where(self.fitted, x, 0.0), np.where(self.fitted, m, 0.0)
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "params": dict(self.model.params_),
            "log_likelihood": float(self.model.log_likelihood_),
            "customers_fitted": int(self.fitted.sum()),
            "left_out": int(self.left_out),
            "left_out_reason": self.left_out_reason,
            "population_mean_spend": float(self.population_mean),
        }


def fit_spend(frequency: ArrayLike, monetary: ArrayLike) -> SpendFit:
    """Fit Gamma-Gamma on the repeat customers (``frequency > 0``) with positive mean repeat
    spend ``monetary``; raises ``ValueError`` with fewer than two such customers."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    ok = (x > 0) & np.isfinite(m) & (m > 0)
    left_out = int(((x > 0) & ~ok).sum())
    if int(ok.sum()) < 2:
        raise ValueError(
            "fewer than two customers with repeat purchases of positive mean value: "
            "cannot fit the spend model"
        )
    gg = GammaGammaModel().fit(x[ok], m[ok])
    population = float(gg.conditional_expected_average_value(0.0, 0.0)[0])
    return SpendFit(gg, ok, left_out, population, x, m)
