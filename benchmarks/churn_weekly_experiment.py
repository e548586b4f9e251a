"""CDNOW: do BTYD features counted on a weekly grid improve the churn model? (docs/analytics-churn.md,
"Fifth attempt").

    .venv/bin/python benchmarks/churn_weekly_experiment.py val       # validation only
    .venv/bin/python benchmarks/churn_weekly_experiment.py holdout   # weeks 40-78, once

Purchases in the same week (counted back from the cut-off: week 0 ends on the cut-off day) are
merged into one, and BG/NBD, MBG/NBD and Pareto/NBD are fitted to (x, t_x, T) in weeks. Each
training window uses its own label length as the forecast horizon, like the daily BTYD columns.
Validation never sees weeks 40-78: the model is trained on windows before a validation cut-off
and scored on labels that end by 1997-09-30.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from retento.analytics.btyd import BetaGeoModel
from retento.analytics.btyd_mbg import ModifiedBetaGeoModel
from retento.analytics.btyd_pnbd import ParetoNBDModel
from retento.analytics.churn import ChurnRiskModel, TransactionLog, churn_metrics

DATA = Path(__file__).parents[1] / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
CUT, HORIZON = pd.Timestamp("1997-09-30"), 273
VALIDATION = (("1997-06-30", 92), ("1997-07-31", 61), ("1997-06-01", 121))
MODELS = {"bg": BetaGeoModel, "mbg": ModifiedBetaGeoModel, "pnbd": ParetoNBDModel}
SETS = {
    "W": ["ew_bg", "ew_mbg", "ew_pnbd", "pa_bg", "pa_mbg", "pa_pnbd"],
    "Wexp": ["ew_bg", "ew_mbg", "ew_pnbd"],
    "Wmbg": ["ew_mbg", "pa_mbg"],
}


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA, sep=r"\s+", header=None, names=["cid", "id", "date", "cds", "amount"])
    df["date"] = pd.to_datetime(df["date"].astype(str))
    return df


def weekly(df: pd.DataFrame, cut: pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """Weekly-grid BTYD columns as of ``cut``: expected purchases in ``horizon_days`` and P(alive)."""
    d = df[df["date"] <= cut]
    weeks_back = (cut - d["date"]).dt.days // 7
    g = weeks_back.groupby(d["id"])
    first, last, n = g.max(), g.min(), g.nunique()
    x = (n - 1).to_numpy(float)
    tx = (first - last).to_numpy(float)
    T = first.to_numpy(float)
    out = pd.DataFrame(index=pd.Index(first.index, name="id"))
    for name, cls in MODELS.items():
        m = cls().fit(x, tx, T)
        out[f"ew_{name}"] = m.conditional_expected_purchases(horizon_days / 7.0, x, tx, T)
        out[f"pa_{name}"] = m.probability_alive(x, tx, T)
    return out


def run(df: pd.DataFrame, cut: pd.Timestamp, h: int, variant: str) -> float:
    """ROC AUC at ``cut`` of today's model (``none``), with a SETS variant through ``extra``, or a
    weekly BTYD score alone (``rank_<model>``)."""
    d = df[df["date"] <= cut + pd.Timedelta(days=h)]
    if variant.startswith("rank_"):
        w = weekly(d, cut, h)
        with TransactionLog(d, "id", "date", "amount") as log:
            y = log.labels(cut, h, w.index)
        return float(roc_auc_score(y, -w[f"ew_{variant[5:]}"]))
    cols = SETS.get(variant)
    labels = {c: ("{value}", "{value}") for c in cols or []}

    def extra(ck: pd.Timestamp) -> pd.DataFrame:
        days = h if ck >= cut else min(h, (cut - ck).days)
        return weekly(d, ck, days)[cols]

    with TransactionLog(d, "id", "date", "amount") as log:
        model = ChurnRiskModel(horizon_days=h, linear=True, feature_labels=labels)
        model.fit_transactions(log, cut, extra=extra if cols else None)
        scores = model.score_transactions(log, cut, extra=extra if cols else None)
        y = log.labels(cut, h, scores.index)
    return churn_metrics(y, scores["churn_risk"])["roc_auc"]


def main() -> None:
    warnings.simplefilter("ignore")
    mode = sys.argv[1] if len(sys.argv) > 1 else "val"
    df = load()
    default = ["none", *SETS, *(f"rank_{m}" for m in MODELS)]
    variants = sys.argv[2].split(",") if len(sys.argv) > 2 else default
    for v in variants:
        if mode == "val":
            r = [run(df, pd.Timestamp(c), h, v) for c, h in VALIDATION]
            print(
                v, "validation", [round(x, 4) for x in r], round(float(np.mean(r)), 4), flush=True
            )
        else:
            print(v, "holdout", round(run(df, CUT, HORIZON, v), 4), flush=True)


if __name__ == "__main__":
    main()
