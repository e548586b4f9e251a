"""CDNOW: do the numbers of CDs per order improve the churn model? (docs/analytics-churn.md,
"Third attempt").

    .venv/bin/python benchmarks/churn_quantity_experiment.py val       # validation only
    .venv/bin/python benchmarks/churn_quantity_experiment.py holdout   # weeks 40-78, once
    .venv/bin/python benchmarks/churn_quantity_experiment.py ceiling   # CV on the eval labels

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

from retento.analytics.churn import ChurnRiskModel, TransactionLog, churn_metrics

DATA = Path(__file__).parents[1] / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
CUT, HORIZON = pd.Timestamp("1997-09-30"), 273
VALIDATION = (("1997-06-30", 92), ("1997-07-31", 61), ("1997-06-01", 121))
SETS = {
    "A": ["cds_per_order", "cds_total", "spend_per_cd"],
    "B": ["cds_per_order", "cds_total", "spend_per_cd", "cds_last", "cds_trend"],
    "C": ["cds_per_order", "cds_total", "spend_per_cd", "cds_last", "cds_first", "cds_recent",
          "cds_prior", "cds_trend", "cds_last_vs_mean", "cds_max"],
    "D": ["cds_total"],
    "E": ["cds_per_order", "cds_total"],
}  # fmt: skip


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA, sep=r"\s+", header=None, names=["cid", "id", "date", "cds", "amount"])
    df["date"] = pd.to_datetime(df["date"].astype(str))
    return df


def cd_features(df: pd.DataFrame, cut: pd.Timestamp, cols: list[str]) -> pd.DataFrame:
    """The candidate CD features as of ``cut`` (same-day orders merged), for ``extra``."""
    d = df[df["date"] <= cut]
    day = d.groupby(["id", "date"], as_index=False)[["cds", "amount"]].sum()
    day = day.sort_values(["id", "date"])
    g = day.groupby("id")
    out = pd.DataFrame(index=pd.Index(sorted(day["id"].unique()), name="id"))
    out["cds_total"] = g["cds"].sum()
    out["cds_per_order"] = g["cds"].mean()
    out["cds_last"] = g["cds"].last()
    out["cds_first"] = g["cds"].first()
    out["spend_per_cd"] = g["amount"].sum() / g["cds"].sum().clip(lower=1)
    w = pd.Timedelta(days=91)
    rec = day[day["date"] > cut - w].groupby("id")["cds"].sum()
    pri = day[(day["date"] > cut - 2 * w) & (day["date"] <= cut - w)].groupby("id")["cds"].sum()
    out["cds_recent"] = rec.reindex(out.index).fillna(0)
    out["cds_prior"] = pri.reindex(out.index).fillna(0)
    out["cds_trend"] = out["cds_recent"] - out["cds_prior"]
    out["cds_last_vs_mean"] = out["cds_last"] / out["cds_per_order"]
    out["cds_max"] = g["cds"].max()
    return out[cols]


def run(df: pd.DataFrame, cut: pd.Timestamp, h: int, variant: str) -> float:
    """Holdout ROC AUC at ``cut``: ``none``, a set of SETS through ``extra``, or ``shipped``
    (the ``quantity_col`` group)."""
    d = df[df["date"] <= cut + pd.Timedelta(days=h)]
    qty = "cds" if variant == "shipped" else None
    cols = SETS.get(variant)
    labels = {c: ("{value}", "{value}") for c in cols or []}
    extra = (lambda c: cd_features(df, c, cols)) if cols else None
    with TransactionLog(d, "id", "date", "amount", quantity_col=qty) as log:
        model = ChurnRiskModel(horizon_days=h, linear=True, feature_labels=labels)
        model.fit_transactions(log, cut, extra=extra)
        scores = model.score_transactions(log, cut, extra=extra)
        y = log.labels(cut, h, scores.index)
    return churn_metrics(y, scores["churn_risk"])["roc_auc"]


def cv_ceiling_auc(a: np.ndarray, y: np.ndarray) -> float:
    """Mean ROC AUC of a logistic regression cross-validated (5 folds, 3 seeds) on the evaluation
    labels themselves: what the features could give at best, not an honest score."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    a = np.sign(a) * np.log1p(np.abs(a))
    aucs = []
    for seed in range(3):
        lr = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(C=0.1, max_iter=3000),
        )
        cv = StratifiedKFold(5, shuffle=True, random_state=seed)
        p = cross_val_predict(lr, a, y, cv=cv, method="predict_proba")[:, 1]
        aucs.append(roc_auc_score(y, p))
    return float(np.mean(aucs))


def ceiling(df: pd.DataFrame) -> None:
    with TransactionLog(df, "id", "date", "amount", quantity_col="cds") as log:
        X = log.features(CUT, horizon_days=HORIZON)
        y = log.labels(CUT, HORIZON, X.index).to_numpy()
    units = [c for c in X.columns if c.startswith("units_") or c == "spend_per_unit"]
    base = [c for c in X.columns if c not in units]
    for name, cols in (("without quantity", base), ("with quantity", base + units)):
        print(f"ceiling {name}: {cv_ceiling_auc(X[cols].to_numpy(), y):.4f}", flush=True)


def main() -> None:
    warnings.simplefilter("ignore")
    mode = sys.argv[1] if len(sys.argv) > 1 else "val"
    df = load()
    if mode == "ceiling":
        ceiling(df)
        return
    variants = sys.argv[2].split(",") if len(sys.argv) > 2 else ["none", *SETS, "shipped"]
    for v in variants:
        if mode == "val":
            r = [run(df, pd.Timestamp(c), h, v) for c, h in VALIDATION]
            print(v, "validation", [round(x, 4) for x in r], round(float(np.mean(r)), 4))
        else:
            print(v, "holdout", round(run(df, CUT, HORIZON, v), 4), flush=True)


if __name__ == "__main__":
    main()
