"""Turn per-customer SQL summaries into scores with ``retento.analytics`` (no database here)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from retento import analytics as A
from retento.analytics.btyd_base import _discounted_clv, _unique_rows
from retento.analytics.spend import fit_spend
from retento.scoring.schemas import ScoreRunCreate
from retento.scoring.value_rules import ValueRules

DAYS_PER_WEEK = 7.0


@dataclass
class ScoringResult:
    scores: pd.DataFrame
    params: dict[str, float]
    log_likelihood: float
    report: dict[str, Any]


def _model(name: str):
    # MBG/NBD: one-time buyers can be gone (BG/NBD gives them P(alive) = 1).
    models = {"pareto": A.ParetoNBDModel, "mbgnbd": A.ModifiedBetaGeoModel}
    return models.get(name, A.BetaGeoModel)()


def _round(d: dict[str, float], n: int = 4) -> dict[str, float]:
    return {k: round(float(v), n) for k, v in d.items()}


def score_customers(
    summary: pd.DataFrame,
    monthly: pd.DataFrame,
    holdout_tx: pd.DataFrame | None,
    cfg: ScoreRunCreate,
    *,
    as_of: datetime,
    rules: ValueRules | None = None,
) -> ScoringResult:
    """Fit the chosen model on buyers, score every customer, build the report; keep fit warnings.

    ``rules`` are the pyramid cut-offs and loyalty-stage rules of the value settings (default:
    the library's defaults); the report keeps them under ``settings``.
    """
    rules = rules or ValueRules()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _score(summary, monthly, holdout_tx, cfg, as_of=as_of, rules=rules)
    messages = sorted(
        {str(w.message).strip() for w in caught if issubclass(w.category, RuntimeWarning)}
    )
    result.report["fit"]["warnings"] = messages
    result.report = json_safe(result.report)
    return result


def json_safe(value: Any) -> Any:
    """NaN and infinities become ``None`` (PostgreSQL's JSON refuses them); NumPy scalars become Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _score(
    summary: pd.DataFrame,
    monthly: pd.DataFrame,
    holdout_tx: pd.DataFrame | None,
    cfg: ScoreRunCreate,
    *,
    as_of: datetime,
    rules: ValueRules,
) -> ScoringResult:
    buyers = summary[summary["order_count"] > 0].copy()
    x = buyers["frequency"].to_numpy(float)
    t_x = buyers["recency_days"].to_numpy(float) / DAYS_PER_WEEK
    T = buyers["T_days"].to_numpy(float) / DAYS_PER_WEEK
    model = _model(cfg.model).fit(x, t_x, T)
    horizon = float(cfg.horizon_weeks)
    buyers["p_alive"] = np.clip(model.probability_alive(x, t_x, T), 0.0, 1.0)
    buyers["expected_purchases"] = model.conditional_expected_purchases(horizon, x, t_x, T)

    revenue_total = float(buyers["revenue"].sum())
    observed_margin = float(buyers["profit"].sum()) / revenue_total if revenue_total > 0 else 0.0
    margin = cfg.margin if cfg.margin is not None else min(max(observed_margin, 0.0), 1.0)
    monetary = buyers["monetary"].to_numpy(float)
    gg_params: dict[str, float] = {}
    spend_report: dict[str, Any]
    try:
        # Gamma-Gamma only on repeat buyers with a positive mean repeat spend; the others ($0 or
        # refunded repeat purchases) get the population mean, as in `retento analyze clv`.
        spend_fit = fit_spend(x, monetary)
    except (ValueError, A.ConvergenceError) as exc:
        mean_order = revenue_total / max(int(buyers["order_count"].sum()), 1)
        spend = np.full(len(buyers), mean_order)
        clv = buyers["expected_purchases"].to_numpy() * spend * margin
        spend_report = {
            "model": "mean_order",
            "reason": str(exc),
            "customers_fitted": 0,
            "left_out": 0,
            "left_out_reason": None,
            "population_mean_spend": mean_order,
        }
    else:
        gg_params = dict(spend_fit.model.params_)
        spend = spend_fit.expected_spend()
        clv = margin * spend * _discounted_purchases(model, x, t_x, T, horizon, cfg.discount_rate)
        spend_report = {"model": "gamma_gamma", **spend_fit.to_dict()}
    buyers["expected_spend"] = spend
    buyers["clv"] = clv

    scores = summary.merge(
        buyers[["customer_id", "p_alive", "expected_purchases", "expected_spend", "clv"]],
        on="customer_id",
        how="left",
    )
    scores = _classify(scores, rules)
    report = _report(scores, model, cfg, monthly, holdout_tx, as_of, gg_params, margin, rules)
    report["fit"]["spend"] = spend_report
    out = pd.DataFrame(
        {
            "customer_id": scores["customer_id"].astype(int),
            "order_count": scores["order_count"].astype(int),
            "first_order_on": scores["first_day"],
            "last_order_on": scores["last_day"],
            "revenue": scores["revenue"],
            "profit": scores["profit"],
            "frequency": scores["frequency"].astype(int),
            "recency_weeks": (scores["recency_days"] / DAYS_PER_WEEK).round(4),
            "t_weeks": (scores["T_days"].fillna(0) / DAYS_PER_WEEK).round(4),
            "monetary": scores["monetary"],
            "p_alive": scores["p_alive"],
            "expected_purchases": scores["expected_purchases"],
            "expected_spend": scores["expected_spend"],
            "clv": scores["clv"],
            "rfm_r": scores["rfm_r"],
            "rfm_f": scores["rfm_f"],
            "rfm_m": scores["rfm_m"],
            "rfm_cell": scores["rfm_cell"],
            "value_class": scores["value_class"],
            "label": scores["label"],
            "loyalty_stage": scores["loyalty_stage"],
            "lapsed": scores["lapsed"].astype(bool),
        }
    )
    out = out.astype(object).where(pd.notna(out), None)
    return ScoringResult(out, _round(model.params_, 6), float(model.log_likelihood_), report)


def _discounted_purchases(
    model: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, horizon: float, rate: float
) -> np.ndarray:
    """Discounted expected purchases over the horizon (CLV = margin x spend x this)."""
    (ux, utx, uT), inverse = _unique_rows([x, t_x, T])
    return _discounted_clv(
        lambda t: model.conditional_expected_purchases(t, ux, utx, uT),
        np.ones(len(ux)),
        horizon,
        rate,
        1.0,
        DAYS_PER_WEEK,
    )[inverse]


def _pyramid(profit: pd.Series, rules: ValueRules) -> A.PyramidResult:
    """The value pyramid with the settings' cut-offs and small-customer threshold."""
    return A.value_pyramid(profit, rules.cutoffs, small_threshold=rules.small_threshold)


def _classify(scores: pd.DataFrame, rules: ValueRules) -> pd.DataFrame:
    """RFM, value pyramid, MVC/MGC/BZ labels and loyalty stage via ``retento.analytics``."""
    scores = scores.copy()
    buyers = scores["order_count"] > 0
    rfm = A.rfm_scores(scores[buyers], "days_since_last", "order_count", "revenue")
    for col, src in (("rfm_r", "r"), ("rfm_f", "f"), ("rfm_m", "m"), ("rfm_cell", "cell")):
        scores[col] = rfm[src].reindex(scores.index)
    scores["value_class"] = _pyramid(scores["profit"], rules).classes
    future = scores["clv"].fillna(0.0)
    scores["label"] = A.value_labels(scores["profit"], future)
    stages = A.loyalty_stage(scores.assign(tenure_days=scores["T_days"].fillna(0.0)), rules.stages)
    scores["loyalty_stage"] = stages["stage"]
    scores["lapsed"] = stages["lapsed"]
    return scores


def _hist(values: np.ndarray, bins: int = 20) -> dict[str, list[float]]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"edges": [], "counts": []}
    hi = float(np.quantile(values, 0.99)) if len(values) > 20 else float(values.max())
    lo = float(min(values.min(), 0.0))
    counts, edges = np.histogram(
        np.clip(values, lo, hi), bins=bins, range=(lo, hi if hi > lo else lo + 1)
    )
    return {"edges": [round(float(e), 2) for e in edges], "counts": [int(c) for c in counts]}


