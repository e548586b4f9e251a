"""KPI series for the forecasts, from the database, and the cached forecast of each.

Five KPIs, one value per day, week (from Monday) or month of UTC time:

* ``revenue``: the sum of ``Order.revenue`` (net of refunds) of orders not cancelled, by
  ``ordered_at``; summed as ``Decimal`` in SQL and converted to float only for the model;
* ``active_customers``: distinct customers with an order (not cancelled) in the period;
* ``new_customers``: customers whose first order (not cancelled) falls in the period;
* ``complaints``: complaints and grumbles received in the period (``received_at``);
* ``nps``: 100 (promoters - detractors) / answers over the answers to NPS questions of completed
  survey responses (``completed_at``), as on the home dashboard; a period without answers
  takes the previous period's NPS (and the result says how many did).

A period is used only once complete: from the first whole period after the KPI's first event
to the last one that ended by today. The forecast itself is
:func:`retento.analytics.forecast.forecast_kpi`, the function ``retento analyze forecast``
runs on a file; results are cached in process memory by (KPI, frequency, horizon, the series'
values), so a page view repeats the fit only when the data changed.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from retento.complaints.models import Complaint
from retento.core.errors import InvalidInput, Msg
from retento.orders.models import Order
from retento.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse
from retento.web.i18n import N_

KPIS: dict[str, dict[str, Any]] = {
    "revenue": {"name": N_("Revenue"), "unit": "money", "lower": 0.0, "upper": None},
    "active_customers": {
        "name": N_("Active buyers"),
        "unit": "customers",
        "lower": 0.0,
        "upper": None,
    },
    "new_customers": {
        "name": N_("New customers"),
        "unit": "customers",
        "lower": 0.0,
        "upper": None,
    },
    "complaints": {
        "name": N_("Complaint volume"),
        "unit": "complaints",
        "lower": 0.0,
        "upper": None,
    },
    "nps": {"name": N_("NPS"), "unit": "points", "lower": -100.0, "upper": 100.0},
}
TOO_SHORT = N_(
    "Not enough history for this forecast: %(n)s complete periods, at least %(need)s needed. "
    "Choose a finer frequency or a shorter horizon."
)
FREQ_NAMES = {"W": N_("Weeks"), "M": N_("Months"), "D": N_("Days")}


@dataclass
class KpiSeries:
    """One KPI as a regular series plus what the page should say about it."""

    kpi: str
    freq: str
    series: pd.Series
    first_event: datetime | None
    filled: int = 0  # NPS periods without answers, carried forward
    totals: dict[str, Decimal] = field(default_factory=dict)  # revenue per period, exact


def _period(session: Session, col: Any, freq: str) -> Any:
    """The start date of ``col``'s UTC day, Monday-started week or month, per dialect."""
    if session.get_bind().dialect.name == "postgresql":
        unit = {"D": "day", "W": "week", "M": "month"}[freq]
        return func.date(func.date_trunc(unit, func.timezone("UTC", col)))
    if freq == "D":
        return func.date(col)
    if freq == "W":  # the next Sunday (or the day itself), six days back: the Monday
        return func.date(col, literal_column("'weekday 0'"), literal_column("'-6 days'"))
    return func.date(col, literal_column("'start of month'"))


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rows(session: Session, kpi: str, freq: str) -> tuple[list[tuple], Any]:
    """(period, value[, extra]) rows of ``kpi`` and the KPI's first event time."""
    live = Order.status != "cancelled"
    if kpi in ("revenue", "active_customers"):
        p = _period(session, Order.ordered_at, freq).label("p")
        value = (
            func.sum(Order.revenue)
            if kpi == "revenue"
            else func.count(Order.customer_id.distinct())
        )
        rows = session.execute(select(p, value).where(live).group_by(p)).all()
        first = session.scalar(select(func.min(Order.ordered_at)).where(live))
    elif kpi == "new_customers":
        firsts = (
            select(func.min(Order.ordered_at).label("first"))
            .where(live)
            .group_by(Order.customer_id)
            .subquery()
        )
        p = _period(session, firsts.c.first, freq).label("p")
        rows = session.execute(select(p, func.count()).group_by(p)).all()
        first = session.scalar(select(func.min(Order.ordered_at)).where(live))
    elif kpi == "complaints":
        p = _period(session, Complaint.received_at, freq).label("p")
        rows = session.execute(select(p, func.count()).group_by(p)).all()
        first = session.scalar(select(func.min(Complaint.received_at)))
    else:
        p = _period(session, SurveyResponse.completed_at, freq).label("p")
        stmt = (
            select(
                p,
                func.count(),
                func.sum(case((SurveyAnswer.number >= 9, 1), else_=0)),
                func.sum(case((SurveyAnswer.number <= 6, 1), else_=0)),
            )
            .select_from(SurveyAnswer)
            .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(
                SurveyQuestion.qtype == "nps",
                SurveyAnswer.number.is_not(None),
                SurveyResponse.status == "completed",
                SurveyResponse.completed_at.is_not(None),
            )
            .group_by(p)
        )
        rows = session.execute(stmt).all()
        first = min((r[0] for r in rows), default=None)
        if first is not None:
            first = session.scalar(
                select(func.min(SurveyResponse.completed_at))
                .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
                .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
                .where(
                    SurveyQuestion.qtype == "nps",
                    SurveyAnswer.number.is_not(None),
                    SurveyResponse.status == "completed",
                )
            )
    return rows, first


