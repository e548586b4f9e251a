"""RFM summary of a transaction log in the "buy 'til you die" (BTYD) convention.

The summary is computed with DuckDB SQL, so a CSV or Parquet file with tens of millions of
transactions never passes through Python row by row.

Definitions (Fader, Hardie & Lee 2005):

* Same-day purchases of a customer are merged into one transaction (amounts summed).
* ``frequency`` (x) is the number of *repeat* purchase days in the calibration period.
* ``recency`` (t_x) is the time between the first and the last purchase day.
* ``T`` is the time between the first purchase and the end of the calibration period.
* ``monetary`` is the mean value of the repeat purchase days (0 when x = 0).
* Times are in days (``freq="D"``) or weeks (``freq="W"``: days / 7, not rounded).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from retento.analytics.errors import (
    SummaryInputError,  # noqa: F401 (re-exported)
    reader_reason,
)

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported where it is needed, after DuckDB has read the file: `retento analyze clv`
# imports it in a thread meanwhile (DuckDB releases the GIL), which saves ~0.2 s of start-up.

__all__ = ["SummaryInputError", "summarize"]

_UNIT_DAYS = {"D": 1.0, "W": 7.0}
_DATE_FORMATS = ["%Y%m%d", "%Y/%m/%d", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit_date(value: Any) -> str:
    import pandas as pd

    return "DATE '" + pd.Timestamp(value).strftime("%Y-%m-%d") + "'"


def _register_source(
    con: duckdb.DuckDBPyConnection, transactions: Any, columns: list[str], text: bool = False
) -> str:
    """Make the relation ``src`` available; returns a human-readable source name.

    With ``text=True`` the CSV columns after the first in ``columns`` are read as text, so that
    a bad value is found with its row number instead of aborting DuckDB's typed CSV reader.
    """
    return _register_typed(con, transactions, columns, text)[0]


def _register_typed(
    con: duckdb.DuckDBPyConnection, transactions: Any, columns: list[str], text: bool = False
) -> tuple[str, dict[str, str]]:
    """:func:`_register_source`, also returning the column types of ``src``.

    A typed CSV's types come from the ``DESCRIBE`` that checks its columns: describing the view
    again would sniff the file once more (~0.03 s of CPU and ~0.08 s of wall time each).
    """
    if not isinstance(transactions, str | os.PathLike):
        # Not a path: a DataFrame (pandas is then fully imported: importing it is a no-op).
        import pandas as pd

        if not isinstance(transactions, pd.DataFrame):
            raise TypeError(
                "transactions must be a pandas DataFrame or a path to a CSV/Parquet file"
            )
        con.register("src_df", transactions)
        con.execute("CREATE VIEW src AS SELECT * FROM src_df")
        return "DataFrame", _describe(con)
    path = Path(transactions)
    if not path.exists():
        raise SummaryInputError(f"File not found: {path}")
    if path.stat().st_size == 0:
        raise SummaryInputError(f"File is empty: {path}")
    sp = str(path).replace("'", "''")
    if path.suffix.lower() in {".parquet", ".pq"}:
        con.execute(f"CREATE VIEW src AS SELECT * FROM read_parquet('{sp}')")
        return str(path), _describe(con)
    try:
        described = {
            r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_csv('{sp}')").fetchall()
        }
    except duckdb.Error as exc:
        raise SummaryInputError(f"Cannot read {path} as CSV: {reader_reason(exc)}") from None
    cols = list(described)
    missing = [c for c in columns if c not in cols]
    if missing:
        raise SummaryInputError(
            f"Column {missing[0]!r} not found in {path}; columns are: {', '.join(cols)}"
        )
    if text:
        types = ", ".join(f"{_q(c)[1:-1]!r}: 'VARCHAR'" for c in columns[1:])
        con.execute(f"CREATE VIEW src AS SELECT * FROM read_csv('{sp}', types={{{types}}})")
        return str(path), _describe(con)
    con.execute(f"CREATE VIEW src AS SELECT * FROM read_csv('{sp}')")
    return str(path), described


def _describe(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute("DESCRIBE src").fetchall()}


def _materialize(
    con: duckdb.DuckDBPyConnection, transactions: Any, columns: list[str], *, text: bool
) -> str:
    """Create the table ``t`` (cust, day, amt and bad-value flags) from the source."""
    customer_col, datetime_col = columns[0], columns[1]
    monetary_col = columns[2] if len(columns) > 2 else None
    source, described = _register_typed(con, transactions, columns, text=text)
    missing = [c for c in columns if c not in described]
    if missing:
        raise SummaryInputError(
            f"Column {missing[0]!r} not found in {source}; columns are: " + ", ".join(described)
        )
    d_expr = _date_expr(datetime_col, described[datetime_col])
    m_expr = _amount_expr(monetary_col, described[monetary_col] if monetary_col else "")
    # A missing or unparseable value is NULL after parsing (the parsers return NULL for NULL),
    # so the checks count NULLs of ``t`` instead of storing flag columns for every row.
    con.execute(
        f"CREATE TEMP TABLE t AS SELECT {_q(customer_col)} AS cust, {d_expr} AS day, "
        f"{m_expr} AS amt FROM src"
    )
    return source


def _date_expr(col: str, dtype: str) -> str:
    c = _q(col)
    dtype = dtype.upper()
    if dtype.startswith("DATE") or dtype.startswith("TIMESTAMP"):
        return f"CAST({c} AS DATE)"
    if dtype in {"BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "UINTEGER"}:
        return f"CAST(try_strptime(CAST({c} AS VARCHAR), '%Y%m%d') AS DATE)"
    fmts = ", ".join(f"'{f}'" for f in _DATE_FORMATS)
    return (
        f"CAST(COALESCE(TRY_CAST({c} AS TIMESTAMP), "
        f"try_strptime(CAST({c} AS VARCHAR), [{fmts}])) AS DATE)"
    )


_NUMERIC_TYPES = (
    "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC", "BIGINT", "INTEGER", "SMALLINT", "TINYINT",
    "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "UHUGEINT",
)  # fmt: skip


def _amount_expr(col: str | None, dtype: str = "") -> str:
    if col is None:
        return "0.0"
    c = _q(col)
    if dtype.upper().startswith(_NUMERIC_TYPES):
        # Already numeric (CSV reader's type, Parquet, DataFrame): the cast cannot fail and a
        # missing value stays NULL. The CASE below costs ~0.3 s of CPU per 10 M rows.
        return f"CAST({c} AS DOUBLE)"
    # Written as a CASE so that DuckDB does not push the cast into the CSV reader as the
    # column's type (it then fails on the first bad value instead of giving NULL).
    return f"CASE WHEN {c} IS NULL THEN NULL ELSE TRY_CAST({c} AS DOUBLE) END"


def summarize(
    transactions: pd.DataFrame | str | os.PathLike[str],
    customer_col: str,
    datetime_col: str,
    monetary_col: str | None = None,
    *,
    freq: str = "D",
    calibration_end: Any = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    r"""Summarise a transaction log into BTYD frequency, recency, T and monetary value.

    Parameters
    ----------
    transactions : DataFrame or path
        One row per transaction. A path is read through DuckDB (``.csv`` or ``.parquet``).
    customer_col, datetime_col, monetary_col : str
        Column names. ``monetary_col`` may be ``None`` (then ``monetary`` is 0).
    freq : {"D", "W"}
        Time unit of ``recency``, ``T`` and ``duration_holdout``: days, or weeks (= days / 7).
    calibration_end : date-like, optional
        Last day of the calibration period. When given, transactions after it form the holdout
        period and the columns ``frequency_holdout``, ``monetary_holdout`` and
        ``duration_holdout`` are added. Customers whose first purchase is after it are dropped.
    observation_end : date-like, optional
        Last day observed; defaults to the latest transaction date.

    Returns
    -------
    DataFrame
        Indexed by customer, sorted, with columns ``frequency`` (x), ``recency`` (:math:`t_x`),
        ``T`` and ``monetary`` (mean repeat-day spend), plus the holdout columns if requested.

    Raises
    ------
    SummaryInputError
        Missing column, unparseable date or amount (the message names the row), or no data.

    Notes
    -----
    With same-day purchases merged, for a customer with purchase days :math:`d_0 < \dots < d_x`
    before the calibration end :math:`\tau`: :math:`x`, :math:`t_x = d_x - d_0` and
    :math:`T = \tau - d_0`, converted to the unit ``freq``.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way:
    an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
    """
    if freq not in _UNIT_DAYS:
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}")
    unit = _UNIT_DAYS[freq]
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        _, (min_day, max_day, approx_customers) = _load_checked(
            con, transactions, customer_col, datetime_col, monetary_col
        )
        obs_end = _lit_date(observation_end if observation_end is not None else max_day)
        cal_end = _lit_date(calibration_end) if calibration_end is not None else obs_end
        holdout = calibration_end is not None
        if holdout and _date_of(cal_end) > _date_of(obs_end):
            # T would run past the data (everyone looks gone) and the holdout be negative.
            raise SummaryInputError(
                f"The calibration end {cal_end[6:-1]} is after the end of the observation "
                f"{obs_end[6:-1]}: there is no holdout period"
            )
        span = (max_day - min_day).days + 1
        # Integer ids are sorted by NumPy after the fetch (~0.05 s of CPU per million customers
        # against ~0.25 s for DuckDB's ORDER BY); other types in SQL, in DuckDB's order.
        sql_order = _column_type(con, "t", "cust") not in _NUMPY_SORTABLE
        if not sql_order:
            _use_perfect_hash(con, approx_customers)
        if span <= _BITSET_MAX_DAYS and approx_customers * span <= _BITSET_MAX_BITS:
            sql = _summary_sql_bitset(
                min_day, span, unit, cal_end, obs_end, holdout=holdout, order=sql_order
            )
        else:
            sql = _summary_sql_days(unit, cal_end, obs_end, holdout=holdout, order=sql_order)
        arrays = con.execute(sql).fetchnumpy()
    finally:
        con.close()
    import pandas as pd

    cust = np.asarray(arrays.pop("cust"))
    if not sql_order:
        order = np.argsort(cust)  # the ids are distinct (grouped by): no stability needed
        cust = cust[order]
        arrays = {k: np.asarray(v)[order] for k, v in arrays.items()}
    index = pd.Index(np.asarray(cust), name=customer_col)
    keep = ["frequency", "recency", "T", "monetary"]
    if holdout:
        keep += ["frequency_holdout", "monetary_holdout", "duration_holdout"]
    # The arrays are fresh and owned here: the frame takes them as they are (pandas would
    # otherwise copy them into one block, ~0.07 s of CPU per million customers).
    out = pd.DataFrame(
        {k: np.asarray(arrays[k], dtype=float) for k in keep}, index=index, copy=False
    )
    if len(out) == 0:
        raise SummaryInputError(f"No customer made a first purchase by {cal_end[6:-1]}")
    return out


# DuckDB integer types that fetchnumpy returns as NumPy integers of the same order.
_NUMPY_SORTABLE = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)


# Dense integer ids are grouped through an array indexed by id instead of a hash table
# (DuckDB's perfect hash aggregation, ~0.3 s of CPU less per 10 M rows): when the id range is
# at most this many times the number of customers, and each DuckDB thread's array has at most
# 2^23 / threads slots (~40 bytes each: 0.17 GB in all for 1 M ids on 2 threads).
_PERFECT_HASH_DENSITY = 4
_PERFECT_HASH_MAX_BITS = 23


def _use_perfect_hash(con: duckdb.DuckDBPyConnection, approx_customers: int) -> None:
    """Let DuckDB group integer customer ids of ``t`` by perfect hashing when they are dense."""
    low, high, threads = con.execute(
        "SELECT min(cust), max(cust), current_setting('threads') FROM t"
    ).fetchone()
    if low is None:
        return
    ids = int(high) - int(low) + 1
    bits = ids.bit_length() + 1  # DuckDB reserves one more bit for NULL
    max_bits = _PERFECT_HASH_MAX_BITS - max(int(threads) - 1, 0).bit_length()
    if 12 < bits <= max_bits and ids <= _PERFECT_HASH_DENSITY * approx_customers:
        con.execute(f"SET perfect_ht_threshold = {bits}")  # DuckDB's default is 12 bits


def _column_type(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str:
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    return str(types[column]).upper()


# Distinct purchase days per customer are counted with a bitset over the file's day span
# (DuckDB's bitstring_agg) when it stays small: one hash aggregation by customer instead of a
# second one by (customer, day), which over 10 M rows cost more than reading the file.
_BITSET_MAX_DAYS = 20_000
_BITSET_MAX_BITS = 4 * 8 * 2**30  # about 4 GB of bitsets at most (1 M customers x 55 years)


def _summary_select(unit: float, cal_end: str, obs_end: str, *, holdout: bool = True) -> str:
    holdout_cols = (
        f""",
               CAST(coalesce(n_h, 0) AS DOUBLE) AS frequency_holdout,
               CASE WHEN n_h > 0 THEN total_h / n_h ELSE 0.0 END AS monetary_holdout,
               date_diff('day', {cal_end}, {obs_end}) / {unit} AS duration_holdout"""
        if holdout
        else ""
    )
    return f"""
        SELECT cal.cust AS cust,
               CAST(n - 1 AS DOUBLE) AS frequency,
               date_diff('day', first_day, last_day) / {unit} AS recency,
               date_diff('day', first_day, {cal_end}) / {unit} AS T,
               CASE WHEN n > 1 THEN (total - first_amt) / (n - 1) ELSE 0.0 END AS monetary
               {holdout_cols}
        """


def _summary_from(holdout: bool, order: bool) -> str:
    """``FROM`` of the final select: the holdout aggregation joined only when asked for."""
    join = " LEFT JOIN hold ON cal.cust = hold.cust" if holdout else ""
    return f"FROM cal{join}" + (" ORDER BY cal.cust" if order else "")


def _summary_sql_bitset(
    min_day: Any,
    span: int,
    unit: float,
    cal_end: str,
    obs_end: str,
    *,
    holdout: bool = True,
    order: bool = True,
) -> str:
    """Aggregations of ``t`` by customer (calibration, holdout); same-day purchases merged
    through bitsets.

    The number of distinct purchase days is the popcount of a bitset of day offsets. The spend
    of the first day is the single row's amount unless the customer has more rows than days in
    the calibration period; only for those customers is it summed over the first day's rows
    (a join of ``t`` with that, usually small, set). ``order=False`` leaves the rows unsorted.
    """
    d0 = _lit_date(min_day)
    off = f"CAST(date_diff('day', {d0}, day) AS INTEGER)"
    cal = f"day <= {cal_end} AND day <= {obs_end}"
    hold = f"day > {cal_end} AND day <= {obs_end}"
    bits = f"CAST(bit_count(bitstring_agg({off}, 0, {span - 1})) AS BIGINT)"
    hold_cte = (
        f"""hold AS (
            SELECT cust, {_holdout_days(cal_end, obs_end, bits)} AS n_h, sum(amt) AS total_h
            FROM t WHERE {hold} GROUP BY cust
        ), """
        if holdout
        else ""
    )
    return f"""
        WITH agg AS MATERIALIZED (
            SELECT cust, {bits} AS n, count(*) AS n_rows, min(day) AS first_day,
                   max(day) AS last_day, sum(amt) AS total, arg_min(amt, day) AS first_row_amt
            FROM t WHERE {cal} GROUP BY cust
        ), {hold_cte}dup AS (
            SELECT cust, first_day FROM agg WHERE n_rows > n
        ), first_dup AS (
            SELECT t.cust, sum(t.amt) AS amt FROM t JOIN dup
            ON t.cust = dup.cust AND t.day = dup.first_day GROUP BY t.cust
        ), cal AS (
            SELECT agg.*, coalesce(first_dup.amt, first_row_amt) AS first_amt
            FROM agg LEFT JOIN first_dup ON agg.cust = first_dup.cust
        )
        {_summary_select(unit, cal_end, obs_end, holdout=holdout)}
        {_summary_from(holdout, order)}
        """


def _holdout_days(cal_end: str, obs_end: str, bits: str) -> str:
    """Distinct holdout purchase days of a customer: for a holdout of up to 127 days, the
    popcount of a BIGINT or HUGEINT bit mask (``bit_or``, ~0.1 s of CPU less per million
    customers than a bitstring), else ``bits``."""
    days = (_date_of(obs_end) - _date_of(cal_end)).days
    if days > 127:
        return bits
    word = "BIGINT" if days <= 63 else "HUGEINT"
    shift = f"CAST(date_diff('day', {cal_end}, day) - 1 AS {word})"
    return f"CAST(bit_count(bit_or(CAST(1 AS {word}) << {shift})) AS BIGINT)"


def _date_of(literal: str) -> datetime.date:
    """The date of a ``DATE 'YYYY-MM-DD'`` literal made by :func:`_lit_date`."""
    return datetime.date.fromisoformat(literal[6:-1])


def _summary_sql_days(
    unit: float, cal_end: str, obs_end: str, *, holdout: bool = True, order: bool = True
) -> str:
    """Merge same-day purchases by grouping (customer, day), then aggregate by customer."""
    hold_cte = (
        f""", hold AS (
            SELECT cust, count(*) AS n_h, sum(amt) AS total_h
            FROM days WHERE day > {cal_end} GROUP BY cust
        )"""
        if holdout
        else ""
    )
    return f"""
        WITH days AS (
            SELECT cust, day, sum(amt) AS amt FROM t WHERE day <= {obs_end} GROUP BY cust, day
        ), cal AS (
            SELECT cust, count(*) AS n, min(day) AS first_day, max(day) AS last_day,
                   sum(amt) AS total, arg_min(amt, day) AS first_amt
            FROM days WHERE day <= {cal_end} GROUP BY cust
        ){hold_cte}
        {_summary_select(unit, cal_end, obs_end, holdout=holdout)}
        {_summary_from(holdout, order)}
        """


def load_checked(
    con: duckdb.DuckDBPyConnection,
    transactions: Any,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
) -> str:
    """Load the transactions into table ``t`` of ``con`` and refuse the first bad row.

    Raises ``SummaryInputError`` naming the row and column of a missing customer id, an
    unparseable date or a non-numeric amount, or when there are no transactions. Returns the
    source's name.
    """
    return _load_checked(con, transactions, customer_col, date_col, amount_col)[0]


def _load_checked(
    con: duckdb.DuckDBPyConnection,
    transactions: Any,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
) -> tuple[str, tuple[Any, Any, int]]:
    """:func:`load_checked`, also returning ``(first day, last day, approximate customers)``
    from the same scan of ``t`` as the checks."""
    columns = [customer_col, date_col] + ([amount_col] if amount_col else [])
    try:
        source = _materialize(con, transactions, columns, text=False)
    except duckdb.Error:
        # A value that DuckDB's typed CSV reader could not convert: re-read as text to
        # find and report the row.
        con.execute("DROP VIEW IF EXISTS src")
        con.execute("DROP TABLE IF EXISTS t")
        try:
            source = _materialize(con, transactions, columns, text=True)
        except duckdb.Error as exc:
            raise SummaryInputError(f"Cannot read {transactions}: {reader_reason(exc)}") from None
    n, n_cust, n_day, n_amt, first, last, approx = con.execute(
        # NaN and infinity are read as numbers ("NaN", "inf" in a CSV, a float column): not
        # an amount, so counted with the missing ones.
        "SELECT count(*), count(cust), count(day), count(amt) FILTER (WHERE isfinite(amt)), "
        "min(day), max(day), approx_count_distinct(cust) FROM t"
    ).fetchone()
    if n == 0:
        raise SummaryInputError(f"No transactions in {source}")
    for bad, col, what, flag in (
        (n - n_cust, customer_col, "a missing customer id", "cust IS NULL"),
        (n - n_day, date_col, "a missing or unparseable date", "day IS NULL"),
        (
            n - n_amt,
            amount_col,
            "a missing or non-numeric amount",
            "amt IS NULL OR NOT isfinite(amt)",
        ),
    ):
        if bad:
            _raise_bad_row(con, source, col, what, bad, flag)
    return source, (first, last, int(approx))


def _raise_bad_row(
    con: duckdb.DuckDBPyConnection, source: str, col: str | None, what: str, count: int, flag: str
) -> None:
    row = con.execute(
        f"SELECT rn FROM (SELECT row_number() OVER () AS rn, {flag} AS bad FROM t) "
        "WHERE bad ORDER BY rn LIMIT 1"
    ).fetchone()[0]
    raise SummaryInputError(
        f"Column {col!r} has {what} on data row {row} of {source} ({count} bad row(s) in total)"
    )
