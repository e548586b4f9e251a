r"""Churn features: a transaction log in DuckDB, per-customer features at any cut-off, labels,
and the BTYD view (P(alive), expected purchases, P(no purchase in the horizon)).

Split from :mod:`retento.analytics.churn`, which re-exports everything here; see that module
for the model and the references.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from retento.analytics.btyd import BetaGeoModel, _unique_rows
from retento.analytics.btyd_mbg import ModifiedBetaGeoModel
from retento.analytics.summary import _lit_date, load_checked

__all__ = ["DAYS_PER_WEEK", "TX_FEATURES", "TX_GROUPS", "TransactionLog", "btyd_features"]

DAYS_PER_WEEK = 7.0

# Feature groups: a reason is one group; all its features are moved to the population baseline
# together, because they describe one fact about the customer in different ways.
TX_GROUPS: dict[str, list[str]] = {
    "lapsed": ["days_since_last", "overdue_ratio", "last_gap_days", "median_gap_days", "gap_cv"],
    "frequency": [
        "purchases",
        "purchase_rate",
        "purchases_recent",
        "purchases_prior",
        "purchase_trend",
    ],
    "spend": ["spend_mean", "spend_total", "spend_recent", "spend_prior", "first_spend"],
    "tenure": ["tenure_days"],
    "btyd": [
        "p_alive_mbgnbd",
        "p_alive_bgnbd",
        "expected_purchases_mbgnbd",
        "expected_purchases_bgnbd",
        "p_no_purchase_mbgnbd",
        "p_no_purchase_bgnbd",
    ],
}
TX_FEATURES = [f for group in TX_GROUPS.values() for f in group]


# -- transactions -----------------------------------------------------------------------------
class TransactionLog:
    """A transaction table loaded once into DuckDB; features and labels at any cut-off.

    Parameters
    ----------
    transactions : DataFrame or path
        One row per transaction (CSV with header or Parquet when a path).
    customer_col, date_col : str
        Customer id and transaction date (or timestamp) columns.
    amount_col : str, optional
        Transaction value; without it all spend features are 0.

    Notes
    -----
    Same-day purchases of a customer are merged into one purchase (values summed), as in the
    BTYD summaries (:func:`~retento.analytics.summarize`). Bad rows raise
    :class:`~retento.analytics.SummaryInputError` naming the column and row.
    """

    def __init__(
        self,
        transactions: pd.DataFrame | str | os.PathLike[str],
        customer_col: str,
        date_col: str,
        amount_col: str | None = None,
    ) -> None:
        self.customer_col = customer_col
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        try:
            source = load_checked(con, transactions, customer_col, date_col, amount_col)
            # The gap since the customer's previous purchase day does not depend on the cut-off
            # (the previous day of a day <= c is <= c too): compute it once here instead of in a
            # window function for every cut-off's features.
            con.execute(
                """
                CREATE TEMP TABLE d AS
                SELECT cust, day, amt,
                       date_diff('day', lag(day) OVER (PARTITION BY cust ORDER BY day), day) AS gap
                FROM (SELECT cust, day, sum(amt) AS amt FROM t GROUP BY cust, day)
                """
            )
            con.execute("DROP TABLE t")
            first, last = con.execute("SELECT min(day), max(day) FROM d").fetchone()
        except BaseException:
            con.close()
            raise
        self._con = con
        self.source = source
        self.first_day = pd.Timestamp(first)
        self.last_day = pd.Timestamp(last)

    def close(self) -> None:
        """Release the DuckDB connection."""
        self._con.close()

    def __enter__(self) -> TransactionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def features(
        self,
        cutoff: Any,
        *,
        horizon_days: float,
        trend_days: int = 91,
        btyd: bool = True,
    ) -> pd.DataFrame:
        """Per-customer features of everyone who bought on or before ``cutoff``.

        Columns (days unless stated): ``days_since_last``, ``tenure_days`` (since the first
        purchase), ``purchases`` (distinct purchase days), ``purchase_rate`` (repeat purchases
        per 30 days of tenure), ``median_gap_days`` and ``last_gap_days`` between purchase days,
        ``gap_cv`` (their coefficient of variation), ``overdue_ratio`` (days since the last
        purchase over the customer's own median gap: above 1 means overdue),
        ``purchases_recent`` / ``purchases_prior`` (in the last ``trend_days`` and the
        ``trend_days`` before), ``purchase_trend`` (their difference), ``spend_*`` likewise
        (``spend_mean`` per purchase, ``first_spend``), and with ``btyd`` the six BTYD columns of
        :func:`btyd_features`. Undefined values (a gap of a one-time buyer) are NaN.
        """
        cut = _lit_date(cutoff)
        w = int(trend_days)
        sql = f"""
        SELECT cust,
               CAST(count(*) AS DOUBLE) AS purchases,
               CAST(date_diff('day', min(day), {cut}) AS DOUBLE) AS tenure_days,
               CAST(date_diff('day', max(day), {cut}) AS DOUBLE) AS days_since_last,
               CAST(date_diff('day', min(day), max(day)) AS DOUBLE) AS span_days,
               CAST(median(gap) AS DOUBLE) AS median_gap_days,
               CAST(avg(gap) AS DOUBLE) AS mean_gap,
               CAST(stddev_pop(gap) AS DOUBLE) AS sd_gap,
               CAST(arg_max(gap, day) AS DOUBLE) AS last_gap_days,
               CAST(count(*) FILTER (WHERE day > {cut} - {w}) AS DOUBLE) AS purchases_recent,
               CAST(count(*) FILTER (WHERE day > {cut} - {2 * w} AND day <= {cut} - {w})
                    AS DOUBLE) AS purchases_prior,
               CAST(coalesce(sum(amt) FILTER (WHERE day > {cut} - {w}), 0) AS DOUBLE)
                    AS spend_recent,
               CAST(coalesce(sum(amt) FILTER (WHERE day > {cut} - {2 * w}
                    AND day <= {cut} - {w}), 0) AS DOUBLE) AS spend_prior,
               CAST(sum(amt) AS DOUBLE) AS spend_total,
               CAST(arg_min(amt, day) AS DOUBLE) AS first_spend
        FROM d WHERE day <= {cut} GROUP BY cust ORDER BY cust
        """
        arrays = self._con.execute(sql).fetchnumpy()
        cust = arrays.pop("cust")
        # DuckDB hands NULLs (the gaps of one-time buyers) over as masked arrays: make them NaN.
        a = {k: np.ma.asarray(v).astype(float).filled(np.nan) for k, v in arrays.items()}
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
                index=pd.Index(np.asarray(cust), name=self.customer_col),
            )
        out = out.replace([np.inf, -np.inf], np.nan)
        out.attrs["trend_days"] = w
        if btyd:
            x = out["purchases"].to_numpy() - 1.0
            tx = a["span_days"] / DAYS_PER_WEEK
            T = out["tenure_days"].to_numpy() / DAYS_PER_WEEK
            bt = btyd_features(x, tx, T, horizon_days / DAYS_PER_WEEK)
            for col in bt.columns:
                out[col] = bt[col].to_numpy()
        return out

    def labels(self, cutoff: Any, horizon_days: int, customers: pd.Index) -> pd.Series:
        """1 if a customer of ``customers`` made no purchase in (cutoff, cutoff + horizon]."""
        cut = pd.Timestamp(cutoff)
        end = cut + pd.Timedelta(days=int(horizon_days))
        bought = self._con.execute(
            f"SELECT DISTINCT cust FROM d WHERE day > {_lit_date(cut)} AND day <= {_lit_date(end)}"
        ).fetchnumpy()["cust"]
        churn = ~customers.isin(np.asarray(bought))
        return pd.Series(churn.astype(np.int8), index=customers, name="churn")


def btyd_features(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, horizon: float
) -> pd.DataFrame:
    r"""BTYD churn features: MBG/NBD and BG/NBD fitted on these customers, then per customer
    ``p_alive_*``, ``expected_purchases_*`` (in the next ``horizon``) and ``p_no_purchase_*``.

    For both models a living customer's purchase rate given :math:`(x, t_x, T)` is
    :math:`\mathrm{Gamma}(r+x, \alpha+T)` and they cannot drop out without buying, so

    .. math::
        P(Y(h) = 0 \mid x, t_x, T) = 1 - P(\text{alive})
            + P(\text{alive})\left(\frac{\alpha+T}{\alpha+T+h}\right)^{r+x}.

    Times are in the same unit as ``horizon`` (weeks in :class:`TransactionLog`). A model that
    cannot be fitted (too few repeat buyers) gives NaN columns, which gradient boosting accepts.
    """
    x, tx, Tn = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    (ux, utx, uT), inverse = _unique_rows([x, tx, Tn])
    cols: dict[str, np.ndarray] = {}
    for name, cls in (("mbgnbd", ModifiedBetaGeoModel), ("bgnbd", BetaGeoModel)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                model = cls().fit(x, tx, Tn)
                pa = model.probability_alive(ux, utx, uT)
                ey = model.conditional_expected_purchases(horizon, ux, utx, uT)
            r, alpha = model.params_["r"], model.params_["alpha"]
            stay = np.exp((r + ux) * (np.log(alpha + uT) - np.log(alpha + uT + horizon)))
            p0 = 1.0 - pa + pa * stay
        except (ValueError, RuntimeError, FloatingPointError):
            pa = ey = p0 = np.full(len(ux), np.nan)
        cols[f"p_alive_{name}"] = pa[inverse]
        cols[f"expected_purchases_{name}"] = ey[inverse]
        cols[f"p_no_purchase_{name}"] = p0[inverse]
    return pd.DataFrame(cols)
