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

from retento.analytics.btyd import BetaGeoModel
from retento.analytics.btyd_base import _unique_rows
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
    # Only with a quantity column (items per order, e.g. CDNOW's number of CDs).
    "quantity": [
        "units_per_order",
        "units_total",
        "units_last",
        "units_recent",
        "units_prior",
        "units_trend",
        "spend_per_unit",
    ],
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
    quantity_col : str, optional
        Items per transaction (e.g. the number of CDs). With it the features add the
        ``quantity`` group: items per purchase, in total, on the last purchase, in the recent
        and prior windows and their difference, and spend per item. Bad values are refused
        like bad amounts (naming the column and row).

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
        quantity_col: str | None = None,
    ) -> None:
        self.customer_col = customer_col
        self.has_quantity = quantity_col is not None
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        try:
            source = load_checked(con, transactions, customer_col, date_col, amount_col)
            days = "SELECT cust, day, sum(amt) AS amt, 0.0 AS qty FROM t GROUP BY cust, day"
            if quantity_col is not None:
                # The quantity is checked and parsed like an amount, by a second pass over the
                # source; both are summed per customer and day, so they join one to one.
                con.execute(
                    "CREATE TEMP TABLE da AS SELECT cust, day, sum(amt) AS amt FROM t "
                    "GROUP BY cust, day"
                )
                con.execute("DROP TABLE t")
                con.execute("DROP VIEW IF EXISTS src")
                load_checked(con, transactions, customer_col, date_col, quantity_col)
                days = (
                    "SELECT da.cust, da.day, da.amt, CAST(q.qty AS DOUBLE) AS qty FROM da JOIN "
                    "(SELECT cust, day, sum(amt) AS qty FROM t GROUP BY cust, day) q "
                    "ON q.cust = da.cust AND q.day = da.day"
                )
            # The gap since the customer's previous purchase day does not depend on the cut-off
            # (the previous day of a day <= c is <= c too): compute it once here instead of in a
            # window function for every cut-off's features.
            con.execute(
                f"""
                CREATE TEMP TABLE d AS
                SELECT cust, day, amt, qty,
                       date_diff('day', lag(day) OVER (PARTITION BY cust ORDER BY day), day) AS gap
                FROM ({days})
                """
            )
            con.execute("DROP TABLE t")
            con.execute("DROP TABLE IF EXISTS da")
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

        With a quantity column, also ``units_per_order`` (items per purchase day),
        ``units_total``, ``units_last`` (on the last purchase day), ``units_recent`` /
        ``units_prior`` / ``units_trend`` (as for purchases) and ``spend_per_unit``.
        """
        cut = _lit_date(cutoff)
        w = int(trend_days)
        units = (
            f""",
               CAST(sum(qty) AS DOUBLE) AS units_total,
               CAST(arg_max(qty, day) AS DOUBLE) AS units_last,
               CAST(coalesce(sum(qty) FILTER (WHERE day > {cut} - {w}), 0) AS DOUBLE)
                    AS units_recent,
               CAST(coalesce(sum(qty) FILTER (WHERE day > {cut} - {2 * w}
                    AND day <= {cut} - {w}), 0) AS DOUBLE) AS units_prior"""
            if self.has_quantity
            else ""
        )
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
               CAST(arg_min(amt, day) AS DOUBLE) AS first_spend{units}
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
            if self.has_quantity:
                out["units_per_order"] = a["units_total"] / a["purchases"]
                out["units_total"] = a["units_total"]
                out["units_last"] = a["units_last"]
                out["units_recent"] = a["units_recent"]
                out["units_prior"] = a["units_prior"]
                out["units_trend"] = a["units_recent"] - a["units_prior"]
                out["spend_per_unit"] = np.where(
                    a["units_total"] > 0, a["spend_total"] / a["units_total"], np.nan
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
