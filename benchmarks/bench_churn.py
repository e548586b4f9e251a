"""Benchmark: churn risk training and scoring on 1,000,000 simulated customers.

Simulates a one-year day-level transaction log (``simulate_transactions``: BG/NBD purchase
process, Gamma-Gamma amounts), loads it into a :class:`~retento.analytics.TransactionLog`, then

* trains :class:`~retento.analytics.ChurnRiskModel` on the windows before the cut-off
  (features + BTYD fits per window, out-of-fold stacking, final fits): target under 60 s;
* scores every customer at the cut-off (features, BTYD fits, risk and the top three reasons in
  English and Chinese): target under 20 s and 4 GB.

Reports wall time per phase, peak resident memory, the load average and, because the log runs
on past the cut-off, the holdout ROC AUC against the BG/NBD baseline.

    .venv/bin/python benchmarks/bench_churn.py [--customers 1000000] [--horizon-days 90]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import warnings

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--horizon-days", type=int, default=90)
    args = parser.parse_args()
    from sklearn.metrics import roc_auc_score

    from retento.analytics import (
        ChurnRiskModel,
        TransactionLog,
        churn_metrics,
        simulate_transactions,
    )

    warnings.simplefilter("ignore", RuntimeWarning)
    load0 = os.getloadavg()
    t = time.perf_counter()
    tx = simulate_transactions(args.customers, 0.9, 20.0, 0.6, 8.0, seed=2024, observation_days=455)
    sim_s = time.perf_counter() - t
    start = pd.Timestamp("2024-01-01")
    cut = start + pd.Timedelta(days=365)
    t = time.perf_counter()
    log = TransactionLog(tx, "customer_id", "date", "amount")
    del tx
    load_s = time.perf_counter() - t

    t = time.perf_counter()
    model = ChurnRiskModel(horizon_days=args.horizon_days)
    model.fit_transactions(log, cut)
    train_s = time.perf_counter() - t
    rss_train = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    t = time.perf_counter()
    scores = model.score_transactions(log, cut)
    score_s = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    y = log.labels(cut, args.horizon_days, scores.index)
    m = churn_metrics(y, scores["churn_risk"])
    base = roc_auc_score(y, -scores["expected_purchases_bgnbd"])
    result = {
        "customers": int(len(scores)),
        "training_rows": int(sum(w["customers"] for w in model.windows_)),
        "windows": model.windows_,
        "simulate_s": round(sim_s, 2),
        "load_s": round(load_s, 2),
        "train_s": round(train_s, 2),
        "score_s": round(score_s, 2),
        "peak_rss_gb_after_training": round(rss_train, 2),
        "peak_rss_gb": round(rss, 2),
        "holdout_roc_auc": round(m["roc_auc"], 4),
        "bgnbd_expected_purchases_roc_auc": round(base, 4),
        "brier": round(m["brier"], 4),
        "load_average_before": [round(v, 2) for v in load0],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "targets": {"score_s": 20, "train_s": 60, "peak_rss_gb": 4},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
