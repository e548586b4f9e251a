"""API: KPI forecasts (revenue, active and new customers, complaint volume, NPS) with their
rolling-origin backtest next to the seasonal-naive baseline and 80 % / 95 % intervals."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession
from retento.insights import forecast_queries as fq

router = APIRouter(prefix="/api/v1/insights/forecasts", tags=["insights"])

Kpi = Literal["revenue", "active_customers", "new_customers", "complaints", "nps"]


@router.get("")
def list_kpis(user: CurrentUser) -> dict[str, Any]:
    """The KPIs that can be forecast, their unit and the frequencies."""
    require(user, "score:read")
    return {
        "kpis": [{"kpi": k, "name": v["name"], "unit": v["unit"]} for k, v in fq.KPIS.items()],
        "freqs": list(fq.FREQ_NAMES),
    }


@router.get("/{kpi}")
def get_forecast(
    kpi: Kpi,
    session: DbSession,
    user: CurrentUser,
    freq: Literal["D", "W", "M"] = Query("M", description="D (days), W (weeks) or M (months)."),
    horizon: int | None = Query(
        None, ge=1, le=104, description="Periods ahead (14 D, 13 W, 6 M by default)."
    ),
) -> dict[str, Any]:
    """Forecast ``kpi`` per complete period: ``history``, ``forecast`` (mean, lo80, hi80, lo95,
    hi95), ``naive_forecast``, the chosen ``model`` and the ``candidates`` with their AIC, the
    ``backtest`` rows and ``errors`` (MAPE, sMAPE, MAE of the model and of the seasonal-naive
    baseline; MAPE is null when an actual value is 0), and ``winner`` ("model" or "naive").
    422 when the KPI has too little history for the horizon."""
    require(user, "score:read")
    return fq.forecast_for(session, kpi, freq, horizon)
