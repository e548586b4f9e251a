r"""Churn risk on Spark: features by Spark SQL, training on the driver, scoring distributed.

:class:`SparkTransactionLog` is :class:`retento.analytics.churn.TransactionLog` on Spark: the
transactions are read and checked once, merged by customer and day (with the gap since the
previous purchase day) and cached; :meth:`SparkTransactionLog.features` aggregates them at a
cut-off into the same feature table (collected, for training on the driver: one row per
customer and window), and :meth:`SparkTransactionLog.aggregates` leaves it in Spark.
:func:`score_churn` scores every customer on the executors: the two BTYD models of the
features are fitted on the driver from the collapsed :math:`(x, t_x, T)` counts, then each
partition derives its features, adds the BTYD columns and runs the fitted
:class:`~retento.analytics.churn.ChurnRiskModel`'s ``explain`` (risk and reasons).

See :mod:`retento.analytics.churn` for the model, the definitions and the references.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from retento.analytics.spark.summary import _lit_date, load_transactions

__all__ = ["SparkTransactionLog", "derive_features", "score_churn"]

DAYS_PER_WEEK = 7.0


def derive_features(a: dict[str, np.ndarray], cust: Any, customer_col: str, quantity: bool) -> Any:
    """The feature table from the per-customer aggregates (the arithmetic of
    :meth:`retento.analytics.churn.TransactionLog.features`, applied to Spark's aggregates)."""
    import pandas as pd

    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame(
            {
                "days_since_last": a["days_since_last"],
                "overdue_ratio": a["days_since_last"] / a["median_gap_days"],
                "last_gap_days": a["last_gap_days"],
                "median_gap_days": a["median_gap_days"],
                "gap_cv": np.where(a["mean_gap"] > 0, a["sd_gap"] / a["mean_gap"], np.nan),
                "purchases": a["purchases"],
                "purchase_rate": 30.0 * (a["purchases"] - 1) / np.maximum(a["tenure_days"], 1),
                "purchases_recent": a["purchases_recent"],
                "purchases_prior": a["purchases_prior"],
                "purchase_trend": a["purchases_recent"] - a["purchases_prior"],
                "spend_mean": a["spend_total"] / a["purchases"],
                "spend_total": a["spend_total"],
                "spend_recent": a["spend_recent"],
                "spend_prior": a["spend_prior"],
                "first_spend": a["first_spend"],
                "tenure_days": a["tenure_days"],
            },
            index=pd.Index(np.asarray(cust), name=customer_col),
        )
        if quantity:
            out["units_per_order"] = a["units_total"] / a["purchases"]
            out["units_total"] = a["units_total"]
            out["units_last"] = a["units_last"]
            out["units_recent"] = a["units_recent"]
            out["units_prior"] = a["units_prior"]
            out["units_trend"] = a["units_recent"] - a["units_prior"]
            out["spend_per_unit"] = np.where(
                a["units_total"] > 0, a["spend_total"] / a["units_total"], np.nan
            )
    return out.replace([np.inf, -np.inf], np.nan)


def _arrays(batch: Any) -> dict[str, np.ndarray]:
    return {
        k: batch[k].to_numpy(dtype=float, na_value=np.nan) for k in batch.columns if k != "cust"
    }


class SparkTransactionLog:
    """A transaction table read once into Spark; features and labels at any cut-off.

    Parameters as :class:`retento.analytics.churn.TransactionLog`, plus ``spark`` (a
    SparkSession) and, for a ``jdbc:`` source, ``jdbc_table`` and ``jdbc_properties``.
    Bad values raise :class:`~retento.analytics.SummaryInputError` naming column and row.
    Use as a context manager (or call :meth:`close`) to release the cached tables.
    """

    def __init__(
        self,
        spark: Any,
        transactions: Any,
        customer_col: str,
        date_col: str,
        amount_col: str | None = None,
        quantity_col: str | None = None,
        *,
        jdbc_table: str | None = None,
        jdbc_properties: dict[str, str] | None = None,
    ) -> None:
        from pyspark import StorageLevel

        self.spark = spark
        self.customer_col = customer_col
        self.has_quantity = quantity_col is not None
        t, info = load_transactions(
            spark,
            transactions,
            customer_col,
            date_col,
            amount_col,
            jdbc_table=jdbc_table,
            jdbc_properties=jdbc_properties,
            extra={"qty": quantity_col} if quantity_col else None,
        )
        self._t = t
        qty = "sum(qty)" if quantity_col else "0.0D"
        t.createOrReplaceTempView("retento_churn_t")
        # The gap since the previous purchase day does not depend on the cut-off: computed once.
        self._d = spark.sql(
            f"""
            SELECT cust, day, amt, qty,
                   datediff(day, lag(day) OVER (PARTITION BY cust ORDER BY day)) AS gap
            FROM (SELECT cust, day, sum(amt) AS amt, CAST({qty} AS DOUBLE) AS qty
                  FROM retento_churn_t GROUP BY cust, day)
            """
        ).persist(StorageLevel.MEMORY_AND_DISK)
        self._view = f"retento_churn_d_{id(self)}"
        self._d.createOrReplaceTempView(self._view)
        t.unpersist()
        self.source = info["source"] if isinstance(info["source"], str) else str(transactions)
        import pandas as pd

        self.first_day = pd.Timestamp(info["first_day"])
        self.last_day = pd.Timestamp(info["last_day"])

    def close(self) -> None:
        """Release the cached day table."""
        self._d.unpersist()
        self.spark.catalog.dropTempView(self._view)

    def __enter__(self) -> SparkTransactionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def aggregates(self, cutoff: Any, *, trend_days: int = 91) -> Any:
        """Per-customer aggregates at ``cutoff`` as a Spark DataFrame (``cust`` and the raw
        columns :func:`derive_features` turns into features)."""
        cut = _lit_date(cutoff)
        w = int(trend_days)
        recent = f"day > date_sub({cut}, {w})"
        prior = f"day > date_sub({cut}, {2 * w}) AND day <= date_sub({cut}, {w})"
        units = (
            f""",
               CAST(sum(qty) AS DOUBLE) AS units_total,
               CAST(max_by(qty, day) AS DOUBLE) AS units_last,
               CAST(coalesce(sum(qty) FILTER (WHERE {recent}), 0) AS DOUBLE) AS units_recent,
               CAST(coalesce(sum(qty) FILTER (WHERE {prior}), 0) AS DOUBLE) AS units_prior"""
            if self.has_quantity
            else ""
        )
        return self.spark.sql(
            f"""
            SELECT cust,
                   CAST(count(*) AS DOUBLE) AS purchases,
                   CAST(datediff({cut}, min(day)) AS DOUBLE) AS tenure_days,
                   CAST(datediff({cut}, max(day)) AS DOUBLE) AS days_since_last,
                   CAST(datediff(max(day), min(day)) AS DOUBLE) AS span_days,
                   CAST(median(gap) AS DOUBLE) AS median_gap_days,
                   CAST(avg(gap) AS DOUBLE) AS mean_gap,
                   CAST(stddev_pop(gap) AS DOUBLE) AS sd_gap,
                   CAST(max_by(gap, day) AS DOUBLE) AS last_gap_days,
                   CAST(count_if({recent}) AS DOUBLE) AS purchases_recent,
                   CAST(count_if({prior}) AS DOUBLE) AS purchases_prior,
                   CAST(coalesce(sum(amt) FILTER (WHERE {recent}), 0) AS DOUBLE) AS spend_recent,
                   CAST(coalesce(sum(amt) FILTER (WHERE {prior}), 0) AS DOUBLE) AS spend_prior,
                   CAST(sum(amt) AS DOUBLE) AS spend_total,
                   CAST(min_by(amt, day) AS DOUBLE) AS first_spend{units}
            FROM {self._view} WHERE day <= {cut} GROUP BY cust
            """
        )

    def features(
        self, cutoff: Any, *, horizon_days: float, trend_days: int = 91, btyd: bool = True
    ) -> Any:
        """The feature table of :meth:`retento.analytics.churn.TransactionLog.features`,
        aggregated by Spark and collected (sorted by customer)."""
        from retento.analytics.churn_features import btyd_features

        agg = self.aggregates(cutoff, trend_days=trend_days).toPandas().sort_values("cust")
        a = _arrays(agg)
        out = derive_features(a, agg["cust"].to_numpy(), self.customer_col, self.has_quantity)
        out.attrs["trend_days"] = int(trend_days)
        if btyd:
            x = out["purchases"].to_numpy() - 1.0
            tx = a["span_days"] / DAYS_PER_WEEK
            T = out["tenure_days"].to_numpy() / DAYS_PER_WEEK
            bt = btyd_features(x, tx, T, horizon_days / DAYS_PER_WEEK)
            for col in bt.columns:
                out[col] = bt[col].to_numpy()
        return out

    def buyers(self, cutoff: Any, horizon_days: int) -> Any:
        """Spark DataFrame of the customers (``cust``) who bought in (cutoff, cutoff + h]."""
        import pandas as pd

        cut = pd.Timestamp(cutoff)
        end = cut + pd.Timedelta(days=int(horizon_days))
        return self.spark.sql(
            f"SELECT DISTINCT cust FROM {self._view} "
            f"WHERE day > {_lit_date(cut)} AND day <= {_lit_date(end)}"
        )

    def labels(self, cutoff: Any, horizon_days: int, customers: Any) -> Any:
        """1 if a customer of ``customers`` made no purchase in (cutoff, cutoff + horizon]."""
        import pandas as pd

        bought = self.buyers(cutoff, horizon_days).toPandas()["cust"].to_numpy()
        churn = ~customers.isin(bought)
        return pd.Series(churn.astype(np.int8), index=customers, name="churn")


def _fit_btyd(agg: Any) -> dict[str, Any]:
    """MBG/NBD and BG/NBD fitted on the driver from the collapsed (x, t_x, T) rows of the
    aggregates (weeks); a model that cannot be fitted is left out (its columns become NaN)."""
    from retento.analytics.btyd import BetaGeoModel
    from retento.analytics.btyd_mbg import ModifiedBetaGeoModel

    rows = (
        agg.selectExpr(
            "purchases - 1 AS x",
            f"span_days / {DAYS_PER_WEEK}D AS tx",
            f"tenure_days / {DAYS_PER_WEEK}D AS T",
        )  # fmt: skip
        .groupBy("x", "tx", "T")
        .count()
        .toPandas()
    )
    x, tx, T = (rows[c].to_numpy(float) for c in ("x", "tx", "T"))
    fitted: dict[str, Any] = {}
    for name, cls in (("mbgnbd", ModifiedBetaGeoModel), ("bgnbd", BetaGeoModel)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fitted[name] = cls().fit(x, tx, T, weights=rows["count"].to_numpy(float))
        except (ValueError, RuntimeError, FloatingPointError):
            fitted[name] = None
    return fitted


def _btyd_columns(models: dict[str, Any], x: Any, tx: Any, T: Any, horizon: float) -> dict:
    """The six columns of :func:`retento.analytics.churn.btyd_features` from fitted models."""
    from retento.analytics.btyd_base import _unique_rows

    (ux, utx, uT), inverse = _unique_rows([x, tx, T])
    cols: dict[str, np.ndarray] = {}
    for name, model in models.items():
        if model is None:
            pa = ey = p0 = np.full(len(ux), np.nan)
        else:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                pa = model.probability_alive(ux, utx, uT)
                ey = model.conditional_expected_purchases(horizon, ux, utx, uT)
                r, alpha = model.params_["r"], model.params_["alpha"]
                stay = np.exp((r + ux) * (np.log(alpha + uT) - np.log(alpha + uT + horizon)))
                p0 = 1.0 - pa + pa * stay
        cols[f"p_alive_{name}"] = pa[inverse]
        cols[f"expected_purchases_{name}"] = ey[inverse]
        cols[f"p_no_purchase_{name}"] = p0[inverse]
    return cols


def score_churn(model: Any, log: SparkTransactionLog, cutoff: Any, *, top: int = 3) -> Any:
    """Features, risk and reasons of every customer who bought by ``cutoff``, on the executors.

    ``model`` is a :class:`~retento.analytics.churn.ChurnRiskModel` fitted on the driver (e.g.
    ``model.fit_transactions(log, cutoff)``). Returns a Spark DataFrame with ``cust``, the
    feature columns and ``explain``'s columns (``churn_risk``, ``reason_code_i``,
    ``reason_i``, ``reason_zh_i``, ``contribution_i``), the same numbers as
    :meth:`~retento.analytics.churn.ChurnRiskModel.score_transactions`. When the training
    windows were shorter than the horizon, the risk is anchored to the BTYD forecast as there
    (the shift is found on the driver from the collected risk column).
    """
    from pyspark import StorageLevel
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    model._check_fitted()
    horizon = float(model.horizon_days)
    agg = log.aggregates(cutoff, trend_days=model.trend_days).persist(StorageLevel.MEMORY_AND_DISK)
    btyd = _fit_btyd(agg)
    features = list(model.feature_names_in_)
    explained = ["churn_risk"]
    for i in range(1, top + 1):
        explained += [f"reason_code_{i}", f"reason_{i}", f"reason_zh_{i}", f"contribution_{i}"]
    text = {c for c in explained if c.startswith("reason")}
    cust_type = dict(agg.dtypes)["cust"]
    fields = [StructField("cust", LongType() if cust_type == "bigint" else StringType())]
    fields += [StructField(c, DoubleType()) for c in features]
    fields += [StructField(c, StringType() if c in text else DoubleType()) for c in explained]
    schema = StructType(fields)
    customer_col, quantity, trend = log.customer_col, log.has_quantity, int(model.trend_days)

    def score(batches: Any) -> Any:
        for batch in batches:
            a = _arrays(batch)
            feats = derive_features(a, batch["cust"].to_numpy(), customer_col, quantity)
            feats.attrs["trend_days"] = trend
            x = feats["purchases"].to_numpy() - 1.0
            cols = _btyd_columns(
                btyd, x, a["span_days"] / DAYS_PER_WEEK,
                feats["tenure_days"].to_numpy() / DAYS_PER_WEEK, horizon / DAYS_PER_WEEK,
            )  # fmt: skip
            for c, v in cols.items():
                feats[c] = v
            feats["horizon_days"] = horizon
            out = feats[features].join(model.explain(feats[features], top=top))
            out = out.reset_index(names="cust")
            for c in text:
                out[c] = out[c].astype(object).where(out[c].notna(), None)
            yield out[[f.name for f in fields]]

    scored = agg.mapInPandas(score, schema).persist(StorageLevel.MEMORY_AND_DISK)
    trained = max((w["label_days"] for w in getattr(model, "windows_", [])), default=None)
    model.horizon_shift_ = 0.0
    if trained is not None and trained < model.horizon_days:
        scored = _anchor(scored, model)
    agg.unpersist()
    return scored


def _anchor(scored: Any, model: Any) -> Any:
    """Shift the risk's log-odds so its mean is the BTYD no-purchase forecast (as
    :func:`retento.analytics.churn._anchor_to_btyd`); the shift is solved on the driver."""
    from pyspark.sql import functions as F
    from scipy import optimize, special

    cols = [c for c in ("p_no_purchase_mbgnbd", "p_no_purchase_bgnbd") if c in scored.columns]
    pdf = scored.select("churn_risk", *cols).toPandas()
    target = float(np.nanmean(pdf[cols].to_numpy(float))) if cols else float("nan")
    if not np.isfinite(target) or not 0.0 < target < 1.0:
        return scored
    z = special.logit(np.clip(pdf["churn_risk"].to_numpy(float), 1e-9, 1 - 1e-9))
    shift = float(optimize.brentq(lambda d: special.expit(z + d).mean() - target, -30.0, 30.0))
    model.horizon_shift_ = shift
    # expit(logit(clip(p)) + shift), in SQL on the executors
    clipped = "least(greatest(churn_risk, 1e-9D), 1D - 1e-9D)"
    risk = f"1D / (1D + exp(-(ln({clipped} / (1D - {clipped})) + {shift!r}D)))"
    return scored.withColumn("churn_risk", F.expr(risk))
