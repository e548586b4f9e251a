"""Benchmark: `retento analyze sequences` against the `prefixspan` package, as whole processes.

Writes synthetic purchase lines (``--customers`` customers, each with 1 + Poisson(``--mean-steps``
- 1) purchase dates over ``--items`` items of Zipf-like popularity, and 12 planted sequences of
2-4 steps each followed by 1-6 % of customers), then, for each ``--support``, runs in the same
session

- **retento**: ``retento analyze sequences FILE --customer-col customer --date-col day
  --item-col item --min-support S --output OUT --json``;
- **prefixspan**: a script in the baseline venv (``benchmarks/setup_baselines.sh``; here the
  ``--baseline-python`` holding ``prefixspan``) that reads the same CSV with pandas, groups the
  items into one list per customer in date order and runs ``PrefixSpan(db).frequent(count)``,
  writing the patterns;

each under ``/usr/bin/time`` (wall seconds and peak resident memory), checks that both found
exactly the same patterns with the same supports, and prints the ratios. ``prefixspan`` works on
flat item sequences, so the compared data have one item per purchase date; ``--itemsets`` then
times retento alone on the same customers buying 1 + Poisson(1) items per date (itemset steps),
with and without ``--max-gap 2``. Run:

    .venv/bin/python benchmarks/bench_sequences.py --baseline-python /tmp/mlx/bin/python
    .venv/bin/python benchmarks/bench_sequences.py --no-baseline --itemsets
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RETENTO = ROOT / ".venv" / "bin" / "retento"
BASELINE_PY = ROOT / ".venv-bench" / "bin" / "python"

PREFIXSPAN = r"""
import math, sys, pandas as pd
from prefixspan import PrefixSpan
path, support, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
lines = pd.read_csv(path, dtype={"customer": "int64", "day": "str", "item": "str"})
lines = lines.sort_values(["customer", "day"], kind="stable")
db = lines.groupby("customer", sort=True)["item"].apply(list).tolist()
count = max(1, math.ceil(support * len(db) - 1e-9))
found = PrefixSpan(db).frequent(count)
pd.DataFrame({"pattern": [" > ".join(p) for _, p in found],
              "count": [c for c, _ in found]}).to_csv(out, index=False)
"""


def synthetic_lines(
    n_customers: int, n_items: int, mean_steps: float, itemsets: bool, seed: int = 11
) -> pd.DataFrame:
    """(customer, day, item) lines: step counts 1 + Poisson(mean - 1), Zipf-like item
    popularity (exponent 1.0); 12 planted sequences of 2-4 items, each replacing the steps of
    1-6 % of the customers from a random position. With ``itemsets``, each step holds
    1 + Poisson(1) items (days stay one per step)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1)
    weights /= weights.sum()
    steps = 1 + rng.poisson(mean_steps - 1, size=n_customers)
    total = int(steps.sum())
    cust = np.repeat(np.arange(n_customers), steps)
    first = np.cumsum(steps) - steps
    day = np.arange(total) - np.repeat(first, steps)
    item = rng.choice(n_items, size=total, p=weights)
    for _ in range(12):
        planted = rng.choice(np.arange(20, n_items), size=rng.integers(2, 5), replace=False)
        who = np.flatnonzero(
            (rng.random(n_customers) < rng.uniform(0.01, 0.06)) & (steps >= len(planted))
        )
        start = (rng.random(len(who)) * (steps[who] - len(planted) + 1)).astype(np.int64)
        for k, p in enumerate(planted):
            item[first[who] + start + k] = p
    frame = pd.DataFrame({"customer": cust, "day": day, "item": item})
    if itemsets:
        extra = rng.poisson(1.0, size=total)
        more = pd.DataFrame(
            {
                "customer": np.repeat(cust, extra),
                "day": np.repeat(day, extra),
                "item": rng.choice(n_items, size=int(extra.sum()), p=weights),
            }
        )
        frame = pd.concat([frame, more], ignore_index=True)
    frame["item"] = np.char.add("p", frame["item"].to_numpy().astype(str))
    frame["day"] = (np.datetime64("2020-01-01") + frame["day"].to_numpy()).astype(str)
    return frame


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one process under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        started = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", "-o", tf.name, *cmd],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"{cmd[0]} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        _, rss_kb = tf.read().split()[-2:]
    return wall, int(rss_kb) / 1024, proc.stdout


def patterns(path: Path) -> dict[str, int]:
    frame = pd.read_csv(path, dtype={"pattern": str})
    return dict(zip(frame["pattern"], frame["count"], strict=True))


def ours(data: Path, support: float, out: Path, *extra: str) -> tuple[float, float, dict]:
    wall, rss, stdout = timed(
        [str(RETENTO), "analyze", "sequences", str(data), "--customer-col", "customer",
         "--date-col", "day", "--item-col", "item", "--min-support", str(support),
         "--output", str(out), "--json", *extra]
    )  # fmt: skip
    return wall, rss, json.loads(stdout)


