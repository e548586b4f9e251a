"""Benchmark: churn risk training and scoring on 1,000,000 simulated customers.

Simulates a one-year day-level transaction log (``simulate_transactions``: BG/NBD purchase
process, Gamma-Gamma amounts), loads it into a :class:`~retento.analytics.TransactionLog`, then

* trains :class:`~retento.analytics.ChurnRiskModel` on the windows before the cut-off
  (features + BTYD fits per window, out-of-fold stacking, final fits): target under 60 s;
* scores every customer at the cut-off (features, BTYD fits, risk and the top three reasons in
  English and Chinese): target under 20 s and 4 GB.

Reports wall and CPU time per phase, peak resident memory, the load average and, because the
log runs on past the cut-off, the holdout ROC AUC against the BG/NBD baseline.

With ``--baseline-rev REV`` (default: the last commit before the vectorised reasons) the same
run then loads ``retento/analytics/churn.py`` of that git revision, repeats loading, training
and scoring with it on the same (re-simulated, seeded) log, checks that both score the same and
prints the ratios baseline / now. Peak memory is read before the baseline runs.

    .venv/bin/python benchmarks/bench_churn.py [--customers 1000000] [--horizon-days 90]
        [--baseline-rev afae860 | --no-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _old_churn(rev: str) -> types.ModuleType:
    """``retento.analytics.churn`` as it was at git revision ``rev``."""
    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:src/retento/analytics/churn.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    mod = types.ModuleType("churn_baseline")
    sys.modules["churn_baseline"] = mod
    exec(compile(src, f"churn.py@{rev}", "exec"), mod.__dict__)  # noqa: S102 - our own file
    return mod


def _simulate(n: int) -> pd.DataFrame:
    from retento.analytics import simulate_transactions

    return simulate_transactions(n, 0.9, 20.0, 0.6, 8.0, seed=2024, observation_days=455)


class _Clock:
    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def done(self) -> dict[str, float]:
        return {
            "wall_s": round(time.perf_counter() - self.wall, 2),
            "cpu_s": round(time.process_time() - self.cpu, 2),
        }


def _run(churn: Any, n: int, horizon: int, cut: pd.Timestamp) -> dict[str, Any]:
    """Simulate, load, train and score with one version of the churn module."""
    clock = _Clock()
    tx = _simulate(n)
    sim = clock.done()
    clock = _Clock()
    log = churn.TransactionLog(tx, "customer_id", "date", "amount")
    del tx
    load = clock.done()
    clock = _Clock()
    model = churn.ChurnRiskModel(horizon_days=horizon)
    model.fit_transactions(log, cut)
    train = clock.done()
    clock = _Clock()
    scores = model.score_transactions(log, cut)
    score = clock.done()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    y = log.labels(cut, horizon, scores.index)
    log.close()
    return {
        "simulate": sim,
        "load": load,
        "train": train,
        "score": score,
        "peak_rss_gb": round(rss, 2),
        "model": model,
        "scores": scores,
        "y": y,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--horizon-days", type=int, default=90)
    parser.add_argument("--baseline-rev", default="afae860")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    from sklearn.metrics import roc_auc_score

    from retento.analytics import churn, churn_metrics

    warnings.simplefilter("ignore", RuntimeWarning)
    load0 = os.getloadavg()
    cut = pd.Timestamp("2024-01-01") + pd.Timedelta(days=365)
    now = _run(churn, args.customers, args.horizon_days, cut)
    load_mid = os.getloadavg()
    scores, y, model = now["scores"], now["y"], now["model"]
    m = churn_metrics(y, scores["churn_risk"])
    base_auc = roc_auc_score(y, -scores["expected_purchases_bgnbd"])
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "customers": int(len(scores)),
        "training_rows": int(sum(w["customers"] for w in model.windows_)),
        "windows": model.windows_,
        **{k: now[k] for k in ("simulate", "load", "train", "score", "peak_rss_gb")},
        "holdout_roc_auc": round(m["roc_auc"], 4),
        "bgnbd_expected_purchases_roc_auc": round(base_auc, 4),
        "brier": round(m["brier"], 4),
        "load_average_before": [round(v, 2) for v in load0],
        "load_average_after_new": [round(v, 2) for v in load_mid],
        "targets": {"score_s": 20, "train_s": 60, "peak_rss_gb": 4},
    }
    if not args.no_baseline:
        del now["model"]
        old = _run(_old_churn(args.baseline_rev), args.customers, args.horizon_days, cut)
        same = scores.index.equals(old["scores"].index)
        diff = float(np.max(np.abs(scores["churn_risk"].to_numpy() - old["scores"]["churn_risk"])))
        reasons_equal = all(
            scores[c].fillna("").equals(old["scores"][c].fillna(""))
            for c in ("reason_code_1", "reason_1", "reason_zh_1", "reason_3", "reason_zh_3")
        )
        result["baseline"] = {
            "rev": args.baseline_rev,
            **{k: old[k] for k in ("load", "train", "score")},
            "same_customers": bool(same),
            "max_abs_risk_difference": diff,
            "same_reason_texts": bool(reasons_equal),
        }
        result["ratio_baseline_over_now"] = {
            k: round(old[k]["wall_s"] / max(now[k]["wall_s"], 1e-9), 2)
            for k in ("load", "train", "score")
        }
        result["ratio_baseline_over_now_cpu"] = {
            k: round(old[k]["cpu_s"] / max(now[k]["cpu_s"], 1e-9), 2)
            for k in ("load", "train", "score")
        }
        result["load_average_after_baseline"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
