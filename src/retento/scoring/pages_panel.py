"""The customer 360 scores panel: the customer's latest value and loyalty scores, what each
number means (with the cut-offs of the run's value settings) and the past runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from fastapi import Request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.scoring import consent, pages_churn
from retento.scoring.models import CustomerScore, ScoreRun
from retento.web.i18n import N_
from retento.web.render import tr

HISTORY_ROWS = 6


# One line per score on the 360 panel: what the number means.
EXPLAIN = {
    "value_class": N_(
        "Place in the customer pyramid by profit: VIP (top 5 %), major (next 15 %), "
        "ordinary (next 80 %), then small and below-zero customers."
    ),
    "label": N_(
        "MVC: brings the most profit today; MGC: the most future value to grow; "
        "BZ: costs more than it brings."
    ),
    "loyalty_stage": N_(
        "Step on the loyalty ladder (potential, new, regular, old, loyal), "
        "from how long and how often the customer has bought."
    ),
    "clv": N_("Customer lifetime value: the discounted profit expected from this customer."),
    "p_alive": N_(
        "Probability that the customer is still active rather than silently gone, "
        "judged from the purchase rhythm."
    ),
    "expected_purchases": N_(
        "Number of purchases the model expects from this customer over the forecast horizon."
    ),
    "rfm_cell": N_("Recency, frequency and money quintiles, 5 = best (e.g. 545)."),
    "lapsed": N_("Lapsed means the customer is overdue compared with their usual buying rhythm."),
}


@dataclass(frozen=True)
class _PanelRun:
    """What the 360 panel needs of a scoring run: its model and date, and the few parts of its
    report the labels read (the whole report, ~130 KB of JSON, is never loaded for the panel)."""

    id: int
    model: str
    as_of: datetime
    report: dict[str, Any]


# JSON paths of the report that the panel's labels read (pages_churn, _class_explain).
_PANEL_REPORT_PATHS = (
    ("fit", "horizon_weeks"),
    ("settings", "top_pct"),
    ("churn", "status"),
    ("churn", "horizon_days"),
    ("churn", "reason_code"),
    ("churn", "holdout", "reason_code"),
)


def _panel_report(values: tuple[Any, ...]) -> dict[str, Any]:
    """The report's parts at ``_PANEL_REPORT_PATHS`` as a nested dict shaped like the report."""
    out: dict[str, Any] = {}
    for path, value in zip(_PANEL_REPORT_PATHS, values, strict=True):
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


@cache
def _history_stmt() -> Any:
    """The customer's last scores with their runs' parts (built once: building the statement
    and its cache key cost as much CPU as running it)."""
    paths = [ScoreRun.report[path] for path in _PANEL_REPORT_PATHS]
    # Last column: whether profiling needs consent (the setting), read in the same round trip.
    return (
        select(CustomerScore, ScoreRun.model, ScoreRun.as_of, *paths, consent.setting_on_sql())
        .join(ScoreRun, ScoreRun.id == CustomerScore.run_id)
        .where(
            CustomerScore.customer_id
            == bindparam("customer_id", type_=CustomerScore.customer_id.type),
            ScoreRun.status == "succeeded",
        )
        .order_by(CustomerScore.run_id.desc())
        .limit(HISTORY_ROWS)
    )


@cache
def _any_run_stmt() -> Any:
    """Whether any run succeeded, and the consent setting (for a customer with no scores)."""
    any_run = select(ScoreRun.id).where(ScoreRun.status == "succeeded").exists()
    return select(any_run.label("any_run"), consent.setting_on_sql())


def scores_for_panel(
    request: Request, session: Session, customer: Customer, user: User
) -> dict[str, Any] | None:
    """The customer's latest scores with explanations and the past runs; hidden before any run.

    One query reads the history with its runs' model, date and the report parts the labels use.
    """
    require(user, "score:read")
    rows = session.execute(_history_stmt(), {"customer_id": customer.id}).all()
    any_run, needs_consent = (True, rows[0][-1]) if rows else session.execute(_any_run_stmt()).one()
    if needs_consent and not customer.consent_profiling:
        # "Profiling needs the customer's consent" is on and this customer has not agreed:
        # no score is shown, not even one an earlier run stored (the next run deletes it).
        return {"not_profiled": True}
    rows = [r[:-1] for r in rows]
    if not any_run:
        return None
    history: list[CustomerScore] = [r[0] for r in rows]
    runs: dict[int, _PanelRun] = {
        r[0].run_id: _PanelRun(r[0].run_id, r[1], r[2], _panel_report(tuple(r[3:]))) for r in rows
    }
    latest: CustomerScore | None = history[0] if history else None
    latest_run = runs.get(latest.run_id) if latest is not None else None
    horizon = latest_run.report["fit"]["horizon_weeks"] if latest_run is not None else None
    return {
        **pages_churn.page_context(request, latest_run),  # type: ignore[arg-type]
        "reasons": pages_churn.reason_texts(request, latest.churn_reasons if latest else None),
        # Reasons computed and none listed (``[]``; older runs stored None): the page says so
        # rather than showing a risk of 63 % with nothing under it.
        "no_reason": latest is not None
        and latest.churn_risk is not None
        and latest.churn_reasons == [],
        "one_time_mark": latest is not None
        and latest_run is not None
        and latest.p_alive is not None  # an erased customer's row keeps no P(alive)
        and pages_churn.one_time_safe_mark(latest_run.model, latest.frequency),
        "model_names": {rid: pages_churn.model_short(r.model) for rid, r in runs.items()},
        "latest": latest,
        "history": history,
        "runs": runs,
        "horizon": horizon,
        "explain": {k: tr(request, v) for k, v in EXPLAIN.items()}
        | _class_explain(request, latest_run),  # type: ignore[arg-type]
    }


def _class_explain(request: Request, run: ScoreRun | None) -> dict[str, str]:
    """The value-class line with the cut-offs the customer's run used (value settings)."""
    top = ((run.report or {}).get("settings") or {}).get("top_pct") if run is not None else None
    if not top or len(top) != 3:
        return {}
    vip, major, ordinary = (float(t) for t in top)
    return {
        "value_class": tr(
            request,
            "Place in the customer pyramid by profit: VIP (top %(vip)s %%), major (next "
            "%(major)s %%), ordinary (next %(ordinary)s %%), then small and below-zero customers.",
            vip=format(vip, "g"),
            major=format(major - vip, "g"),
            ordinary=format(ordinary - major, "g"),
        )
    }


register_panel(
    Panel(
        key="scores",
        title=N_("Value and loyalty scores"),
        template="scoring/_panel.html",
        load=scores_for_panel,
        permission="score:read",
        order=20,
        slot="side",
    )
)
