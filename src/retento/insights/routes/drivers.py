"""Insights API: what explains spend and satisfaction (driver analysis)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from retento.core.deps import CurrentUser, DbSession
from retento.core.validation import DbId
from retento.insights import drivers_queries as q

router = APIRouter(prefix="/api/v1/insights/drivers", tags=["insights"])


@router.get("")
def drivers(
    session: DbSession,
    user: CurrentUser,
    outcome: Literal["spend", "satisfaction", "survey_items"] = "spend",
    period_days: Annotated[int, Query(ge=30, le=1095)] = 365,
    survey_id: DbId | None = None,
    ci: Literal["bootstrap", "ols"] = "bootstrap",
    n_bootstrap: Annotated[int, Query(ge=20, le=2000)] = 200,
    seed: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Standardised elastic-net coefficients with confidence intervals, importance and held-out
    R² of ``outcome``: spend in the last ``period_days`` (explained by what was known before
    them), the customer's headline satisfaction, or a survey's overall rating explained by its
    questions (with the importance–performance quadrant). Needs ``score:read``."""
    return q.driver_report(
        session,
        actor=user,
        outcome=outcome,
        period_days=period_days,
        survey_id=survey_id,
        ci=ci,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