def _report(
    scores: pd.DataFrame,
    model: Any,
    cfg: ScoreRunCreate,
    monthly: pd.DataFrame,
    holdout_tx: pd.DataFrame | None,
    as_of: datetime,
    gg_params: dict[str, float],
    margin: float,
    rules: ValueRules,
) -> dict[str, Any]:
    """Everything the value dashboard draws, stored with the run so pages never refit."""
    profit = scores["profit"].to_numpy(float)
    pyramid = _pyramid(pd.Series(profit, index=scores["customer_id"]), rules)
    curve = A.pareto_curve(pd.Series(profit, index=scores["customer_id"]), points=101)
    buyers = scores[scores["order_count"] > 0]
    rng = np.random.default_rng(0)
    sample = (
        buyers if len(buyers) <= 2000 else buyers.iloc[rng.choice(len(buyers), 2000, replace=False)]
    )
    cohorts = (
        A.cohort_retention(monthly, "customer_id", "date", period="M") if len(monthly) else None
    )
    report: dict[str, Any] = {
        "fit": {
            "model": cfg.model,
            "params": {k: float(v) for k, v in model.params_.items()},
            "params_rounded": {k: round(float(v), 4) for k, v in model.params_.items()},
            "standard_errors": {k: float(v) for k, v in model.standard_errors_.items()},
            "log_likelihood": float(model.log_likelihood_),
            "customers": int(len(buyers)),
            "gamma_gamma": gg_params,
            "margin": margin,
            "horizon_weeks": cfg.horizon_weeks,
            "discount_rate": cfg.discount_rate,
        },
        "pyramid": pyramid.to_dict(),
        "pareto": curve.to_dict(),
        "cohorts": cohorts.to_dict() if cohorts is not None else None,
        "distribution": {
            "clv": _hist(buyers["clv"].to_numpy(float)),
            "p_alive": _hist(buyers["p_alive"].to_numpy(float), bins=10),
            "scatter": [
                [round(float(p), 4), round(float(c), 2), int(i)]
                for p, c, i in zip(
                    sample["p_alive"], sample["clv"], sample["customer_id"], strict=True
                )
            ],
        },
        "stages": {k: int(v) for k, v in scores["loyalty_stage"].value_counts().items()},
        "labels": {k: int(v) for k, v in scores["label"].value_counts().items()},
        "rfm": {k: int(v) for k, v in scores["rfm_cell"].dropna().value_counts().head(30).items()},
        "repeat_purchase_rate": float((buyers["frequency"] > 0).mean()) if len(buyers) else 0.0,
        "settings": rules.to_report(),
    }
    if holdout_tx is not None and cfg.holdout_weeks:
        report["holdout"] = _holdout(cfg, holdout_tx, as_of)
    return report


