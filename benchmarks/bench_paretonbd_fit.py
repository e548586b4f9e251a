"""Benchmark: Pareto/NBD maximum-likelihood fit on a 23,570-customer CDNOW-sized cohort.

The full CDNOW master cohort (23,570 customers) is not in the repository, so the cohort is
simulated with FHL (2005)'s Pareto/NBD estimates for CDNOW (r = 0.553, alpha = 10.578,
s = 0.606, beta = 11.669), first purchases spread over the first 12 weeks (T from 27 to 39
weeks) and every time rounded to whole days (1/7 week), as in the real data. Retento's
``ParetoNBDModel.fit`` is compared with lifetimes' ``ParetoNBDFitter.fit`` on the same data in
the same run; lifetimes runs in the git-ignored venv ``.venv-bench``
(``bash benchmarks/setup_baselines.sh``).

Both optima are evaluated with Retento's likelihood, so "LL diff" compares the same function.

    .venv/bin/python benchmarks/bench_paretonbd_fit.py [--customers 23570] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from retento.analytics import ParetoNBDModel, simulate_paretonbd

ROOT = Path(__file__).resolve().parents[1]
BENCH_PY = ROOT / ".venv-bench" / "bin" / "python"
OUT = ROOT / "benchmarks" / "out"
TRUE = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}

BASELINE = r"""
import json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
d = np.load(sys.argv[1])
x, tx, T = d["frequency"], d["recency"], d["T"]
from lifetimes import ParetoNBDFitter
t, c = time.perf_counter(), time.process_time()
f = ParetoNBDFitter().fit(x, tx, T)
el, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"seconds": el, "cpu": cpu, "params": {k: float(v) for k, v in f.params_.items()}}))
"""


def cohort(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    T = 39.0 - rng.integers(0, 84, size=n) / 7.0  # first purchase on one of 84 days
    sim = simulate_paretonbd(n, **TRUE, T=T, seed=seed)
    x = sim["frequency"].to_numpy()
    tx = np.minimum(np.round(sim["recency"].to_numpy() * 7.0) / 7.0, T)
    return x, np.where(x > 0, tx, 0.0), T


def total_ll(params: dict, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> float:
    m = ParetoNBDModel()
    m.params_ = {k: params[k] for k in ("r", "alpha", "s", "beta")}
    return float(m.log_likelihood(x, tx, T).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=23_570)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-baselines", action="store_true")
    args = ap.parse_args()

    x, tx, T = cohort(args.customers)
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / f"paretonbd_{args.customers}.npz"
    np.savez(data, frequency=x, recency=tx, T=T)

    ParetoNBDModel().fit(x, tx, T)  # warm-up (imports, first-call costs)
    times, cpus = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        model = ParetoNBDModel().fit(x, tx, T)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    ours, ours_cpu = float(np.median(times)), float(np.median(cpus))
    ll_ours = total_ll(model.params_, x, tx, T)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; python "
        f"{platform.python_version()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    n_rows = len(model._data[0])
    print(
        f"{args.customers:,} customers ({n_rows:,} distinct (x, t_x, T) rows), "
        f"sum x = {int(x.sum()):,}, true params {TRUE}"
    )
    print(
        f"retento ParetoNBDModel.fit: median {ours:.4f} s of {args.repeat} "
        f"(runs {', '.join(f'{t:.4f}' for t in times)}), {model.n_iter_} iterations"
    )
    print(f"  params { ({k: round(v, 4) for k, v in model.params_.items()}) }, LL {ll_ours:.4f}")
    rows = [("retento", ours, ours_cpu, ll_ours, model.params_)]
    if not args.skip_baselines:
        if not BENCH_PY.exists():
            print("lifetimes: not run (.venv-bench missing; run benchmarks/setup_baselines.sh)")
        else:
            res = subprocess.run(
                [str(BENCH_PY), "-c", BASELINE, str(data)], capture_output=True, text=True
            )
            if res.returncode != 0:
                print(f"lifetimes: failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
            else:
                out = json.loads(res.stdout.strip().splitlines()[-1])
                ll = total_ll(out["params"], x, tx, T)
                rows.append(("lifetimes", out["seconds"], out["cpu"], ll, out["params"]))
                print(
                    f"lifetimes ParetoNBDFitter.fit: {out['seconds']:.3f} s "
                    f"(CPU {out['cpu']:.3f} s), params "
                    f"{ ({k: round(v, 4) for k, v in out['params'].items()}) }, LL {ll:.4f}"
                )
    print()
    print(
        "| library | wall (s) | CPU (s) | retento speed-up, wall | retento speed-up, CPU "
        "| LL | LL diff vs retento | max rel. param diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, sec, cpu, ll, p in rows:
        pdiff = max(abs(p[k] - model.params_[k]) / model.params_[k] for k in TRUE)
        print(
            f"| {name} | {sec:.4f} | {cpu:.4f} | {sec / ours:.1f}x | {cpu / ours_cpu:.1f}x "
            f"| {ll:.4f} | {ll - ll_ours:+.6f} | {pdiff:.2e} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
