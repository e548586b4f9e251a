"""Benchmark: ``retento analyze clv`` end to end on 10,000,000 transactions / 1,000,000 customers.

Generates (once, cached in the git-ignored ``benchmarks/out/``) a day-level BG/NBD transaction
log with Gamma-Gamma amounts, then runs the CLI in a subprocess and reports wall time and peak
resident memory (``ru_maxrss`` of the child). Targets: under 15 s and under 4 GB.

It also times, in the same run and alternating with the command, one *bare DuckDB aggregation
pass* over the same file: a fresh Python process that imports duckdb and fetches
``SELECT customer, count(*), min(date), max(date), sum(amount) ... GROUP BY customer`` into
NumPy, i.e. the least any per-customer summary of the file costs. The ratio
``analyze clv / bare pass`` (target <= 1.5x) is printed per pair and for the medians, with the
command's own start-up (``retento analyze clv --help``) for reference.

    .venv/bin/python benchmarks/bench_analyze_clv.py [--customers 1000000] [--model bgnbd]
        [--repeat 3] [--parquet] [--before-src DIR]

With ``--before-src DIR`` (a ``src/`` directory of another commit, e.g. from
``git archive <commit> src | tar -x -C /tmp/before``) each round also runs that version of the
command (``PYTHONPATH=DIR``), so before and after are timed alternately in the same run.

The scores go to ``benchmarks/out/scores.csv`` (six decimals) or, with ``--parquet``,
``benchmarks/out/scores.parquet`` (full precision).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
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


BARE = r"""
import sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
path = sys.argv[1].replace("'", "''")
con.execute(
    "SELECT customer_id, count(*) AS n, min(date) AS first_day, max(date) AS last_day, "
    f"sum(amount) AS total FROM read_csv('{path}') GROUP BY customer_id"
).fetchnumpy()
"""


def timed(
    cmd: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, float, subprocess.CompletedProcess]:
    """Wall, CPU and peak RSS (GB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        raise SystemExit(1)
    return wall, cpu, after.ru_maxrss / 1024**2, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--model", default="bgnbd")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--parquet",
        action="store_true",
        help="write the scores as Parquet (full precision) instead of CSV (six decimals)",
    )
    ap.add_argument(
        "--before-src",
        type=Path,
        help="also time the command from this src/ directory (PYTHONPATH) in every round",
    )
    args = ap.parse_args()
    data = make_data(args.customers)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    rows = con.execute(f"SELECT count(*) FROM read_csv('{data}')").fetchall()[0][0]
    con.close()
    out = OUT / ("scores.parquet" if args.parquet else "scores.csv")
    retento = str(ROOT / ".venv" / "bin" / "retento")
    cmd = [
        retento, "analyze", "clv", str(data),
        "--customer-col", "customer_id", "--date-col", "date", "--amount-col", "amount",
        "--freq", "W", "--model", args.model, "--calibration-end", "2024-10-31",
        "--output", str(out), "--json",
    ]  # fmt: skip
    bare_cmd = [sys.executable, "-c", BARE, str(data)]
    start_wall, start_cpu, _, _ = timed([retento, "analyze", "clv", "--help"])
    print(f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    print(f"input: {rows:,} transactions ({data.name}); model {args.model}; output {out.name}")
    print(f"start-up (retento analyze clv --help): {start_wall:.2f} s wall, {start_cpu:.2f} s CPU")
    print(
        "| run | load (1 min) | bare DuckDB pass wall (s) | CPU (s) | analyze clv wall (s) "
        "| CPU (s) | ratio wall | ratio CPU | stages (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    bares, clvs, bcpus, ccpus, peak = [], [], [], [], 0.0
    olds: list[tuple[float, float]] = []
    old_env = None
    if args.before_src is not None:
        old_env = {**os.environ, "PYTHONPATH": str(args.before_src.resolve())}
    for i in range(args.repeat):
        b_wall, b_cpu, _, _ = timed(bare_cmd)
        if old_env is not None:
            o_wall, o_cpu, _, _ = timed(cmd, old_env)
            olds.append((o_wall, o_cpu))
            print(
                f"| {i + 1} before ({args.before_src}) | {os.getloadavg()[0]:.1f} | {b_wall:.2f} "
                f"| {b_cpu:.2f} | {o_wall:.2f} | {o_cpu:.2f} | {o_wall / b_wall:.2f}x "
                f"| {o_cpu / b_cpu:.2f}x | |"
            )
        c_wall, c_cpu, peak, res = timed(cmd)
        payload = json.loads(res.stdout)
        bares.append(b_wall)
        clvs.append(c_wall)
        bcpus.append(b_cpu)
        ccpus.append(c_cpu)
        stages = ", ".join(
            f"{k[:-2]} {v:.2f}" for k, v in payload["timings"].items() if k != "total_s"
        )
        print(
            f"| {i + 1} ({time.strftime('%H:%M:%S', time.gmtime())}) | {os.getloadavg()[0]:.1f} "
            f"| {b_wall:.2f} | {b_cpu:.2f} | {c_wall:.2f} | {c_cpu:.2f} "
            f"| {c_wall / b_wall:.2f}x | {c_cpu / b_cpu:.2f}x | {stages} |"
        )
        sys.stdout.flush()
    med = statistics.median
    print(
        f"medians: bare pass {med(bares):.2f} s (CPU {med(bcpus):.2f}), analyze clv "
        f"{med(clvs):.2f} s (CPU {med(ccpus):.2f}), ratio {med(clvs) / med(bares):.2f}x wall, "
        f"{med(ccpus) / med(bcpus):.2f}x CPU; customers {payload['customers']:,}; peak RSS of "
        f"the children {peak:.2f} GB; params {payload['params']}"
    )
    if olds:
        o_wall = med([o[0] for o in olds])
        o_cpu = med([o[1] for o in olds])
        print(
            f"before ({args.before_src}): {o_wall:.2f} s (CPU {o_cpu:.2f}), ratio "
            f"{o_wall / med(bares):.2f}x wall, {o_cpu / med(bcpus):.2f}x CPU"
        )


if __name__ == "__main__":
    main()