def _summarizer() -> Any:
    """The BTYD summary of the engine the settings name (``RETENTO_SCORING_ENGINE``)."""
    from retento.core.config import get_settings

    if get_settings().scoring_engine == "spark":
        from retento.analytics.spark import summarize

        return summarize
    return A.summarize


def _holdout(cfg: ScoreRunCreate, tx: pd.DataFrame, as_of: datetime) -> dict[str, Any] | None:
    """Refit on data before ``as_of − holdout`` and compare forecasts with what happened since."""
    cal_end = (as_of - timedelta(weeks=cfg.holdout_weeks)).date()
    obs_end = as_of.date()
    tx = tx[tx["date"] < pd.Timestamp(obs_end)]
    if len(tx) == 0 or (tx["date"] < pd.Timestamp(cal_end)).sum() == 0:
        return None
    summ = _summarizer()(
        tx,
        "customer_id",
        "date",
        "amount",
        freq="W",
        calibration_end=cal_end,
        observation_end=obs_end,
    )
    if len(summ) < 10:
        return None
    model = _model(cfg.model).fit(summ["frequency"], summ["recency"], summ["T"])
    rep = A.holdout_report(
        model,
        summ,
        tx,
        customer_col="customer_id",
        datetime_col="date",
        calibration_end=cal_end,
        observation_end=obs_end,
    )
    out = rep.to_dict()
    out.update(
        {
            "weeks": cfg.holdout_weeks,
            "calibration_end": cal_end.isoformat(),
            "mae": rep.mae,
            "predicted_total": rep.metrics["total_predicted"],
            "actual_total": rep.metrics["total_actual"],
        }
    )
    return out
