"""Whole analyses on Spark, as ``retento analyze clv --engine spark`` runs them.

Each function reads the source once into a cached, checked table, aggregates with Spark SQL,
fits on the driver and scores on the executors; the result dictionaries have the same keys as
the DuckDB path's ``--json`` output.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from retento.analytics.spark.clv import fit_clv, score_clv
from retento.analytics.spark.summary import customer_summary

__all__ = ["clv_pipeline", "write_frame"]

FREQ_DAYS = {"D": 1.0, "W": 7.0}


def _holdout(summary: Any, model: Any, unit: float) -> dict[str, Any]:
    """The holdout report of :func:`retento.analytics.holdout_report`, from the distinct
    calibration/holdout rows Spark counted (expanded on the driver by their counts)."""
    import pandas as pd

    from retento.analytics.holdout import holdout_report

    cols = ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]
    rows = summary.groupBy(*cols).count().toPandas()
    reps = rows["count"].to_numpy(np.int64)
    frame = pd.DataFrame({c: np.repeat(rows[c].to_numpy(float), reps) for c in cols})
    return holdout_report(model, frame, freq_unit_days=unit).to_dict()


def clv_pipeline(
    spark: Any,
    source: Any,
    customer_col: str,
    date_col: str,
    amount_col: str,
    *,
    output: str | Path | None = None,
    freq: str = "W",
    calibration_end: Any = None,
    model: str = "bgnbd",
    horizon: float = 52.0,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    jdbc_table: str | None = None,
    jdbc_properties: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Summary by Spark SQL, BTYD + Gamma-Gamma fitted on the driver, scores distributed.

    Writes the scores (customer, frequency, recency, T, monetary, expected_purchases,
    p_alive, clv) to ``output``: a ``.parquet`` path (a Parquet directory written by the
    executors), a ``jdbc:`` URL (table ``retento_clv_scores``) or a CSV file. Returns the fit
    summary (model, customers, params, log_likelihood, gamma_gamma, total_clv, holdout,
    timings).
    """
    unit = FREQ_DAYS[freq]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    summary = customer_summary(
        spark,
        source,
        customer_col,
        date_col,
        amount_col,
        freq=freq,
        calibration_end=calibration_end,
        jdbc_table=jdbc_table,
        jdbc_properties=jdbc_properties,
    )
    from pyspark import StorageLevel

    summary = summary.persist(StorageLevel.MEMORY_AND_DISK)
    timings["summarize_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    fit = fit_clv(summary, model)
    timings["fit_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    scores = score_clv(
        summary, fit, horizon=horizon, discount_rate=discount_rate, margin=margin, freq=freq
    ).persist(StorageLevel.MEMORY_AND_DISK)
    total = scores.selectExpr("sum(clv) AS total").first()["total"]
    timings["score_s"] = time.perf_counter() - t2
    holdout = None
    if calibration_end is not None:
        holdout = _holdout(summary, fit.model, unit)
    t3 = time.perf_counter()
    if output is not None:
        cols = [customer_col, "frequency", "recency", "T", "monetary", "expected_purchases",
                "p_alive", "clv"]  # fmt: skip
        write_frame(scores.select(*cols), str(output), order_by=customer_col,
                    jdbc_properties=jdbc_properties)  # fmt: skip
    timings["write_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    result = {
        "engine": "spark",
        "model": model,
        "customers": fit.customers,
        "distinct_rows": fit.distinct_rows,
        "freq": freq,
        "params": dict(fit.model.params_),
        "log_likelihood": float(fit.model.log_likelihood_),
        "gamma_gamma": fit.spend_dict(),
        "horizon": horizon,
        "discount_rate": discount_rate,
        "margin": margin,
        "total_clv": float(total or 0.0),
        "holdout": None
        if holdout is None
        else {"metrics": holdout["metrics"], "by_frequency": holdout["by_frequency"]},
        "output": None if output is None else str(output),
        "timings": timings,
    }
    scores.unpersist()
    summary.unpersist()
    spark.catalog.clearCache()
    return result


def write_frame(
    frame: Any,
    output: str,
    *,
    order_by: str | None = None,
    table: str = "retento_clv_scores",
    jdbc_properties: dict[str, str] | None = None,
) -> None:
    """Write a Spark DataFrame of results.

    * ``*.parquet`` / ``*.pq``: a Parquet directory, written in parallel by the executors;
    * ``jdbc:...``: the database table ``table`` (replaced), written by the executors;
    * anything else: one CSV file with a header, rows sorted by ``order_by``, brought to the
      driver in Arrow batches and written by DuckDB as the DuckDB engine writes it (integer
      frequency, six decimals: :mod:`retento.analytics.csv_out`).
    """
    if output.startswith("jdbc:"):
        frame.write.mode("overwrite").jdbc(output, table, properties=dict(jdbc_properties or {}))
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in {".parquet", ".pq"}:
        frame.write.mode("overwrite").parquet(str(path))
        return
    import duckdb

    from retento.analytics.csv_out import csv_select

    pdf = frame.toPandas()
    if order_by is not None:
        pdf = pdf.sort_values(order_by, kind="stable")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        con.register("scores", pdf)
        sp = str(path).replace("'", "''")
        integer = [c for c in ("frequency",) if c in pdf.columns]
        select = csv_select({c: pdf[c].to_numpy() for c in pdf.columns}, integer=integer)
        con.execute(f"COPY (SELECT {select} FROM scores) TO '{sp}' (HEADER, DELIMITER ',')")
    finally:
        con.close()
