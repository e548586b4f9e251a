"""Benchmark: customer segmentation on a large synthetic customer table (issue 13).

Builds ``--customers`` customers (1,000,000 by default) in six planted groups with log-normal
recency, frequency and total spend (and, with ``--extra``, churn risk and engagement), then
times :class:`retento.analytics.segments.CustomerSegmentation` for each ``--method``: the
choice of k over 2..8 (silhouette on a 10,000-customer sample for k-means, BIC for the mixture,
both on a 200,000-customer selection sample), the final fit on everyone and the profiles. It
prints wall seconds, peak resident memory, the chosen k, the adjusted Rand index against the
planted groups and the segment names. ``--transactions N`` also times
:func:`~retento.analytics.segments.segment_features` on a CSV of N transactions. Run:

    .venv/bin/python benchmarks/bench_segments.py [--customers 1000000] [--method kmeans gmm]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# (share, recency days, purchase days, total spend)
GROUPS = [
    (0.08, 6.0, 18.0, 2500.0),
    (0.30, 420.0, 1.0, 15.0),
    (0.17, 80.0, 4.0, 220.0),
    (0.15, 380.0, 1.0, 600.0),
    (0.20, 200.0, 2.0, 60.0),
    (0.10, 25.0, 8.0, 700.0),
]


def customers(n: int, extra: bool, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(GROUPS), size=n, p=[g[0] for g in GROUPS])
    r, f, m = (np.array([g[i] for g in GROUPS])[truth] for i in (1, 2, 3))
    X = pd.DataFrame(
        {
            "recency": np.round(r * np.exp(rng.normal(0, 0.15, n))),
            "frequency": np.where(
                f > 1, np.maximum(1, np.round(f * np.exp(rng.normal(0, 0.1, n)))), 1.0
            ),
            "monetary": m * np.exp(rng.normal(0, 0.15, n)),
        }
    )
    if extra:
        X["churn_risk"] = np.clip(X["recency"] / 500 + rng.normal(0, 0.05, n), 0, 1)
        X["engagement"] = np.log1p(X["frequency"]) * 2 + rng.normal(0, 0.2, n)
    return X, truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--method", nargs="+", default=["kmeans", "gmm"])
    ap.add_argument("--extra", action="store_true", help="add churn_risk and engagement")
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--transactions", type=int, default=0)
    args = ap.parse_args()

    from sklearn.metrics import adjusted_rand_score

    from retento.analytics.segments import CustomerSegmentation, segment_features

    t = time.perf_counter()
    X, truth = customers(args.customers, args.extra)
    print(f"load before: {os.getloadavg()}")
    print(f"{len(X):,} customers, {X.shape[1]} features built in {time.perf_counter() - t:.1f} s")
    for method in args.method:
        seg = CustomerSegmentation(method=method, n_jobs=args.n_jobs)
        t, cpu = time.perf_counter(), time.process_time()
        seg.fit(X)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ari = adjusted_rand_score(truth, seg.labels_)
        print(
            f"{method}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.0f} MB, k = {seg.n_clusters_} "
            f"(planted {len(GROUPS)}), adjusted Rand {ari:.3f}"
        )
        print("  scores: " + ", ".join(f"k={r.k}: {r.score:.4g}" for r in seg.scores_.itertuples()))
        for row in seg.profiles_.itertuples():
            print(
                f"  {row.segment} {row.name_en} / {row.name_zh}: {row.share:.1%}, "
                f"{row.revenue_share:.1%} of revenue"
            )
    if args.transactions:
        rng = np.random.default_rng(1)
        n = args.transactions
        tx = pd.DataFrame(
            {
                "customer": rng.integers(0, max(1, n // 3), n),
                "date": pd.Timestamp("2023-01-01")
                + pd.to_timedelta(rng.integers(0, 730, n), unit="D"),
                "amount": np.round(rng.lognormal(3.5, 1.0, n), 2),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tx.csv"
            tx.to_csv(path, index=False)
            t = time.perf_counter()
            F = segment_features(path, "customer", "date", "amount")
            print(
                f"segment_features: {n:,} transactions -> {len(F):,} customers in "
                f"{time.perf_counter() - t:.1f} s"
            )


if __name__ == "__main__":
    main()
