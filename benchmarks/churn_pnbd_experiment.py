"""CDNOW: does the Pareto/NBD probability of no purchase in the horizon help the churn model?
(docs/analytics-churn.md, "Fourth attempt").

    .venv/bin/python benchmarks/churn_pnbd_experiment.py check     # P0 against simulation
    .venv/bin/python benchmarks/churn_pnbd_experiment.py val       # validation only
    .venv/bin/python benchmarks/churn_pnbd_experiment.py holdout VARIANTS   # weeks 40-78, once
    .venv/bin/python benchmarks/churn_pnbd_experiment.py ceiling   # CV on the eval labels

Validation never sees weeks 40-78: the model is trained on windows before a validation cut-off
and scored on labels that end by 1997-09-30 (the third attempt's three validation cut-offs).

The label is "no purchase in (c, c+h]". Under Pareto/NBD a customer alive at T with rates
(lambda, mu) buys in (T, T+t] with probability

    integral_0^t lambda e^{-(lambda+mu) u} du

(the first purchase comes at u before death and before t). Given (x, t_x, T) and alive, lambda
~ Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T) independently, so with a = alpha+T, b = beta+T

    P(X(T, T+t) > 0 | x, t_x, T) = P(alive) * integral_0^t (r+x)/(a+u) (a/(a+u))^{r+x}
                                                 (b/(b+u))^s du
                                 = P(alive) * integral_0^Z (1 + u(z)/b)^{-s} dz,

with z = 1 - (a/(a+u))^{r+x}, u(z) = a((1-z)^{-1/(r+x)} - 1), Z = 1 - (a/(a+t))^{r+x}; the
integrand is smooth and in (0, 1], so a 32-point Gauss-Legendre rule is exact to rounding.
With s -> 0 (nobody dies) it is P(alive) Z, the BG/NBD form; the Pareto/NBD customer may also die
during the window before buying, which makes P(no purchase) larger.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from retento.analytics.btyd_pnbd import ParetoNBDModel
from retento.analytics.churn import DAYS_PER_WEEK, ChurnRiskModel, TransactionLog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from churn_quantity_experiment import cv_ceiling_auc  # noqa: E402

DATA = Path(__file__).parents[1] / "tests" / "data" / "cdnow" / "CDNOW_sample.txt"
CUT, HORIZON = pd.Timestamp("1997-09-30"), 273
VALIDATION = (("1997-06-30", 92), ("1997-07-31", 61), ("1997-06-01", 121))
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(32)


def pnbd_p_buy_alive(params: dict, t: float, x, T) -> np.ndarray:
    """P(at least one purchase in (T, T+t] | alive at T, x, T) under Pareto/NBD."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    x, T = np.asarray(x, float), np.asarray(T, float)
    a, b, k = alpha + T, beta + T, r + x
    Z = -np.expm1(-k * np.log1p(t / a))
    z = 0.5 * Z[:, None] * (_NODES[None, :] + 1.0)
    u = a[:, None] * np.expm1(-np.log1p(-z) / k[:, None])
    f = np.exp(-s * np.log1p(u / b[:, None]))
    return 0.5 * Z * (f @ _WEIGHTS)


def pnbd_columns(feats: pd.DataFrame, horizon_days: float) -> pd.DataFrame:
    """Pareto/NBD fitted at the cut-off: P(alive), expected purchases and P(no purchase) in the
    horizon, per customer of ``feats`` (a TransactionLog.features table)."""
    x = feats["purchases"].to_numpy() - 1.0
    T = feats["tenure_days"].to_numpy() / DAYS_PER_WEEK
    tx = (feats["tenure_days"] - feats["days_since_last"]).to_numpy() / DAYS_PER_WEEK
    t = horizon_days / DAYS_PER_WEEK
    m = ParetoNBDModel().fit(x, tx, T)
    pa = m.probability_alive(x, tx, T)
    p0 = 1.0 - pa * pnbd_p_buy_alive(m.params_, t, x, T)
    ey = m.conditional_expected_purchases(t, x, tx, T)
    return pd.DataFrame(
        {"pnbd_p_alive": pa, "pnbd_expected": ey, "pnbd_p_none": p0}, index=feats.index
    )


