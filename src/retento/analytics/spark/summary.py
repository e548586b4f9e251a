r"""The BTYD customer summary (x, t_x, T, monetary) by Spark SQL.

The same definitions, date parsing and bad-value checks as the DuckDB path
(:func:`retento.analytics.summarize`), so both engines give the same rows:

* same-day purchases of a customer are merged into one (amounts summed);
* :math:`x` = repeat purchase days, :math:`t_x = d_x - d_0`, :math:`T = \tau - d_0` for purchase
  days :math:`d_0 < \dots < d_x \le \tau` (the calibration end), in days or weeks;
* ``monetary`` = mean value of the repeat purchase days (0 when x = 0);
* with a calibration end, ``frequency_holdout``, ``monetary_holdout`` and
  ``duration_holdout`` describe the days after it.

Reference: Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the
easy way. *Marketing Science* 24(2), 275-284.
"""

from __future__ import annotations

import os
from typing import Any

from retento.analytics.errors import SummaryInputError
from retento.analytics.spark.session import read_table

__all__ = ["customer_summary", "load_transactions", "summarize"]

_UNIT_DAYS = {"D": 1.0, "W": 7.0}
# The formats DuckDB's path accepts (analytics.summary._DATE_FORMATS), in Spark's notation.
_DATE_FORMATS = ["yyyyMMdd", "yyyy/MM/dd", "yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss"]


def _q(name: str) -> str:
    return "`" + str(name).replace("`", "``") + "`"


def _date_expr(col: str, dtype: str) -> str:
    c = _q(col)
    if dtype in ("date", "timestamp", "timestamp_ntz"):
        return f"CAST({c} AS DATE)"
    if dtype in ("int", "bigint", "smallint"):
        return f"CAST(try_to_timestamp(CAST({c} AS STRING), 'yyyyMMdd') AS DATE)"
    parsed = ", ".join(f"try_to_timestamp(trim(CAST({c} AS STRING)), '{f}')" for f in _DATE_FORMATS)
    return f"CAST(coalesce(try_cast(trim(CAST({c} AS STRING)) AS TIMESTAMP), {parsed}) AS DATE)"