def kpi_series(session: Session, kpi: str, freq: str, *, today: date | None = None) -> KpiSeries:
    """``kpi`` per complete period up to ``today`` (UTC) as a regular series of floats.

    Raises :class:`InvalidInput` naming ``kpi`` or ``freq`` when unknown, or when the KPI has
    no data at all.
    """
    from retento.analytics.forecast import ForecastInputError, make_series

    if kpi not in KPIS:
        raise InvalidInput(
            Msg("Unknown KPI %(kpi)s; use one of %(known)s.", kpi=repr(kpi), known=", ".join(KPIS)),
            field="kpi",
        )
    if freq not in FREQ_NAMES:
        raise InvalidInput(
            Msg("Unknown frequency %(freq)s; use D, W or M.", freq=repr(freq)), field="freq"
        )
    today = today or datetime.now(UTC).date()
    rows, first = _rows(session, kpi, freq)
    first = _as_utc(first)
    if not rows or first is None:
        raise InvalidInput(N_("There is no data for this KPI yet."), field="kpi")
    periods = [pd.Timestamp(str(r[0])[:10]) for r in rows]
    start = first.date()
    totals: dict[str, Decimal] = {}
    if kpi == "revenue":
        totals = {
            p.date().isoformat(): Decimal(str(r[1] or 0)).quantize(Decimal("0.01"))
            for p, r in zip(periods, rows, strict=True)
        }
    try:
        if kpi != "nps":
            frame = pd.DataFrame(
                {"p": periods, "v": [float(Decimal(str(r[1] or 0))) for r in rows]}
            )
            series = make_series(frame, "p", "v", freq=freq, start=start, end=today)
            return KpiSeries(kpi, freq, series, first, totals=totals)
        frame = pd.DataFrame(
            {
                "p": periods,
                "n": [float(r[1] or 0) for r in rows],
                "net": [float((r[2] or 0) - (r[3] or 0)) for r in rows],
            }
        )
        n = make_series(frame, "p", "n", freq=freq, start=start, end=today)
        net = make_series(frame, "p", "net", freq=freq, start=start, end=today)
    except ForecastInputError as exc:
        raise InvalidInput(
            N_("Not enough history for this forecast yet: no complete period."), field="kpi"
        ) from exc
    nps = (100.0 * net / n.where(n > 0)).round(1)
    filled = int(nps.isna().sum())
    nps = nps.ffill().dropna()
    if nps.empty:
        raise InvalidInput(N_("There is no data for this KPI yet."), field="kpi")
    nps.index.freq = n.index.freq
    return KpiSeries(kpi, freq, nps, first, filled=filled)


# ---------------------------------------------------------------------------------------------

_CACHE: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64
N_ORIGINS = 4


def _fingerprint(series: pd.Series) -> str:
    h = hashlib.sha256(series.index.asi8.tobytes())
    h.update(series.to_numpy().tobytes())
    return h.hexdigest()


def forecast_for(
    session: Session,
    kpi: str,
    freq: str = "M",
    horizon: int | None = None,
    *,
    today: date | None = None,
    series: KpiSeries | None = None,
) -> dict[str, Any]:
    """The forecast of ``kpi`` with its backtest as plain JSON types (see
    :meth:`~retento.analytics.forecast.ForecastResult.to_dict`), plus ``kpi``, ``unit``,
    ``nps_filled`` and ``cached``.

    Raises :class:`InvalidInput` (HTTP 422) for an unknown KPI or frequency, a horizon out of
    range, or too little history, with the numbers in the message. ``series`` is the KPI's
    series when the caller already read it.
    """
    from retento.analytics.forecast import (
        DEFAULT_HORIZONS,
        MIN_TRAIN,
        ForecastInputError,
        forecast_kpi,
    )

    ks = series or kpi_series(session, kpi, freq, today=today)
    h = DEFAULT_HORIZONS[freq] if horizon is None else int(horizon)
    if not 1 <= h <= 104:
        raise InvalidInput("The horizon must be between 1 and 104 periods.", field="horizon")
    need = MIN_TRAIN + h + N_ORIGINS - 1
    if len(ks.series) < need:
        raise InvalidInput(TOO_SHORT % {"n": len(ks.series), "need": need}, field="horizon")
    key = (kpi, freq, h, _fingerprint(ks.series))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return {**hit, "cached": True}
    spec = KPIS[kpi]
    try:
        result = forecast_kpi(
            ks.series, freq, h, n_origins=N_ORIGINS, lower=spec["lower"], upper=spec["upper"]
        )
    except ForecastInputError as exc:
        raise InvalidInput(str(exc), field="kpi") from exc
    out = result.to_dict()
    out |= {
        "kpi": kpi,
        "unit": spec["unit"],
        "name": spec["name"],
        "nps_filled": ks.filled,
        "history_totals": ks.totals or None,
        "as_of": (today or datetime.now(UTC).date()).isoformat(),
    }
    with _CACHE_LOCK:
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return {**out, "cached": False}


def baseline_name(result: dict[str, Any]) -> str:
    """The baseline's name (a message id): seasonal naive, or naive on too short a history."""
    return N_("Seasonal naive") if result["seasonal_period"] > 1 else N_("Naive (last value)")


def need_periods(freq: str, horizon: int | None) -> int:
    """The shortest history a forecast with this horizon accepts."""
    from retento.analytics.forecast import DEFAULT_HORIZONS, MIN_TRAIN

    h = DEFAULT_HORIZONS[freq] if horizon is None else horizon
    return MIN_TRAIN + h + N_ORIGINS - 1