def check() -> None:
    """P(no purchase) against a simulation of the posterior (fixed parameters)."""
    params = {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}
    rng = np.random.default_rng(0)
    n = 2_000_000
    for x, T, t in ((0, 30.0, 39.0), (3, 30.0, 39.0), (12, 50.0, 10.0)):
        lam = rng.gamma(params["r"] + x, 1.0 / (params["alpha"] + T), n)
        mu = rng.gamma(params["s"], 1.0 / (params["beta"] + T), n)
        death = rng.exponential(1.0 / mu)
        first = rng.exponential(1.0 / lam)
        sim = np.mean((first < death) & (first <= t))
        got = pnbd_p_buy_alive(params, t, np.array([x]), np.array([T]))[0]
        print(f"x={x} T={T} t={t}: formula {got:.5f}, simulation {sim:.5f}")


def load() -> pd.DataFrame:
    df = pd.read_csv(DATA, sep=r"\s+", header=None, names=["cid", "id", "date", "cds", "amount"])
    df["date"] = pd.to_datetime(df["date"].astype(str))
    return df[["id", "date", "amount"]]


SETS = {
    "none": [],
    "P": ["pnbd_p_none"],
    "PA": ["pnbd_p_none", "pnbd_p_alive", "pnbd_expected"],
}


def run(df: pd.DataFrame, cut: pd.Timestamp, h: int, variant: str) -> dict:
    """Model risk (with the variant's Pareto/NBD columns, each window at its own label length)
    and the rank-only scores at ``cut``; AUCs against the labels of (cut, cut + h]."""
    d = df[df["date"] <= cut + pd.Timedelta(days=h)]
    cols = SETS[variant]
    labels = {c: ("{value}", "{value}") for c in cols}
    with TransactionLog(d, "id", "date", "amount") as log:

        def extra(ck: pd.Timestamp) -> pd.DataFrame:
            days = h if ck >= cut else min(h, (cut - ck).days)
            return pnbd_columns(log.features(ck, horizon_days=days, btyd=False), days)[cols]

        model = ChurnRiskModel(horizon_days=h, linear=True, feature_labels=labels)
        model.fit_transactions(log, cut, extra=extra if cols else None)
        scores = model.score_transactions(log, cut, extra=extra if cols else None)
        y = log.labels(cut, h, scores.index).to_numpy()
        pn = pnbd_columns(scores, h)
        # Stacking: a second logistic regression on the model's out-of-fold log-odds and the
        # Pareto/NBD log-odds of no purchase, each training window's P0 at its own label length
        # (the rows in fit_transactions' order).
        train_pn = pd.concat(
            [
                pnbd_columns(log.features(ck, horizon_days=days, btyd=False), days)
                for ck, days in model._windows(log, cut)
            ]
        )
        p0_train = train_pn["pnbd_p_none"].to_numpy()
        e_train = train_pn["pnbd_expected"].to_numpy()
        y_train = np.concatenate(
            [
                log.labels(ck, days, log.features(ck, horizon_days=days, btyd=False).index)
                for ck, days in model._windows(log, cut)
            ]
        )
    rows = model.oof_rows_
    stack = LogisticRegression(C=1e4, max_iter=1000).fit(
        np.column_stack([_logit(model.oof_risk_), _logit(p0_train[rows])]), y_train[rows]
    )
    stacked = stack.decision_function(
        np.column_stack([_logit(scores["churn_risk"].to_numpy()), _logit(pn["pnbd_p_none"])])
    )
    # The same with -log E[purchases] (which ranks better than P0 on its own).
    stack_e = LogisticRegression(C=1e4, max_iter=1000).fit(
        np.column_stack([_logit(model.oof_risk_), -np.log(e_train[rows] + 1e-9)]), y_train[rows]
    )
    stacked_e = stack_e.decision_function(
        np.column_stack(
            [_logit(scores["churn_risk"].to_numpy()), -np.log(pn["pnbd_expected"] + 1e-9)]
        )
    )
    risk = scores["churn_risk"].to_numpy()
    return {
        "auc_stacked_e": roc_auc_score(y, stacked_e),
        "y": y,
        "risk": risk,
        "auc_stacked": roc_auc_score(y, stacked),
        "stack_coef": stack.coef_[0].round(3).tolist(),
        "pnbd_p_none": pn["pnbd_p_none"].to_numpy(),
        "pnbd_expected": pn["pnbd_expected"].to_numpy(),
        "bg_p_none": scores["p_no_purchase_bgnbd"].to_numpy(),
        "auc": roc_auc_score(y, risk),
        "auc_pnbd_p_none": roc_auc_score(y, pn["pnbd_p_none"]),
        "auc_pnbd_expected": roc_auc_score(y, -pn["pnbd_expected"]),
        "auc_bg_p_none": roc_auc_score(y, scores["p_no_purchase_bgnbd"]),
    }