def evaluate(args: argparse.Namespace, tmpdir: Path) -> None:
    """Hit-rate@5 after 2020-01-05 (each customer's first four purchase dates are the history)
    on (a) the benchmark data and (b) the same with personal favourites."""
    base = synthetic_lines(args.customers, args.items, args.mean_steps, itemsets=False)
    rng = np.random.default_rng(3)
    favourites = rng.choice(args.items, size=(args.customers, 3))
    own = rng.random(len(base)) < 0.5
    pick = favourites[base["customer"].to_numpy(), rng.integers(0, 3, size=len(base))]
    mixed = base.copy()
    mixed.loc[own, "item"] = np.char.add("p", pick[own].astype(str))
    for name, frame in (("planted sequences", base), ("with favourites", mixed)):
        path = tmpdir / "eval.csv"
        frame.to_csv(path, index=False)
        for extra in ([], ["--max-gap", "1"]):
            wall, rss, summary = ours(
                path, 0.005, tmpdir / "e.csv", "--evaluate-after", "2020-01-05", *extra
            )
            print(json.dumps({"data": name, "options": " ".join(extra) or None, "wall_s":
                              round(wall, 2), **summary["evaluation"]}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--mean-steps", type=float, default=6.0)
    parser.add_argument("--support", type=float, nargs="+", default=[0.01, 0.005])
    parser.add_argument("--runs", type=int, default=3, help="Runs of each; medians reported.")
    parser.add_argument("--no-baseline", action="store_true", help="Skip prefixspan.")
    parser.add_argument("--itemsets", action="store_true", help="Also time itemset steps.")
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="Also run --evaluate-after 2020-01-05 on the data and on a variant where half of "
        "each customer's purchases are one of three personal favourites.",
    )
    parser.add_argument("--baseline-python", type=Path, default=BASELINE_PY)
    args = parser.parse_args()
    if not args.no_baseline and not args.baseline_python.exists():
        raise SystemExit(
            f"{args.baseline_python} not found: run `bash benchmarks/setup_baselines.sh`"
        )
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        data = tmpdir / "lines.csv"
        lines = synthetic_lines(args.customers, args.items, args.mean_steps, itemsets=False)
        lines.to_csv(data, index=False)
        print(
            f"{args.customers:,} customers, {args.items} items, {len(lines):,} lines "
            f"(one item per purchase date), {data.stat().st_size / 1e6:.1f} MB"
        )
        del lines
        script = tmpdir / "ps.py"
        script.write_text(PREFIXSPAN)
        for support in args.support:
            ours_out = tmpdir / f"ours-{support}.csv"
            base_out = tmpdir / f"ps-{support}.csv"
            mine, base, summary = [], [], {}
            for _ in range(args.runs):
                wall, rss, summary = ours(data, support, ours_out)
                mine.append((wall, rss))
                if not args.no_baseline:
                    base.append(
                        timed(
                            [
                                str(args.baseline_python),
                                str(script),
                                str(data),
                                str(support),
                                str(base_out),
                            ]
                        )  # fmt: skip
                    )
            o_wall = float(np.median([w for w, _ in mine]))
            row = {
                "support": support,
                "min_count": math.ceil(support * args.customers - 1e-9),
                "patterns": summary["n_patterns"],
                "max_length": summary["max_length"],
                "retento_s": round(o_wall, 2),
                "retento_runs_s": [round(w, 2) for w, _ in mine],
                "retento_mb": round(max(r for _, r in mine)),
                "retento_timings": summary["timings"],
            }
            if base:
                b_wall = float(np.median([w for w, _, _ in base]))
                same = patterns(ours_out) == patterns(base_out)
                row.update(
                    prefixspan_s=round(b_wall, 2),
                    prefixspan_runs_s=[round(w, 2) for w, _, _ in base],
                    prefixspan_mb=round(max(r for _, r, _ in base)),
                    speedup=round(b_wall / o_wall, 1),
                    same_patterns_and_supports=same,
                )
                if not same:
                    print("DIFFERENT PATTERNS", file=sys.stderr)
            print(json.dumps(row))
        if args.itemsets:
            lines = synthetic_lines(args.customers, args.items, args.mean_steps, itemsets=True)
            lines.to_csv(data, index=False)
            print(f"itemset steps: {len(lines):,} lines over the same customers")
            del lines
            for support in args.support:
                for extra in ([], ["--max-gap", "2"]):
                    runs = [ours(data, support, tmpdir / "o.csv", *extra) for _ in range(args.runs)]
                    print(
                        json.dumps(
                            {
                                "support": support,
                                "options": " ".join(extra) or None,
                                "patterns": runs[0][2]["n_patterns"],
                                "max_length": runs[0][2]["max_length"],
                                "retento_s": round(float(np.median([w for w, _, _ in runs])), 2),
                                "retento_mb": round(max(r for _, r, _ in runs)),
                                "retento_timings": runs[-1][2]["timings"],
                            }
                        )
                    )
        if args.evaluate:
            evaluate(args, tmpdir)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
