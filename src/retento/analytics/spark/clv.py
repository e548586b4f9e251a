r"""CLV on Spark: fit on the driver from collapsed sufficient statistics, score distributed.

The BTYD likelihoods depend on a customer only through :math:`(x, t_x, T)`, so the fit needs
just the distinct triples and how many customers share each: Spark counts them
(``GROUP BY frequency, recency, T``), the driver fits BG/NBD, MBG/NBD or Pareto/NBD with the
project's fitters on those weighted rows. The Gamma-Gamma spend model is fitted likewise on
the distinct :math:`(x, \bar z)` pairs of repeat customers with a positive mean spend. Scoring
(expected purchases, P(alive), discounted CLV) runs on the executors with ``mapInPandas``,
each partition evaluating the fitted models' closed forms on its own customers. This is the
split of Databricks' CLV solution accelerator (fit on the driver, distribute the scoring).

Equations and references: :class:`~retento.analytics.BetaGeoModel` (Fader, Hardie & Lee 2005),
:class:`~retento.analytics.GammaGammaModel` (Fader & Hardie 2013).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SCORE_COLUMNS", "SparkCLVFit", "fit_clv", "score_clv"]

MODELS = ("bgnbd", "mbgnbd", "pareto")
SCORE_COLUMNS = ["expected_purchases", "p_alive", "expected_spend", "clv"]


@dataclass
class SparkCLVFit:
    """What the driver fitted: the transaction model, the spend model and their inputs' size.

    Attributes
    ----------
    model : BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
    spend : GammaGammaModel
    customers : int
        Customers in the summary.
    distinct_rows : int
        Distinct (x, t_x, T) rows the transaction model was fitted on.
    spend_fitted, spend_left_out : int
        Repeat customers in the spend fit, and those left out (mean repeat spend <= 0).
    """

    model: Any
    spend: Any
    customers: int
    distinct_rows: int
    spend_fitted: int
    spend_left_out: int

    @property
    def population_mean_spend(self) -> float:
        return float(self.spend.conditional_expected_average_value(0.0, 0.0)[0])

    def spend_dict(self) -> dict[str, Any]:
        """The spend fit as :meth:`retento.analytics.spend.SpendFit.to_dict` reports it."""
        from retento.analytics.spend import LEFT_OUT_REASON

        return {
            "params": dict(self.spend.params_),
            "log_likelihood": float(self.spend.log_likelihood_),
            "customers_fitted": int(self.spend_fitted),
            "left_out": int(self.spend_left_out),
            "left_out_reason": LEFT_OUT_REASON if self.spend_left_out else None,
            "population_mean_spend": self.population_mean_spend,
        }


def _model(name: str) -> Any:
    from retento.analytics.btyd import BetaGeoModel
    from retento.analytics.btyd_mbg import ModifiedBetaGeoModel
    from retento.analytics.btyd_pnbd import ParetoNBDModel

    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, not {name!r}")
    return {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel}.get(name, ParetoNBDModel)()


def collapsed_rows(summary: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``(frequency, recency, T)`` rows of a Spark summary and their customer counts,
    collected to the driver."""
    rows = summary.groupBy("frequency", "recency", "T").count().toPandas()
    return (
        rows["frequency"].to_numpy(float),
        rows["recency"].to_numpy(float),
        rows["T"].to_numpy(float),
        rows["count"].to_numpy(float),
    )


def fit_clv(summary: Any, model: str = "bgnbd") -> SparkCLVFit:
    """Fit the transaction and spend models on the driver from a Spark summary.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        Output of :func:`~retento.analytics.spark.customer_summary`.
    model : {"bgnbd", "mbgnbd", "pareto"}

    Raises
    ------
    ValueError
        Fewer than two repeat customers with a positive mean spend (no spend model).
    ConvergenceError
        The transaction model's optimiser did not converge.
    """
    from retento.analytics.btyd_gg import GammaGammaModel

    x, tx, T, w = collapsed_rows(summary)
    fitter = _model(model).fit(x, tx, T, weights=w)
    spend = (
        summary.where("frequency > 0")
        .selectExpr(
            "frequency",
            "monetary",
            "isnan(monetary) OR monetary <= 0 OR monetary IS NULL AS bad",
        )
        .groupBy("frequency", "monetary", "bad")
        .count()
        .toPandas()
    )
    ok = ~spend["bad"].to_numpy(bool)
    if int(spend["count"].to_numpy()[ok].sum()) < 2:
        raise ValueError(
            "fewer than two customers with repeat purchases of positive mean value: "
            "cannot fit the spend model"
        )
    gg = GammaGammaModel().fit(
        spend["frequency"].to_numpy(float)[ok],
        spend["monetary"].to_numpy(float)[ok],
        weights=spend["count"].to_numpy(float)[ok],
    )
    return SparkCLVFit(
        model=fitter,
        spend=gg,
        customers=int(w.sum()),
        distinct_rows=len(w),
        spend_fitted=int(spend["count"].to_numpy()[ok].sum()),
        spend_left_out=int(spend["count"].to_numpy()[~ok].sum()),
    )


def score_partition(
    batch: Any,
    model: Any,
    spend: Any,
    horizon: float,
    discount_rate: float,
    margin: float,
    unit_days: float,
) -> Any:
    """Scores of one pandas batch of summary rows (what each executor runs).

    Adds ``expected_purchases`` (over ``horizon``), ``p_alive``, ``expected_spend`` and
    ``clv`` = margin x expected spend x discounted expected purchases, exactly as
    ``retento analyze clv`` computes them on one machine.
    """
    from retento.analytics.btyd_base import _discounted_clv, _unique_rows

    x = batch["frequency"].to_numpy(float)
    tx = batch["recency"].to_numpy(float)
    T = batch["T"].to_numpy(float)
    m = batch["monetary"].to_numpy(float)
    (ux, utx, uT), inverse = _unique_rows([x, tx, T])
    out = batch.copy()
    out["expected_purchases"] = model.conditional_expected_purchases(horizon, ux, utx, uT)[inverse]
    out["p_alive"] = model.probability_alive(ux, utx, uT)[inverse]
    fitted = (x > 0) & np.isfinite(m) & (m > 0)
    value = spend.conditional_expected_average_value(
        np.where(fitted, x, 0.0), np.where(fitted, m, 0.0)
    )
    out["expected_spend"] = value
    discounted = _discounted_clv(
        lambda t: model.conditional_expected_purchases(t, ux, utx, uT),
        np.ones(len(ux)),
        horizon,
        discount_rate,
        1.0,
        unit_days,
    )[inverse]
    out["clv"] = margin * value * discounted
    return out


def score_clv(
    summary: Any,
    fit: SparkCLVFit,
    *,
    horizon: float = 52.0,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    freq: str = "W",
) -> Any:
    """Score every customer of a Spark summary on the executors (``mapInPandas``).

    Returns a Spark DataFrame: the summary's columns plus ``expected_purchases``,
    ``p_alive``, ``expected_spend`` and ``clv``. ``horizon`` is in the summary's time unit
    (``freq``); ``discount_rate`` is yearly. The fitted models travel to the executors in the
    function's closure (a few numbers each).
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    unit = {"D": 1.0, "W": 7.0}[freq]
    model, spend = fit.model, fit.spend
    schema = StructType(
        list(summary.schema.fields) + [StructField(c, DoubleType()) for c in SCORE_COLUMNS]
    )

    def score(batches: Any) -> Any:
        for batch in batches:
            yield score_partition(batch, model, spend, horizon, discount_rate, margin, unit)

    return summary.mapInPandas(score, schema)
