"""CDNOW: does learning *how many* purchases follow, instead of *whether any* follows, rank churn
better? (docs/analytics-churn.md, "Seventh attempt").

    .venv/bin/python benchmarks/churn_count_experiment.py val       # validation only
    .venv/bin/python benchmarks/churn_count_experiment.py holdout   # weeks 40-78, once

The fourth attempt found that BTYD *expected purchases* rank the 0/1 label better than the
exact P(no purchase). This trains on the count of purchase days in each window's label period
(a Poisson rate with the label length as exposure) on the same windows and features as the
model, and ranks by the predicted rate. Validation never sees weeks 40-78: trained on windows
before a validation cut-off, scored on labels that end by 1997-09-30.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from retento.analytics.churn import ChurnRiskModel, TransactionLog
from retento.analytics.summary import _lit_date

DATA = Path(__file__).parents[1] / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
CUT, HORIZON = pd.Timestamp("1997-09-30"), 273
VALIDATION = (("1997-06-30", 92), ("1997-07-31", 61), ("1997-06-01", 121))


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA, sep=r"\s+", header=None, names=["cid", "id", "date", "cds", "amount"])
    df["date"] = pd.to_datetime(df["date"].astype(str))
    return df


def counts(log: TransactionLog, cut: pd.Timestamp, days: int, customers: pd.Index) -> np.ndarray:
    """Purchase days of each customer in (cut, cut + days]."""
    end = cut + pd.Timedelta(days=int(days))
    got = log._con.execute(
        f"SELECT cust, count(DISTINCT day) AS n FROM d WHERE day > {_lit_date(cut)} "
        f"AND day <= {_lit_date(end)} GROUP BY cust"
    ).df()
    return (
        pd.Series(got["n"].to_numpy(float), index=got["cust"])
        .reindex(customers)
        .fillna(0)
        .to_numpy()
    )


def linear_poisson(cols: list[str]):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import PoissonRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler

    from retento.analytics.churn import _signed_log

    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True),
        FunctionTransformer(_signed_log),
        SplineTransformer(n_knots=4, degree=3, extrapolation="linear"),
        StandardScaler(),
        PoissonRegressor(alpha=1e-3, max_iter=3000),
    )


def gb_poisson():
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss="poisson", learning_rate=0.06, max_iter=150, max_leaf_nodes=4,
        min_samples_leaf=20, early_stopping=False, random_state=0,
    )  # fmt: skip


def z(v: np.ndarray) -> np.ndarray:
    r = rankdata(v)
    return (r - r.mean()) / r.std()


def scores(df: pd.DataFrame, cut: pd.Timestamp, h: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    d = df[df["date"] <= cut + pd.Timedelta(days=h)]
    out: dict[str, np.ndarray] = {}
    with TransactionLog(d, "id", "date", "amount") as log:
        model = ChurnRiskModel(horizon_days=h, linear=True)
        windows = model._windows(log, cut)
        frames, rates, expo = [], [], []
        for ck, days in windows:
            f = log.features(ck, horizon_days=days, trend_days=model.trend_days)
            f["horizon_days"] = float(days)
            frames.append(f)
            rates.append(counts(log, ck, days, f.index) / days)
            expo.append(np.full(len(f), float(days)))
        X = pd.concat(frames, ignore_index=True)
        rate, w = np.concatenate(rates), np.concatenate(expo)
        Xs = log.features(cut, horizon_days=h, trend_days=model.trend_days)
        Xs["horizon_days"] = float(h)
        y = log.labels(cut, h, Xs.index).to_numpy()
        model.fit(X, (rate == 0).astype(int), groups=np.concatenate([f.index for f in frames]))
        out["model"] = model.predict_proba(Xs[X.columns])[:, 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lin = linear_poisson(list(X.columns)).fit(X, rate, poissonregressor__sample_weight=w)
            gb = gb_poisson().fit(X, rate, sample_weight=w)
        out["pois_lin"] = -lin.predict(Xs[X.columns])
        out["pois_gb"] = -gb.predict(Xs[X.columns])
        out["pois_both"] = z(out["pois_lin"]) + z(out["pois_gb"])
        out["model+pois_lin"] = z(out["model"]) + z(out["pois_lin"])
        out["model+pois_both"] = z(out["model"]) + out["pois_both"] / 2
        out["btyd_ew_mbg"] = -Xs["expected_purchases_mbgnbd"].to_numpy()
        # BTYD as the offset: learn a multiplier on MBG/NBD's expected purchases.
        e = np.clip(X["expected_purchases_mbgnbd"].to_numpy(), 1e-3, None)
        es = np.clip(Xs["expected_purchases_mbgnbd"].to_numpy(), 1e-3, None)
        cnt = rate * w
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for alpha in (1e-2, 1e-1, 1.0):
                lo = linear_poisson(list(X.columns)).set_params(poissonregressor__alpha=alpha)
                lo.fit(X, cnt / e, poissonregressor__sample_weight=e)
                out[f"off_lin_{alpha:g}"] = -es * lo.predict(Xs[X.columns])
            for it in (20, 50, 150):
                go = gb_poisson().set_params(max_iter=it).fit(X, cnt / e, sample_weight=e)
                out[f"off_gb_{it}"] = -es * go.predict(Xs[X.columns])
    return out, y


def main() -> None:
    warnings.simplefilter("ignore")
    mode = sys.argv[1] if len(sys.argv) > 1 else "val"
    df = load()
    cuts = VALIDATION if mode == "val" else ((str(CUT.date()), HORIZON),)
    table: dict[str, list[float]] = {}
    for c, h in cuts:
        s, y = scores(df, pd.Timestamp(c), h)
        for k, v in s.items():
            table.setdefault(k, []).append(roc_auc_score(y, v))
    for k, r in table.items():
        print(f"{k:18s} {mode}", [round(x, 4) for x in r], round(float(np.mean(r)), 4), flush=True)


if __name__ == "__main__":
    main()
