"""Benchmark: the CLV pipeline on DuckDB vs Spark (local mode) on 1M and 10M transactions.

For each size it times, in one process and one after the other:

* DuckDB: :func:`retento.analytics.summarize` (the RFM/BTYD summary) and the whole
  ``retento analyze clv`` in a subprocess;
* Spark (``local[*]``, session already started; its start-up is timed separately): the same
  summary by :func:`retento.analytics.spark.customer_summary` collected to pandas, and
  ``clv_pipeline`` (summary, fit on the driver, scoring with mapInPandas, CSV written).

The data are the CSV files of ``bench_analyze_clv.py`` (cached in ``benchmarks/out/``); also
converted once to Parquet, which Spark reads in parallel splits.

    .venv/bin/python benchmarks/bench_spark.py [--sizes 100000 1000000] [--master local[*]]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from bench_analyze_clv import OUT, ROOT, make_data  # noqa: E402

from retento.analytics import summarize  # noqa: E402


def parquet_of(csv: Path) -> Path:
    path = csv.with_suffix(".parquet")
    if not path.exists():
        duckdb.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{path}' (FORMAT parquet)")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--master", default="local[*]")
    args = ap.parse_args()
    print(f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; load {os.getloadavg()}")
    t = time.perf_counter()
    from retento.analytics.spark import clv_pipeline, customer_summary, get_spark

    spark = get_spark(args.master)
    spark.range(1).count()
    print(f"Spark {spark.version} start-up ({args.master}): {time.perf_counter() - t:.1f} s")
    print("| customers | transactions | input | engine | summary (s) | analyze clv (s) | load |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        csv = make_data(n)
        rows = duckdb.sql(f"SELECT count(*) FROM read_csv('{csv}')").fetchall()[0][0]
        for path in (csv, parquet_of(csv)):
            kind = path.suffix[1:]
            t = time.perf_counter()
            summarize(path, "customer_id", "date", "amount", freq="W")
            duck_sum = time.perf_counter() - t
            cmd = [str(ROOT / ".venv/bin/retento"), "analyze", "clv", str(path),
                   "--customer-col", "customer_id", "--date-col", "date", "--amount-col",
                   "amount", "--output", str(OUT / "bench_spark_duck.csv"), "--json"]  # fmt: skip
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            duck_clv = time.perf_counter() - t
            print(f"| {n:,} | {rows:,} | {kind} | DuckDB | {duck_sum:.2f} | {duck_clv:.2f} "
                  f"(process) | {os.getloadavg()[0]:.1f} |")  # fmt: skip
            t = time.perf_counter()
            customer_summary(spark, str(path), "customer_id", "date", "amount", freq="W").toPandas()
            spark.catalog.clearCache()
            spark_sum = time.perf_counter() - t
            t = time.perf_counter()
            clv_pipeline(spark, str(path), "customer_id", "date", "amount",
                         output=OUT / "bench_spark_scores.csv")  # fmt: skip
            spark_clv = time.perf_counter() - t
            print(f"| {n:,} | {rows:,} | {kind} | Spark | {spark_sum:.2f} | {spark_clv:.2f} "
                  f"(session warm) | {os.getloadavg()[0]:.1f} |")  # fmt: skip
            sys.stdout.flush()
    spark.stop()


if __name__ == "__main__":
    main()
