"""Forecasts page: a KPI's history, its ETS/SARIMA forecast with 80 % / 95 % bands and the
seasonal-naive forecast, and the rolling-origin backtest of both (MAPE, sMAPE), saying which
wins."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.insights import forecast_queries as fq
from retento.insights.registry import Insight, register_insight, render_insight
from retento.web.chart_units import money_axis_name
from retento.web.charts import chart_json, grid
from retento.web.i18n import N_, Formatter
from retento.web.render import PageUser, error_text, page_router, request_locale, tr

router = page_router()

register_insight(
    Insight(
        key="forecast",
        title=N_("Forecasts"),
        summary=N_(
            "What is coming: revenue, active and new customers, complaint volume and NPS "
            "forecast with ETS or SARIMA, with intervals and a backtest against the "
            "seasonal-naive forecast."
        ),
        href="/insights/forecasts",
        order=40,
    )
)

FREQ_OPTIONS = (("W", N_("Weeks")), ("M", N_("Months")), ("D", N_("Days")))
DEFAULT_FREQ = "M"
BAND80, BAND95 = N_("80 % interval"), N_("95 % interval")
# The download's interval columns, whole (Chinese brackets their bound: 80% 区间（低）).
BAND_COLUMNS = (
    N_("80 % interval (low)"),
    N_("80 % interval (high)"),
    N_("95 % interval (low)"),
    N_("95 % interval (high)"),
)


def _params(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
    q = request.query_params
    kpi = (q.get("kpi") or "revenue").strip()
    freq = (q.get("freq") or DEFAULT_FREQ).strip().upper()
    raw = (q.get("horizon") or "").strip()
    errors: dict[str, str] = {}
    if kpi not in fq.KPIS:
        errors["kpi"] = tr(request, N_("Choose one of the KPIs."))
        kpi = "revenue"
    if freq not in fq.FREQ_NAMES:
        errors["freq"] = tr(request, N_("Choose weeks, months or days."))
        freq = DEFAULT_FREQ
    horizon: int | None = None
    if raw:
        try:
            horizon = int(raw)
        except ValueError:
            horizon = -1
        if not 1 <= horizon <= 104:
            errors["horizon"] = tr(request, N_("Enter a whole number of periods from 1 to 104."))
            horizon = None
    return {"kpi": kpi, "freq": freq, "horizon": horizon, "horizon_raw": raw}, errors


def _fmt_value(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    return round(value, 2 if unit == "money" else 1)


def _axis_name(request: Request, r: dict[str, Any]) -> str:
    """The value axis's name: the KPI, with its currency when it is an amount ("Revenue ($)",
    "收入（US$）"), else its own unit ("Active buyers", "NPS")."""
    name = tr(request, fq.KPIS[r["kpi"]]["name"])
    return money_axis_name(request, name) if r["unit"] == "money" else name


def _chart(request: Request, r: dict[str, Any]) -> str:
    unit = r["unit"]
    hist = r["history"]
    fc = r["forecast"]
    naive = r["naive_forecast"]
    fmt = Formatter(request_locale(request))
    labels = [fmt.period(p["period"], r.get("freq", "")) for p in [*hist, *fc]]
    pad = [None] * len(hist)
    last = [None] * (len(hist) - 1) + [_fmt_value(hist[-1]["value"], unit)]

    def col(rows: list[dict[str, Any]], key: str) -> list[float | None]:
        return [_fmt_value(p[key], unit) for p in rows]

    def band(lo: str, hi: str) -> list[float | None]:
        return [
            None if p[lo] is None or p[hi] is None else _fmt_value(p[hi] - p[lo], unit) for p in fc
        ]

    model_name = tr(request, N_("Forecast (%(model)s)"), model=r["model"])
    naive_name = tr(request, fq.baseline_name(r))
    band95, band80 = tr(request, BAND95), tr(request, BAND80)
    # A band is a transparent lower bound with its width stacked on top; neither is a value to
    # read, so they stay out of the tooltip (the table lists the intervals).
    stack = {
        "type": "line",
        "symbol": "none",
        "lineStyle": {"opacity": 0},
        "tooltip": {"show": False},
    }
    series = [
        {
            "name": tr(request, N_("Actual")),
            "type": "line",
            "data": col(hist, "value") + [None] * len(fc),
            "symbol": "circle",
            "symbolSize": 4,
            "itemStyle": {"color": "#1c7ed6"},
        },
        {
            **stack,
            "name": band95,
            "stack": "b95",
            "data": pad + col(fc, "lo95"),
            "itemStyle": {"color": "rgba(240,140,0,0.15)"},
        },
        {
            **stack,
            "name": band95,
            "stack": "b95",
            "data": pad + band("lo95", "hi95"),
            "areaStyle": {"color": "rgba(240,140,0,0.15)"},
            "itemStyle": {"color": "rgba(240,140,0,0.15)"},
        },
        {
            **stack,
            "name": band80,
            "stack": "b80",
            "data": pad + col(fc, "lo80"),
            "itemStyle": {"color": "rgba(240,140,0,0.3)"},
        },
        {
            **stack,
            "name": band80,
            "stack": "b80",
            "data": pad + band("lo80", "hi80"),
            "areaStyle": {"color": "rgba(240,140,0,0.3)"},
            "itemStyle": {"color": "rgba(240,140,0,0.3)"},
        },
        {
            "name": model_name,
            "type": "line",
            "data": last + col(fc, "mean"),
            "lineStyle": {"type": "dashed", "width": 2},
            "itemStyle": {"color": "#e8590c"},
            "symbolSize": 4,
        },
        {
            "name": naive_name,
            "type": "line",
            "data": last + col(naive, "mean"),
            "lineStyle": {"type": "dotted"},
            "itemStyle": {"color": "#868e96"},
            "symbolSize": 3,
        },
    ]
    return chart_json(
        {
            "tooltip": {"trigger": "axis"},
            # above the plot: at the bottom (ECharts 6's default) it lay over the zoom slider
            "legend": {
                "data": [series[0]["name"], model_name, naive_name, band80, band95],
                "top": 0,
            },
            # below: the zoom slider's 26 px at the bottom
            "grid": grid(right=20, top=40, below=28),
            "xAxis": {"type": "category", "data": labels, "boundaryGap": False},
            "yAxis": {"type": "value", "scale": True, "name": _axis_name(request, r)},
            "dataZoom": [{"type": "inside"}, {"type": "slider", "height": 18, "bottom": 8}],
            "series": series,
        }
    )


def _notes(request: Request, r: dict[str, Any]) -> list[str]:
    out = []
    if r["errors"]["model"]["mape"] is None:
        out.append(
            tr(request, N_("MAPE is undefined because some actual values are 0; compare sMAPE."))
        )
    if any(n.startswith("Fewer than") for n in r["notes"]):
        out.append(
            tr(
                request,
                N_(
                    "Fewer than two seasons of history in a backtest window: only models "
                    "without a season were fitted."
                ),
            )
        )
    if any(n.startswith("Less than one season") for n in r["notes"]):
        out.append(
            tr(
                request,
                N_(
                    "Less than one season of history in a backtest window: the baseline is the "
                    "naive forecast (the last value)."
                ),
            )
        )
    if r.get("nps_filled"):
        out.append(
            tr(
                request,
                N_("%(n)s periods without NPS answers took the previous period's NPS."),
                n=r["nps_filled"],
            )
        )
    return out


CLI_ARGS = {
    "revenue": ("orders.csv", "--date-col ordered_at --value-col revenue"),
    "active_customers": ("orders.csv", "--date-col ordered_at --agg nunique --id-col customer_id"),
    "new_customers": ("first_orders.csv", "--date-col first_ordered_at"),
    "complaints": ("complaints.csv", "--date-col received_at"),
    "nps": ("nps_by_period.csv", "--date-col period --value-col nps --agg mean"),
}


def _cli(kpi: str, freq: str, horizon: int) -> str:
    path, args = CLI_ARGS[kpi]
    return (
        f"retento analyze forecast {path} {args} --freq {freq} --horizon {horizon} "
        f"--output {kpi}_forecast.csv"
    )


@router.get("/insights/forecasts")
def forecast_page(request: Request, session: DbSession, user: PageUser) -> Response:
    """A KPI's forecast and backtest; ``?kpi=&freq=&horizon=`` choose them."""
    require(user, "score:read")
    params, errors = _params(request)
    ctx: dict[str, Any] = {
        "f": params,
        "errors": errors,
        "kpi_options": [(k, tr(request, v["name"])) for k, v in fq.KPIS.items()],
        "freq_options": [(k, tr(request, v)) for k, v in FREQ_OPTIONS],
        "result": None,
        "problem": None,
    }
    if errors:
        return render_insight(request, user, "insights/forecast.html", status_code=422, **ctx)
    kpi, freq, horizon = params["kpi"], params["freq"], params["horizon"]
    try:
        ks = fq.kpi_series(session, kpi, freq)
        need = fq.need_periods(freq, horizon)
        if len(ks.series) < need:
            ctx["problem"] = tr(request, fq.TOO_SHORT, n=len(ks.series), need=need)
        else:
            result = fq.forecast_for(session, kpi, freq, horizon, series=ks)
            ctx |= {
                "result": result,
                "chart": _chart(request, result),
                "kpi_name": tr(request, fq.KPIS[kpi]["name"]),
                "baseline": tr(request, fq.baseline_name(result)),
                "money": result["unit"] == "money",
                "notes": _notes(request, result),
                # "%" in a template message would be a format directive: translated here.
                "band80": tr(request, BAND80),
                "band95": tr(request, BAND95),
                "cli": _cli(kpi, freq, result["horizon"]),
            }
    except RetentoError as exc:
        ctx["problem"] = error_text(request, exc.message)
    return render_insight(request, user, "insights/forecast.html", **ctx)