def _logit(p) -> np.ndarray:
    return special.logit(np.clip(np.asarray(p, float), 1e-9, 1 - 1e-9))


def _z(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / v.std()


def blend(res: dict, w: float, other: str) -> np.ndarray:
    """w * z(model log-odds) + (1 - w) * z(the rank-only score's log-odds)."""
    p = np.clip(res["risk"], 1e-9, 1 - 1e-9)
    if other == "pnbd_p_none":
        o = special.logit(np.clip(res[other], 1e-9, 1 - 1e-9))
    else:
        o = -np.log(res[other] + 1e-9)
    return w * _z(special.logit(p)) + (1 - w) * _z(o)


def ceiling(df: pd.DataFrame) -> None:
    """5-fold CV on the evaluation labels themselves (not a usable model: it shows how much
    signal the features hold), logistic regression on signed-log features, three repeats."""

    with TransactionLog(df, "id", "date", "amount") as log:
        X = log.features(CUT, horizon_days=HORIZON)
        y = log.labels(CUT, HORIZON, X.index).to_numpy()
    X = X.join(pnbd_columns(X, HORIZON))
    X["pnbd_logit_p_none"] = _logit(X["pnbd_p_none"])
    base = [c for c in X.columns if not c.startswith("pnbd_")]
    for name, cols in (("without Pareto/NBD", base), ("with Pareto/NBD", list(X.columns))):
        print(f"ceiling {name}: {cv_ceiling_auc(X[cols].to_numpy(), y):.4f}", flush=True)


GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def main() -> None:
    warnings.simplefilter("ignore")
    mode = sys.argv[1] if len(sys.argv) > 1 else "val"
    if mode == "check":
        check()
        return
    df = load()
    if mode == "ceiling":
        ceiling(df)
        return
    variants = sys.argv[2].split(",") if len(sys.argv) > 2 else list(SETS)
    for v in variants:
        if mode == "val":
            rs = [run(df, pd.Timestamp(c), h, v) for c, h in VALIDATION]
            print(v, "stack coefficients", [r["stack_coef"] for r in rs])
            keys = (
                "auc",
                "auc_stacked",
                "auc_stacked_e",
                "auc_pnbd_p_none",
                "auc_pnbd_expected",
                "auc_bg_p_none",
            )
            for key in keys:
                a = [r[key] for r in rs]
                print(v, key, [round(x, 4) for x in a], round(float(np.mean(a)), 4), flush=True)
            if v == "none":
                for other in ("pnbd_p_none", "pnbd_expected"):
                    means = [
                        np.mean([roc_auc_score(r["y"], blend(r, w, other)) for r in rs])
                        for w in GRID
                    ]
                    best = int(np.argmax(means))
                    print(
                        "blend",
                        other,
                        {float(w): round(float(m), 4) for w, m in zip(GRID, means, strict=True)},
                        "best w",
                        GRID[best],
                        flush=True,
                    )
        else:
            r = run(df, CUT, HORIZON, v)
            print(v, "holdout", round(r["auc"], 4), flush=True)
            print(v, "stacked", round(r["auc_stacked"], 4), r["stack_coef"], flush=True)
            print(v, "stacked with -log E", round(r["auc_stacked_e"], 4), flush=True)
            if v == "none":
                for key in ("auc_pnbd_p_none", "auc_pnbd_expected", "auc_bg_p_none"):
                    print("rank-only", key, round(r[key], 4))
                for spec in sys.argv[3:]:  # e.g. pnbd_p_none:0.6 (weights chosen on validation)
                    other, w = spec.split(":")
                    auc = roc_auc_score(r["y"], blend(r, float(w), other))
                    print("blend", other, w, "holdout", round(auc, 4), flush=True)


if __name__ == "__main__":
    main()
