"""Churn risk on the value pages: labels that name the model behind every number, risk charts,
and stored reasons rendered in the reader's language.

BG/NBD gives every one-time buyer P(alive) = 1 (a property of the model, not evidence), so a
page never shows that number as "safe": it is marked, and churn risk from the risk model is
shown next to it where the run computed it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from retento.analytics.churn_reasons import render_reason
from retento.core.config import get_settings
from retento.scoring.models import ScoreRun
from retento.web.i18n import N_, Formatter, standalone
from retento.web.render import request_locale, tr

# Proper names of the models: the same in every language.
MODEL_SHORT = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto": "Pareto/NBD"}

ONE_TIME_NOTE = N_(
    "BG/NBD gives every one-time buyer P(alive) = 100 %: this does not mean they are still "
    "active. Use churn risk for them."
)
NOT_COMPUTED = N_("Churn risk was not computed in this run: %(reason)s")
# Why a run (or its holdout test) has no churn numbers, by the code the run stored.
REASON_TEXTS = {
    "no_orders": N_("there are no orders before the as-of date"),
    "short_history": N_(
        "the order history before the as-of date is too short to train the risk model"
    ),
    "one_class": N_("everyone (or no one) stopped buying in the test period"),
    "off": N_("churn risk was not requested for this run"),
}
RISK_EXPLAIN = N_(
    "Probability that the customer makes no purchase in the next %(days)s days, from the churn "
    "risk model trained on earlier periods of your orders."
)


def model_short(model: str | None) -> str:
    return MODEL_SHORT.get(model or "", model or "?")


def alive_label(request: Request, model: str | None) -> str:
    """``P(alive) (BG/NBD)``, in the reader's language."""
    return tr(request, "P(alive) (%(model)s)", model=model_short(model))


def churn_report(run: ScoreRun | None) -> dict[str, Any]:
    return ((run.report or {}).get("churn") or {}) if run is not None else {}


def has_risk(run: ScoreRun | None) -> bool:
    return churn_report(run).get("status") == "scored"


def horizon_days(run: ScoreRun | None) -> int | None:
    h = churn_report(run).get("horizon_days")
    return int(h) if isinstance(h, int | float) else None


def risk_label(request: Request, run: ScoreRun | None) -> str:
    """``Churn risk (90 days)``."""
    days = horizon_days(run)
    if days is None:
        return tr(request, "Churn risk")
    return tr(request, "Churn risk (%(days)s days)", days=days)


def one_time_safe_mark(run_model: str | None, frequency: int | None) -> bool:
    """True where a P(alive) of 1 comes from BG/NBD's blindness to one-time buyers."""
    return run_model == "bgnbd" and (frequency or 0) == 0


def reason_texts(request: Request, reasons: list[dict[str, Any]] | None) -> list[str]:
    """Stored ``{"code", "params"}`` reasons in the reader's language, each shown on its own
    (starting with a capital in English)."""
    lang = "zh" if request_locale(request).lower().startswith("zh") else "en"
    money = Formatter(request_locale(request), currency=request.app.state.settings.currency).money
    out = []
    for r in reasons or []:
        if isinstance(r, dict) and r.get("code"):
            text = render_reason(str(r["code"]), r.get("params") or {}, lang, money=money)
            out.append(standalone(request_locale(request), text))  # a list item of its own
    return out


def not_computed_text(request: Request, run: ScoreRun | None) -> str | None:
    """Why a run has no churn risk (None when it has)."""
    ch = churn_report(run)
    if run is None or ch.get("status") == "scored":
        return None
    return tr(request, NOT_COMPUTED, reason=reason_text(request, ch))


def reason_text(request: Request, part: dict[str, Any]) -> str:
    """The stored reason code of a skipped step in words (older runs have none)."""
    code = part.get("reason_code")
    if code in REASON_TEXTS:
        return tr(request, REASON_TEXTS[code])
    return tr(request, "this run predates churn scoring")


def page_context(request: Request, run: ScoreRun | None) -> dict[str, Any]:
    """What every value page needs to label its numbers."""
    model = run.model if run is not None else None
    days = horizon_days(run)
    return {
        "alive_label": alive_label(request, model),
        "risk_label": risk_label(request, run),
        "has_risk": has_risk(run),
        "run_model": model,
        "risk_explain": tr(request, RISK_EXPLAIN, days=days) if days else "",
        "one_time_note": tr(request, ONE_TIME_NOTE),
        "risk_missing": not_computed_text(request, run),
        "default_churn_horizon": get_settings().churn_horizon_days,
        "holdout_missing": reason_text(request, churn_report(run).get("holdout") or {}),
    }