@router.get("/insights/forecasts/export.csv")
def forecast_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """The page's forecast (``table=forecast``: each period's forecast, intervals and baseline)
    or its backtest errors (``table=backtest``) as CSV, for the same ``kpi``, ``freq`` and
    ``horizon``; amounts are exact decimals, other values as the page rounds them."""
    from retento.core.errors import InvalidInput, Msg
    from retento.dataio.downloads import as_money, as_ratio, table_download
    from retento.insights.web import export_table

    require(user, "score:read")
    require(user, "data:export")
    table = export_table(request, ("forecast", "backtest"))
    params, errors = _params(request)
    if errors:
        name, message = next(iter(errors.items()))
        raise InvalidInput(message, field=name)
    kpi, freq, horizon = params["kpi"], params["freq"], params["horizon"]
    ks = fq.kpi_series(session, kpi, freq)
    need = fq.need_periods(freq, horizon)
    if len(ks.series) < need:
        raise InvalidInput(Msg(fq.TOO_SHORT, n=len(ks.series), need=need), field="kpi")
    r = fq.forecast_for(session, kpi, freq, horizon, series=ks)
    money = r["unit"] == "money"

    def val(v: float | None) -> Any:
        return as_money(v) if money else as_ratio(_fmt_value(v, r["unit"]), 1)

    baseline = tr(request, fq.baseline_name(r))
    if table == "forecast":
        header = [
            tr(request, N_("Period")),
            tr(request, N_("Forecast (%(model)s)"), model=r["model"]),
            *(tr(request, column) for column in BAND_COLUMNS),
            baseline,
        ]
        rows = [
            [p["period"], val(p["mean"]), val(p["lo80"]), val(p["hi80"]), val(p["lo95"]),
             val(p["hi95"]), val(r["naive_forecast"][i]["mean"])]
            for i, p in enumerate(r["forecast"])
        ]  # fmt: skip
    else:
        header = [
            tr(request, N_("Forecast")),
            "MAPE (%)",
            "sMAPE (%)",
            tr(request, N_("Mean absolute error")),
        ]
        rows = [
            [name, as_ratio(e["mape"], 1), as_ratio(e["smape"], 1), val(e["mae"])]
            for name, e in ((r["model"], r["errors"]["model"]), (baseline, r["errors"]["naive"]))
        ]
    return table_download(request, user, header, rows, filename=f"forecast-{kpi}-{freq}-{table}")
