"""Benchmark: `retento analyze basket` against mlxtend's fpgrowth, as whole processes (issue 13).

Writes synthetic order lines (``--baskets`` baskets over ``--items`` items: Zipf-like item
popularity, mean basket size 8, a few planted bundles bought together), then, for each
``--support``, runs in the same session

- **retento**: ``retento analyze basket FILE --order-col order_id --item-col item
  --min-support S --output OUT --json``;
- **mlxtend**: a script in the baseline venv (``benchmarks/setup_baselines.sh``) that reads the
  same CSV with pandas, one-hot encodes with ``TransactionEncoder`` and runs
  ``fpgrowth(min_support=S, use_colnames=True)``, writing the itemsets;

each under ``/usr/bin/time`` (wall seconds and peak resident memory), checks that both found
exactly the same itemsets, and prints the ratios. Run:

    bash benchmarks/setup_baselines.sh            # once: mlxtend into .venv-bench
    .venv/bin/python benchmarks/bench_basket.py [--baskets 100000] [--support 0.01 0.002]
    .venv/bin/python benchmarks/bench_basket.py --baskets 1000000 --support 0.002 --no-baseline
"""

from __future__ import annotations

import argparse
import json
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

MLXTEND = r"""
import sys, pandas as pd
from mlxtend.preprocessing import TransactionEncoder
from mlxtend.frequent_patterns import fpgrowth
path, support, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
lines = pd.read_csv(path, dtype={"order_id": "int64", "item": "str"})
baskets = lines.groupby("order_id")["item"].apply(list).tolist()
te = TransactionEncoder()
onehot = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
found = fpgrowth(onehot, min_support=support, use_colnames=True)
found["itemsets"] = found["itemsets"].map(lambda s: " | ".join(sorted(s)))
found.to_csv(out, index=False)
"""


def synthetic_lines(n_baskets: int, n_items: int, seed: int = 7) -> pd.DataFrame:
    """Order lines: Zipf-like popularity (exponent 1.1), sizes 1 + Poisson(6) (mean 8 with the bundles), 20
    planted bundles of 2-4 items each added to 0.5-3 % of baskets."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1) ** 1.1
    weights /= weights.sum()
    sizes = 1 + rng.poisson(6, size=n_baskets)
    total = int(sizes.sum())
    items = rng.choice(n_items, size=total, p=weights)
    orders = np.repeat(np.arange(n_baskets), sizes)
    extra_o, extra_i = [orders], [items]
    for _ in range(20):
        bundle = rng.choice(np.arange(50, n_items), size=rng.integers(2, 5), replace=False)
        hit = np.flatnonzero(rng.random(n_baskets) < rng.uniform(0.005, 0.03))
        extra_o.append(np.repeat(hit, len(bundle)))
        extra_i.append(np.tile(bundle, len(hit)))
    o = np.concatenate(extra_o)
    i = np.concatenate(extra_i)
    return pd.DataFrame({"order_id": o, "item": np.char.add("p", i.astype(str))})


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
            raise SystemExit(f"{cmd[0]} failed:\n{proc.stderr[-2000:]}")
        _, rss_kb = tf.read().split()[-2:]
    return wall, int(rss_kb) / 1024, proc.stdout


def itemset_keys(path: Path, column: str = "itemsets") -> set[str]:
    frame = pd.read_csv(path, dtype={column: str})
    return {" | ".join(sorted(s.split(" | "))) for s in frame[column]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baskets", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--support", type=float, nargs="+", default=[0.01, 0.002])
    parser.add_argument("--runs", type=int, default=3, help="Runs of each; medians reported.")
    parser.add_argument("--no-baseline", action="store_true", help="Skip mlxtend.")
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
        lines = synthetic_lines(args.baskets, args.items)
        lines.to_csv(data, index=False)
        print(
            f"{args.baskets:,} baskets, {args.items} items, {len(lines):,} lines "
            f"(mean size {len(lines) / args.baskets:.2f}), {data.stat().st_size / 1e6:.1f} MB"
        )
        del lines
        script = tmpdir / "mlx.py"
        script.write_text(MLXTEND)
        rows = []
        for support in args.support:
            ours_out = tmpdir / f"ours-{support}.csv"
            base_out = tmpdir / f"mlx-{support}.csv"
            ours, base, summary = [], [], {}
            for _ in range(args.runs):
                wall, rss, stdout = timed(
                    [str(RETENTO), "analyze", "basket", str(data), "--order-col", "order_id",
                     "--item-col", "item", "--min-support", str(support), "--output",
                     str(ours_out), "--json"]
                )  # fmt: skip
                ours.append((wall, rss))
                summary = json.loads(stdout)
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
            o_wall = float(np.median([w for w, _ in ours]))
            o_rss = max(r for _, r in ours)
            row = {
                "support": support,
                "itemsets": summary["n_itemsets"],
                "retento_s": round(o_wall, 2),
                "retento_mb": round(o_rss),
                "retento_timings": summary["timings"],
            }
            if base:
                b_wall = float(np.median([w for w, _, _ in base]))
                b_rss = max(r for _, r, _ in base)
                same = itemset_keys(ours_out) == itemset_keys(base_out)
                row.update(
                    mlxtend_s=round(b_wall, 2),
                    mlxtend_mb=round(b_rss),
                    speedup=round(b_wall / o_wall, 1),
                    memory_share=round(o_rss / b_rss, 2),
                    same_itemsets=same,
                )
                if not same:
                    print("DIFFERENT ITEMSETS", file=sys.stderr)
            rows.append(row)
            print(json.dumps(row))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
