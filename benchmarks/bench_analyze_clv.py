"""Benchmark: ``retento analyze clv`` end to end on 10,000,000 transactions / 1,000,000 customers.

Generates (once, cached in the git-ignored ``benchmarks/out/``) a day-level BG/NBD transaction
log with Gamma-Gamma amounts, then runs the CLI in a subprocess and reports wall time and peak
resident memory (``ru_maxrss`` of the child). Targets: under 15 s and under 4 GB.

    .venv/bin/python benchmarks/bench_analyze_clv.py [--customers 1000000] [--model bgnbd]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from retento.analytics import simulate_transactions

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def make_data(n: int) -> Path:
    path = OUT / f"transactions_{n}.csv"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    tx = simulate_transactions(n, 0.9, 20.0, 0.6, 8.0, seed=2024, observation_days=365)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("tx", tx)
    con.execute(f"COPY (SELECT * FROM tx) TO '{path}' (HEADER, DELIMITER ',')")
    con.close()
    print(f"generated {len(tx):,} transactions in {time.perf_counter() - t:.1f} s -> {path}")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--model", default="bgnbd")
    args = ap.parse_args()
    data = make_data(args.customers)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    rows = con.execute(f"SELECT count(*) FROM read_csv('{data}')").fetchall()[0][0]
    con.close()
    out = OUT / "scores.csv"
    cmd = [
        str(ROOT / ".venv" / "bin" / "retento"), "analyze", "clv", str(data),
        "--customer-col", "customer_id", "--date-col", "date", "--amount-col", "amount",
        "--freq", "W", "--model", args.model, "--calibration-end", "2024-10-31",
        "--output", str(out), "--json",
    ]  # fmt: skip
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_gb = usage.ru_maxrss / 1024**2
    cpu = usage.ru_utime + usage.ru_stime
    load = os.getloadavg()[0]
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        raise SystemExit(1)
    payload = json.loads(res.stdout)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"input: {rows:,} transactions, {payload['customers']:,} customers ({data.name})")
    print(f"model: {args.model}; params {payload['params']}")
    print(f"stages (s): { {k: round(v, 2) for k, v in payload['timings'].items()} }")
    print(f"1-min load average after the run: {load:.1f} (2 cores)")
    print("| command | wall (s) | CPU (s) | peak RSS (GB) | target |")
    print("|---|---|---|---|---|")
    print(
        f"| retento analyze clv ({args.model}) | {wall:.2f} | {cpu:.2f} | {peak_gb:.2f} "
        "| < 15 s, < 4 GB |"
    )


if __name__ == "__main__":
    main()
