"""Churn risk of the database's customers with ``analytics.churn.ChurnRiskModel``.

The model is trained on earlier windows of the orders (cut-offs before the as-of date, labels
ending by it: never on what happens after), with the app's own records (complaints, surveys,
touchpoints, loyalty) as extra features through the provider registry of
:mod:`retento.scoring.features`, each as of the window's cut-off. Every buyer is then scored
at the as-of date: risk = probability of no purchase within the horizon, and up to three
reasons stored language-neutral as ``{"code", "params"}``.

When the history before the as-of date allows it, a second model is trained on the windows
before ``as_of - horizon`` and tested on what happened in the last horizon: the holdout metrics
(ROC AUC, PR AUC, lift in the top 10 %, Brier) beside the BTYD-only baseline.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from retento.analytics.auc import compare_roc_auc
from retento.analytics.churn import ChurnRiskModel, TransactionLog, churn_metrics
from retento.analytics.churn_reasons import extra_feature_labels, reason_params
from retento.scoring import queries
from retento.scoring.features import check_reason_texts, feature_providers, load_features

DEFAULT_HORIZON_DAYS = 90
TOP_REASONS = 3
MODEL_NAME = "ChurnRiskModel"


def _tx(session: Session, as_of: datetime, consent_only: bool = False) -> pd.DataFrame:
    tx = queries.daily_transactions(
        session, pd.Timestamp.min.date(), as_of, consent_only=consent_only
    )
    return tx[["customer_id", "date", "amount"]]


def churn_scores(
    session: Session,
    as_of: datetime,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    consent_only: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``(scores, report)``: scores indexed by customer id with ``churn_risk`` and
    ``churn_reasons``; empty with ``report["status"] == "skipped"`` and a ``reason`` when the
    history is too short (or one-sided) to train the model. With ``consent_only`` the model is
    trained on and scores only customers who agreed to profiling (``scoring.consent``)."""
    t0 = time.perf_counter()
    report: dict[str, Any] = {
        "model": MODEL_NAME,
        "horizon_days": int(horizon_days),
        "cutoff": as_of.date().isoformat(),
    }
    empty = pd.DataFrame(columns=["churn_risk", "churn_reasons"])
    tx = _tx(session, as_of, consent_only)
    if tx.empty:
        report.update(
            status="skipped", reason_code="no_orders", reason="no orders before the as-of date"
        )
        return empty, report
    providers = feature_providers()
    check_reason_texts(providers)
    customers = pd.Index(pd.unique(tx["customer_id"]).astype("int64"))
    cache: dict[pd.Timestamp, pd.DataFrame] = {}

    def extra(cut: pd.Timestamp) -> pd.DataFrame:
        # Providers see everything up to the end of the cut-off day, like the order features.
        if cut not in cache:
            moment = (cut + pd.Timedelta(days=1)).to_pydatetime().replace(tzinfo=as_of.tzinfo)
            table = load_features(session, moment, providers)
            cache[cut] = table.reindex(customers, fill_value=0.0)
        return cache[cut]

    columns = [c for p in providers for c in p.columns]
    report["features_from"] = {p.name: list(p.columns) for p in providers}
    cutoff = pd.Timestamp(as_of.date())
    with TransactionLog(tx, "customer_id", "date", "amount") as log:
        model = ChurnRiskModel(
            horizon_days=int(horizon_days), feature_labels=extra_feature_labels(columns)
        )
        try:
            model.fit_transactions(log, cutoff, extra=extra if providers else None)
        except ValueError as exc:
            report.update(
                status="skipped",
                reason_code="short_history",
                reason=str(exc),
            )
            return empty, report
        scored = model.score_transactions(
            log, cutoff, extra=extra if providers else None, top=TOP_REASONS
        )
        report["training_windows"] = model.windows_
        report["holdout"] = _holdout(log, cutoff, int(horizon_days), extra, providers, columns)
    out = pd.DataFrame(
        {
            "churn_risk": np.clip(scored["churn_risk"].to_numpy(float), 0.0, 1.0),
            "churn_reasons": _reasons(scored, int(model.trend_days)),
        },
        index=scored.index.astype("int64"),
    )
    counts: dict[str, int] = {}
    for reasons in out["churn_reasons"]:
        for r in reasons[:1]:
            counts[r["code"]] = counts.get(r["code"], 0) + 1
    report.update(
        status="scored",
        customers=int(len(out)),
        mean_risk=float(out["churn_risk"].mean()) if len(out) else None,
        above_half=int((out["churn_risk"] >= 0.5).sum()),
        top_reasons=dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        seconds=round(time.perf_counter() - t0, 2),
    )
    return out, report


def _reasons(scored: pd.DataFrame, trend_days: int) -> list[list[dict[str, Any]]]:
    """Per customer, up to three ``{"code", "params"}`` from ``explain``'s reason codes."""
    codes = [f"reason_code_{i}" for i in range(1, TOP_REASONS + 1) if f"reason_code_{i}" in scored]
    rows = scored.to_dict("records")
    out = []
    for row in rows:
        reasons = []
        for c in codes:
            code = row.get(c)
            if code is None or (isinstance(code, float) and np.isnan(code)):
                continue
            reasons.append(
                {"code": str(code), "params": reason_params(code, row, trend_days=trend_days)}
            )
        out.append(reasons)
    return out


def _holdout(
    log: TransactionLog,
    cutoff: pd.Timestamp,
    horizon: int,
    extra: Any,
    providers: list[Any],
    columns: list[str],
) -> dict[str, Any]:
    """Train on windows before ``cutoff - horizon``, test on the last ``horizon`` days."""
    test_cut = cutoff - pd.Timedelta(days=horizon)
    if test_cut <= log.first_day:
        return {
            "status": "skipped",
            "reason_code": "short_history",
            "reason": "no history before the test period",
        }
    model = ChurnRiskModel(horizon_days=horizon, feature_labels=extra_feature_labels(columns))
    try:
        model.fit_transactions(log, test_cut, extra=extra if providers else None)
        scored = model.score_transactions(log, test_cut, extra=extra if providers else None, top=1)
    except ValueError as exc:
        return {
            "status": "skipped",
            "reason_code": "short_history",
            "reason": str(exc),
        }
    y = log.labels(test_cut, horizon, scored.index).to_numpy()
    if np.unique(y).size < 2:
        return {
            "status": "skipped",
            "reason_code": "one_class",
            "reason": "everyone (or no one) churned in the test period",
        }
    risk = scored["churn_risk"].to_numpy(float)
    btyd = scored["p_no_purchase_bgnbd"].fillna(1.0).to_numpy(float)
    metrics = churn_metrics(y, risk)
    baseline = churn_metrics(y, btyd)
    keep = (
        "roc_auc", "roc_auc_se", "roc_auc_ci95", "pr_auc", "lift_at_10", "brier", "base_rate",
        "customers",
    )  # fmt: skip
    return {
        "status": "computed",
        "test_cutoff": test_cut.date().isoformat(),
        "test_days": horizon,
        "metrics": {k: metrics[k] for k in keep if k in metrics},
        "baseline": {
            "model": "BG/NBD",
            **{k: baseline[k] for k in keep if k in baseline},
        },
        # DeLong's paired test of the model's ROC AUC against BG/NBD's on the same customers.
        "comparison": compare_roc_auc(y, risk, btyd).as_dict(),
    }
