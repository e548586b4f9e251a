"""Benchmark: BG/NBD maximum-likelihood fit on 1,000,000 simulated customers (continuous T).

Compares Retento's ``BetaGeoModel.fit`` with lifetimes' ``BetaGeoFitter.fit`` and
PyMC-Marketing's ``BetaGeoModel.fit(method="map")``, measured in the same run on the same data.
The baselines run in the git-ignored venv ``.venv-bench`` (``bash benchmarks/setup_baselines.sh``);
a baseline that is not installed is reported and skipped.

Log-likelihoods are all evaluated with Retento's likelihood at each library's parameters, so the
"LL diff" column compares optima on the same function (PyMC-Marketing's MAP includes its default
priors, whose influence is negligible at this sample size).

    .venv/bin/python benchmarks/bench_bgnbd_fit.py [--customers 1000000] [--repeat 3]

``--model mbgnbd`` fits the MBG/NBD model (Batislam et al. 2007) to the same data instead:
Retento's ``ModifiedBetaGeoModel`` against lifetimes' ``ModifiedBetaGeoFitter`` (PyMC-Marketing
has no MBG/NBD model).
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

from retento.analytics import BetaGeoModel, ModifiedBetaGeoModel, simulate_bgnbd

ROOT = Path(__file__).resolve().parents[1]
BENCH_PY = ROOT / ".venv-bench" / "bin" / "python"
OUT = ROOT / "benchmarks" / "out"
TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

BASELINE = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.filterwarnings("ignore")
which, path = sys.argv[1], sys.argv[2]
d = np.load(path)
x, tx, T = d["frequency"], d["recency"], d["T"]
if which.startswith("lifetimes"):
    from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter
    cls = ModifiedBetaGeoFitter if which == "lifetimes-mbg" else BetaGeoFitter
    t, c = time.perf_counter(), time.process_time()
    f = cls().fit(x, tx, T)
    el, cpu = time.perf_counter() - t, time.process_time() - c
    p = {k: float(v) for k, v in f.params_.items()}
else:
    from pymc_marketing.clv import BetaGeoModel
    df = pd.DataFrame({"customer_id": np.arange(len(x)), "frequency": x, "recency": tx, "T": T})
    t, c = time.perf_counter(), time.process_time()
    m = BetaGeoModel(data=df)
    m.fit(method="map", progressbar=False)
    el, cpu = time.perf_counter() - t, time.process_time() - c
    post = m.fit_result  # MAP point as a one-draw posterior (fit_summary rounds to 3 dp)
    p = {k: float(np.asarray(post[k]).squeeze()) for k in ("r", "alpha", "a", "b")}
print(json.dumps({"seconds": el, "cpu": cpu, "params": p}))
"""


def run_baseline(name: str, data: Path) -> dict | None:
    if not BENCH_PY.exists():
        return {"error": ".venv-bench missing; run benchmarks/setup_baselines.sh"}
    res = subprocess.run(
        [str(BENCH_PY), "-c", BASELINE, name, str(data)], capture_output=True, text=True
    )
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def total_ll(
    params: dict, x: np.ndarray, tx: np.ndarray, T: np.ndarray, cls: type = BetaGeoModel
) -> float:
    m = cls()
    m.params_ = {k: params[k] for k in ("r", "alpha", "a", "b")}
    return float(m.log_likelihood(x, tx, T).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--model", choices=("bgnbd", "mbgnbd"), default="bgnbd")
    args = ap.parse_args()
    cls = ModifiedBetaGeoModel if args.model == "mbgnbd" else BetaGeoModel
    baselines = ("lifetimes-mbg",) if args.model == "mbgnbd" else ("lifetimes", "pymc-marketing")

    sim = simulate_bgnbd(args.customers, **TRUE, T=(27.0, 39.0), seed=42)
    x, tx, T = (sim[c].to_numpy() for c in ("frequency", "recency", "T"))
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / f"bgnbd_{args.customers}.npz"
    np.savez(data, frequency=x, recency=tx, T=T)

    times, cpus = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        model = cls().fit(x, tx, T)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    ours = float(np.median(times))
    ours_cpu = float(np.median(cpus))
    ll_ours = total_ll(model.params_, x, tx, T, cls)
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; python {platform.python_version()}")
    print(f"{args.customers:,} customers, T ~ U(27, 39) weeks, true params {TRUE}")
    print(
        f"retento {cls.__name__}.fit: median {ours:.3f} s of {args.repeat} "
        f"(runs {', '.join(f'{t:.3f}' for t in times)}), {model.n_iter_} iterations"
    )
    print(f"  params { ({k: round(v, 4) for k, v in model.params_.items()}) }, LL {ll_ours:.2f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  median CPU {ours_cpu:.3f} s; 1-min load average {load:.1f}")
    rows = [("retento", ours, ours_cpu, ll_ours)]
    if not args.skip_baselines:
        for name in baselines:
            res = run_baseline(name, data)
            if res is None or "error" in res:
                print(f"{name}: not run ({res and res.get('error')})")
                continue
            ll = total_ll(res["params"], x, tx, T, cls)
            rows.append((name, res["seconds"], res["cpu"], ll))
            print(
                f"{name}: {res['seconds']:.2f} s (CPU {res['cpu']:.2f} s), params "
                f"{ ({k: round(v, 4) for k, v in res['params'].items()}) }, LL {ll:.2f}"
            )
    print()
    print(
        "| library | wall (s) | CPU (s) | retento speed-up, wall | retento speed-up, CPU "
        "| LL | LL diff vs retento |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, sec, cpu, ll in rows:
        rel = (ll - ll_ours) / abs(ll_ours) * 100
        print(
            f"| {name} | {sec:.3f} | {cpu:.3f} | {sec / ours:.1f}x | {cpu / ours_cpu:.1f}x "
            f"| {ll:.2f} | {rel:+.6f} % |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
