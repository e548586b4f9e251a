r"""RFM scoring: recency, frequency and monetary scores per customer.

Each dimension is scored 1..``bins`` (``bins`` best) from the customer's percentile rank, so
the scores are quantile scores ("quintiles" for ``bins=5``) that never fail on heavily tied data,
unlike :func:`pandas.qcut` on a population of one-time buyers.

References
----------
Hughes, A. M. (1994). *Strategic Database Marketing*. Probus.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from retento.analytics.value import datetimes, numeric, require_columns, timestamp

__all__ = ["rfm_scores"]

_MAX_BINS = 100


def _scores(values: np.ndarray, bins: int) -> np.ndarray:
    r"""Scores 1..bins, higher values score higher: :math:`\lceil (\bar r - 1/2) b / n \rceil`.

    :math:`\bar r` is the average rank of the value (1 = lowest, ties share the mean of their
    ranks), so :math:`(\bar r - 1/2)/n` is the midpoint of the percentile interval the value's
    group occupies. Computed in integers (:math:`2\bar r - 1` is an integer), so boundaries are
    exact; a midpoint exactly on a boundary takes the lower score.
    """
    n = len(values)
    twice_rank = (pd.Series(values).rank(method="average").to_numpy() * 2).round().astype(np.int64)
    return (((twice_rank - 1) * bins + 2 * n - 1) // (2 * n)).clip(1, bins)


def _cells(r: np.ndarray, f: np.ndarray, m: np.ndarray, bins: int) -> np.ndarray:
    """The cell label per customer ("555"; "10-3-7" when a score can have two digits)."""
    code = ((r - 1) * bins + (f - 1)) * bins + (m - 1)
    uniq, inverse = np.unique(code, return_inverse=True)
    sep = "" if bins <= 9 else "-"
    labels = np.array(
        [
            sep.join(str(x) for x in (c // (bins * bins) + 1, c // bins % bins + 1, c % bins + 1))
            for c in uniq.tolist()
        ],
        dtype=object,
    )
    return labels[inverse]


def _summarise_transactions(
    tx: pd.DataFrame,
    customer_col: str,
    datetime_col: str,
    amount_col: str,
    as_of: Any,
    monetary: str,
) -> pd.DataFrame:
    require_columns(tx, [customer_col, datetime_col, amount_col], "transactions")
    if tx[customer_col].isna().any():
        raise ValueError(
            f"column {customer_col!r} has {int(tx[customer_col].isna().sum())} missing id(s)"
        )
    dates = datetimes(tx[datetime_col], datetime_col)
    amounts = numeric(tx[amount_col], amount_col)
    end = dates.max() if as_of is None else timestamp(as_of, "as_of")
    df = pd.DataFrame(
        {"c": tx[customer_col].to_numpy(), "d": dates.to_numpy(), "a": amounts.to_numpy()}
    )
    g = df.groupby("c", sort=True)
    last = g["d"].max()
    out = pd.DataFrame(
        {
            "recency_days": (end - last).dt.total_seconds().to_numpy() / 86400.0,
            "frequency": g.size().to_numpy(),
            "monetary": (g["a"].sum() if monetary == "sum" else g["a"].mean()).to_numpy(),
        },
        index=last.index,
    )
    out.index.name = customer_col
    if (out["recency_days"] < 0).any():
        raise ValueError(f"as_of {end} is before the last purchase in column {datetime_col!r}")
    return out


def rfm_scores(
    data: pd.DataFrame,
    recency_col: str = "days_since_last",
    frequency_col: str = "order_count",
    monetary_col: str = "revenue",
    *,
    bins: int = 5,
    customer_col: str | None = None,
    datetime_col: str | None = None,
    amount_col: str | None = None,
    as_of: Any = None,
    monetary: Literal["sum", "mean"] = "sum",
) -> pd.DataFrame:
    r"""Recency, frequency and monetary scores 1..``bins`` per customer, the cell and the total.

    Each dimension is scored by percentile rank: with :math:`\bar r` the average rank of a
    customer's value among the :math:`n` customers (1 = lowest; tied values share the mean of
    their ranks), the score is :math:`\lceil (\bar r - \tfrac12) \cdot \text{bins} / n \rceil`,
    i.e. the bin holding the midpoint of the percentile interval that the value (or its tied
    group) occupies; a midpoint exactly on a bin boundary takes the lower score. Without ties
    this cuts the customers into ``bins`` equal groups (quintiles for ``bins=5``) when ``n`` is
    a multiple of ``bins``, and spreads them symmetrically otherwise. Tied values always get the
    same score, so a population of many one-time buyers gets one frequency score (where the
    middle of the group falls) instead of a :func:`pandas.qcut` error or an arbitrary split; if
    every value is equal, or there is one customer, everyone gets the middle score.
    ``bins`` is the best score: the most frequent and highest-spending customers, and for
    recency the customers who bought most recently (fewest days since the last purchase).

    Two input forms:

    - **Summary** (default): one row per customer with the columns ``recency_col`` (days since
      the last purchase), ``frequency_col`` (number of purchases) and ``monetary_col`` (spend).
      Customers without any purchase have no recency: filter them out first.
    - **Transactions**: pass ``customer_col``, ``datetime_col`` and ``amount_col``; one row per
      purchase. Recency is measured in days from the last purchase to ``as_of`` (default: the
      latest purchase in the data), frequency is the number of rows, monetary the ``monetary``
      (``"sum"`` or ``"mean"``) of ``amount_col``.

    Parameters
    ----------
    data : pandas.DataFrame
        Per-customer summary or transaction log (see above).
    recency_col, frequency_col, monetary_col : str
        Summary columns (ignored for transactions).
    bins : int
        Number of scores, 2..100 (5 = quintiles).
    customer_col, datetime_col, amount_col : str, optional
        Transaction columns; giving ``customer_col`` selects the transaction form.
    as_of : date-like, optional
        Reference date for recency in the transaction form.
    monetary : {"sum", "mean"}
        Total or average spend per customer in the transaction form.

    Returns
    -------
    pandas.DataFrame
        Columns ``r``, ``f``, ``m`` (int scores), ``cell`` (e.g. ``"555"``; with ``bins > 9``
        the scores are joined by ``"-"``, e.g. ``"10-3-7"``) and ``score`` (r + f + m). Summary
        form: same index as ``data``. Transaction form: indexed by customer (sorted) and also
        holding the derived ``recency_days``, ``frequency`` and ``monetary``.

    Raises
    ------
    ValueError
        Missing column or empty input (naming the column), missing/non-numeric/negative
        recency or frequency, invalid ``bins``.

    Examples
    --------
    >>> df = pd.DataFrame({"days_since_last": [3, 40, 300], "order_count": [9, 2, 1],
    ...                    "revenue": [900.0, 80.0, 20.0]})
    >>> rfm_scores(df, bins=3)["cell"].tolist()
    ['333', '222', '111']
    """
    if (
        isinstance(bins, bool)
        or not isinstance(bins, int | np.integer)
        or not 2 <= bins <= _MAX_BINS
    ):
        raise ValueError(f"bins must be an integer from 2 to {_MAX_BINS}, got {bins!r}")
    if monetary not in ("sum", "mean"):
        raise ValueError(f"monetary must be 'sum' or 'mean', got {monetary!r}")
    bins = int(bins)
    if customer_col is not None:
        if datetime_col is None or amount_col is None:
            raise ValueError("the transaction form needs customer_col, datetime_col and amount_col")
        base = _summarise_transactions(
            data, customer_col, datetime_col, amount_col, as_of, monetary
        )
        rec, freq, mon = base["recency_days"], base["frequency"], base["monetary"]
        index = base.index
    else:
        require_columns(data, [recency_col, frequency_col, monetary_col], "the RFM summary")
        rec = numeric(data[recency_col], recency_col, allow_negative=False)
        freq = numeric(data[frequency_col], frequency_col, allow_negative=False)
        mon = numeric(data[monetary_col], monetary_col)
        index = data.index
        base = None
    r = _scores(-rec.to_numpy(), bins)  # fewer days since the last purchase is better
    f = _scores(freq.to_numpy(), bins)
    m = _scores(mon.to_numpy(), bins)
    out = pd.DataFrame(
        {"r": r, "f": f, "m": m, "cell": _cells(r, f, m, bins), "score": r + f + m},
        index=index,
    )
    if base is not None:
        out = pd.concat([base, out], axis=1)
    return out