def load_transactions(
    spark: Any,
    source: Any,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    *,
    jdbc_table: str | None = None,
    jdbc_properties: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The checked transactions as a cached Spark DataFrame ``(cust, day, amt, ...)``.

    Reads ``source`` (:func:`~retento.analytics.spark.read_table`), parses dates (date or
    timestamp columns, ``yyyymmdd`` integers, ISO and ``yyyy/mm/dd`` text) and amounts, and
    refuses the first bad value with :class:`~retento.analytics.SummaryInputError` naming the
    column and data row, as the DuckDB path does. Customer ids read as text that are all
    integers become integers (as DuckDB's CSV reader makes them). ``extra`` maps more output
    names to numeric source columns (checked like the amount). Returns the frame and
    ``{"rows", "first_day", "last_day", "source"}``.
    """
    from pyspark import StorageLevel

    extra = dict(extra or {})
    cols = [customer_col, date_col] + ([amount_col] if amount_col else []) + list(extra.values())
    raw = read_table(
        spark, source, columns=cols, jdbc_table=jdbc_table, jdbc_properties=jdbc_properties
    )
    name = source if isinstance(source, str | os.PathLike) else "DataFrame"
    types = dict(raw.dtypes)
    c = _q(customer_col)
    amt = f"try_cast({_q(amount_col)} AS DOUBLE)" if amount_col else "0.0D"
    checks = {
        "bad_cust": (customer_col, f"{c} IS NULL", "a missing customer id"),
        "bad_day": (date_col, f"{_date_expr(date_col, types[date_col])} IS NULL",
                    "a missing or unparseable date"),
    }  # fmt: skip
    if amount_col:
        checks["bad_amt"] = (amount_col, f"{amt} IS NULL", "a missing or non-numeric amount")
    for out, col in extra.items():
        checks[f"bad_{out}"] = (col, f"try_cast({_q(col)} AS DOUBLE) IS NULL",
                                "a missing or non-numeric value")  # fmt: skip
    text_ids = types[customer_col] == "string"
    int_id = f"{c} RLIKE '^ *-?[0-9]{{1,18}} *$'"
    stats = raw.selectExpr(
        "count(*) AS n",
        *(f"count_if({cond}) AS {flag}" for flag, (_, cond, _) in checks.items()),
        f"count_if(NOT ({int_id})) AS non_int" if text_ids else "0 AS non_int",
        f"min({_date_expr(date_col, types[date_col])}) AS first_day",
        f"max({_date_expr(date_col, types[date_col])}) AS last_day",
    ).first()
    if stats["n"] == 0:
        raise SummaryInputError(f"No transactions in {name}")
    for flag, (col, cond, what) in checks.items():
        if stats[flag]:
            row = _first_row_where(raw, cond)
            raise SummaryInputError(
                f"Column {col!r} has {what} on data row {row} of {name} "
                f"({stats[flag]} bad row(s) in total)"
            )
    cust = f"CAST(trim({c}) AS BIGINT)" if text_ids and stats["non_int"] == 0 else c
    selected = [
        f"{cust} AS cust",
        f"{_date_expr(date_col, types[date_col])} AS day",
        f"{amt} AS amt",
        *(f"try_cast({_q(col)} AS DOUBLE) AS {_q(out)}" for out, col in extra.items()),
    ]
    # Cached when the first aggregation reads it: the check above was the only other pass.
    t = raw.selectExpr(*selected).persist(StorageLevel.MEMORY_AND_DISK)
    info = {"rows": int(stats["n"]), "first_day": stats["first_day"],
            "last_day": stats["last_day"], "source": name}  # fmt: skip
    return t, info


def _first_row_where(frame: Any, condition: str) -> int:
    """1-based position of the first row meeting ``condition`` (in the source's order; only
    computed when a bad value was found)."""
    from pyspark.sql import functions as F

    flagged = frame.select(F.expr(condition).alias("bad"))
    hit = flagged.rdd.zipWithIndex().filter(lambda r: r[0]["bad"]).map(lambda r: r[1]).take(1)
    return int(hit[0]) + 1 if hit else 0


def _lit_date(value: Any) -> str:
    import pandas as pd

    return "DATE'" + pd.Timestamp(value).strftime("%Y-%m-%d") + "'"


def customer_summary(
    spark: Any,
    source: Any,
    customer_col: str,
    datetime_col: str,
    monetary_col: str | None = None,
    *,
    freq: str = "D",
    calibration_end: Any = None,
    observation_end: Any = None,
    jdbc_table: str | None = None,
    jdbc_properties: dict[str, str] | None = None,
) -> Any:
    """The summary as a Spark DataFrame, one row per customer (not collected).

    Columns: ``customer_col``, ``frequency``, ``recency``, ``T``, ``monetary`` and, with
    ``calibration_end``, ``frequency_holdout``, ``monetary_holdout``, ``duration_holdout``.
    Parameters as :func:`retento.analytics.summarize`; ``source`` as
    :func:`~retento.analytics.spark.read_table`.
    """
    if freq not in _UNIT_DAYS:
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}")
    unit = _UNIT_DAYS[freq]
    t, info = load_transactions(
        spark,
        source,
        customer_col,
        datetime_col,
        monetary_col,
        jdbc_table=jdbc_table,
        jdbc_properties=jdbc_properties,
    )
    obs = _lit_date(observation_end if observation_end is not None else info["last_day"])
    cal = _lit_date(calibration_end) if calibration_end is not None else obs
    t.createOrReplaceTempView("retento_t")
    holdout = calibration_end is not None
    hold_cols = (
        f""",
               CAST(coalesce(n_h, 0) AS DOUBLE) AS frequency_holdout,
               CASE WHEN n_h > 0 THEN total_h / n_h ELSE 0.0D END AS monetary_holdout,
               datediff({obs}, {cal}) / {unit}D AS duration_holdout"""
        if holdout
        else ""
    )
    # One aggregation by (customer, day) merges same-day purchases; one by customer gives the
    # calibration and holdout statistics together (FILTER clauses), so the data are shuffled
    # twice, not three times.
    sql = f"""
        WITH days AS (
            SELECT cust, day, sum(amt) AS amt FROM retento_t WHERE day <= {obs}
            GROUP BY cust, day
        ), agg AS (
            SELECT cust,
                   count_if(day <= {cal}) AS n,
                   min(day) FILTER (WHERE day <= {cal}) AS first_day,
                   max(day) FILTER (WHERE day <= {cal}) AS last_day,
                   sum(amt) FILTER (WHERE day <= {cal}) AS total,
                   min_by(amt, day) AS first_amt,
                   count_if(day > {cal}) AS n_h,
                   sum(amt) FILTER (WHERE day > {cal}) AS total_h
            FROM days GROUP BY cust
        )
        SELECT cust AS {_q(customer_col)},
               CAST(n - 1 AS DOUBLE) AS frequency,
               datediff(last_day, first_day) / {unit}D AS recency,
               datediff({cal}, first_day) / {unit}D AS T,
               CASE WHEN n > 1 THEN (total - first_amt) / (n - 1) ELSE 0.0D END AS monetary
               {hold_cols}
        FROM agg WHERE n > 0
    """
    return spark.sql(sql)


def summarize(
    transactions: Any,
    customer_col: str,
    datetime_col: str,
    monetary_col: str | None = None,
    *,
    freq: str = "D",
    calibration_end: Any = None,
    observation_end: Any = None,
    spark: Any = None,
) -> Any:
    """:func:`retento.analytics.summarize` computed by Spark: the same pandas DataFrame.

    Indexed by customer, sorted, with ``frequency``, ``recency``, ``T``, ``monetary`` (and the
    holdout columns with ``calibration_end``). ``spark`` defaults to :func:`get_spark`.
    """
    import numpy as np
    import pandas as pd

    from retento.analytics.spark.session import get_spark

    spark = spark or get_spark()
    frame = customer_summary(
        spark,
        transactions,
        customer_col,
        datetime_col,
        monetary_col,
        freq=freq,
        calibration_end=calibration_end,
        observation_end=observation_end,
    )
    out = frame.toPandas()
    if len(out) == 0:
        end = calibration_end if calibration_end is not None else observation_end
        raise SummaryInputError(f"No customer made a first purchase by {end}")
    out = out.set_index(customer_col).sort_index()
    for col in out.columns:
        out[col] = np.asarray(out[col], dtype=float)
    out.index = pd.Index(out.index.to_numpy(), name=customer_col)
    return out
