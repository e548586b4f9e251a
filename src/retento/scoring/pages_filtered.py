"""The value dashboard's period and segment filters: the run report's customer parts (pyramid,
Pareto curve, distributions, stages, labels, churn risk) recomputed from the run's stored score
rows for the chosen customers. Cohorts, holdout and fit quality describe the model and stay as
the run computed them (for everyone)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fastapi import Request
from sqlalchemy.orm import Session

from retento import analytics as A
from retento.scoring import queries
from retento.scoring.models import VALUE_CLASSES, ScoreRun
from retento.web import dashfilters
from retento.web.i18n import N_
from retento.web.labels import label_msgid
from retento.web.render import request_locale, tr

SEGMENT_GROUPS = (
    ("value_class", N_("Value class (pyramid tier)")),
    ("stage", N_("Loyalty stage")),
    ("label", N_("Label")),
)
SCATTER_POINTS = 2000


def _extra_options(request: Request, kinds: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The options of segment kinds other domains registered (read in a short session)."""
    if not kinds:
        return {}
    locale = request_locale(request)
    with request.app.state.session_factory() as s:
        return {k: queries.EXTRA_SEGMENTS[k][1](s, locale) for k in kinds}


def parse(request: Request, default_period: str = "all") -> dashfilters.DashFilters:
    """The period and segment of the request (segments are those scoring stores, plus the
    kinds other domains registered, e.g. Insights' saved segments)."""
    allowed = dict(queries.SEGMENTS)
    kind = request.query_params.get("segment", "").strip().partition(":")[0]
    if kind in queries.EXTRA_SEGMENTS:
        allowed[kind] = tuple(v for v, _ in _extra_options(request, [kind])[kind])
    return dashfilters.parse(request, allowed, default_period=default_period)


def segment_choices(request: Request) -> list[tuple[str, list[tuple[str, str]]]]:
    """The segment select's option groups, in the reader's language."""
    out = []
    for kind, title in SEGMENT_GROUPS:
        label_kind = queries.segment_label_kind(kind)
        options = [
            (f"{kind}:{v}", tr(request, label_msgid(label_kind, v))) for v in queries.SEGMENTS[kind]
        ]
        out.append((tr(request, title), options))
    extra = _extra_options(request, list(queries.EXTRA_SEGMENTS))
    for kind, (title, _, _) in queries.EXTRA_SEGMENTS.items():
        if extra[kind]:
            out.append((tr(request, title), [(f"{kind}:{v}", t) for v, t in extra[kind]]))
    return out


def template_context(
    request: Request, f: dashfilters.DashFilters, action: str, hidden: list | None = None
) -> dict[str, Any]:
    """What ``_dash_filters.html`` needs."""
    return {
        "dash": f,
        "dash_segments": segment_choices(request),
        "dash_periods": dashfilters.PERIOD_OPTIONS,
        "dash_action": action,
        "dash_hidden": hidden or [],
    }


def _hist(values: np.ndarray, bins: int, lo: float | None = None, hi: float | None = None):
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"edges": [], "counts": []}
    if lo is None or hi is None:
        hi = float(np.quantile(values, 0.99)) if len(values) > 20 else float(values.max())
        lo = float(min(values.min(), 0.0))
        values = np.clip(values, lo, hi)
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    return {"edges": [round(float(e), 2) for e in edges], "counts": [int(c) for c in counts]}


def _pyramid(df: pd.DataFrame) -> dict[str, Any]:
    """Customers and profit per stored value class (the run's classes, not re-ranked)."""
    n = len(df)
    total = float(df["profit"].sum()) if n else 0.0
    classes = []
    for code in VALUE_CLASSES:
        part = df[df["value_class"] == code]
        if part.empty:
            continue
        profit = float(part["profit"].sum())
        classes.append(
            {
                "value_class": code,
                "customers": int(len(part)),
                "customer_share": len(part) / n,
                "rule_share": None,
                "profit": round(profit, 2),
                "profit_share": profit / total if total else None,
            }
        )
    return {"classes": classes, "customers": n, "total_profit": total}


def _sample(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) <= SCATTER_POINTS:
        return df
    rng = np.random.default_rng(0)
    return df.iloc[rng.choice(len(df), SCATTER_POINTS, replace=False)]


def filtered_report(run: ScoreRun, df: pd.DataFrame) -> dict[str, Any]:
    """``run.report`` with its customer parts recomputed from ``df`` (the chosen customers)."""
    report = dict(run.report or {})
    buyers = df[df["order_count"] > 0]
    report["pyramid"] = _pyramid(df)
    report["pareto"] = (
        A.pareto_curve(pd.Series(df["profit"].to_numpy(float)), points=101).to_dict()
        if len(df) and float(df["profit"].clip(lower=0).sum()) > 0
        else {}
    )
    sample = _sample(buyers.dropna(subset=["p_alive", "clv"]))
    report["distribution"] = {
        "clv": _hist(buyers["clv"].to_numpy(float), 20),
        "p_alive": _hist(buyers["p_alive"].to_numpy(float), 10),
        "scatter": [
            [round(float(p), 4), round(float(c), 2), int(i)]
            for p, c, i in zip(sample["p_alive"], sample["clv"], sample["customer_id"], strict=True)
        ],
    }
    report["stages"] = {k: int(v) for k, v in df["loyalty_stage"].value_counts().items()}
    report["labels"] = {k: int(v) for k, v in df["label"].value_counts().items()}
    churn = dict(report.get("churn") or {})
    if churn.get("status") == "scored":
        risky = df[df["churn_risk"].notna()]
        risk = risky["churn_risk"].to_numpy(float)
        points = _sample(risky)
        churn |= {
            "customers": int(len(risky)),
            "mean_risk": float(risk.mean()) if len(risk) else None,
            "above_half": int((risk >= 0.5).sum()),
            "distribution": {
                "hist": _hist(risk, 10, 0.0, 1.0),
                "scatter": [
                    [round(float(r), 4), round(float(c or 0.0), 2), int(i)]
                    for r, c, i in zip(
                        points["churn_risk"],
                        points["clv"].fillna(0.0),
                        points["customer_id"],
                        strict=True,
                    )
                ],
            },
        }
        report["churn"] = churn
    return report


def summary(df: pd.DataFrame) -> dict[str, Any]:
    """The headline numbers of the chosen customers."""
    var = df["value_at_risk"].dropna()
    return {
        "customers": int(len(df)),
        "clv": float(df["clv"].dropna().sum()),
        "value_at_risk": float(var.sum()),
        "at_risk": int((df["churn_risk"] >= 0.5).sum()),
    }


def scores_frame(session: Session, run: ScoreRun, f: dashfilters.DashFilters) -> pd.DataFrame:
    """The run's score rows of the customers the filters choose."""
    return queries.run_scores_frame(
        session,
        run.id,
        segment=(f.segment_kind, f.segment_value) if f.segment else None,
        bought=(f.start, f.end) if f.start is not None and f.end is not None else None,
    )
