"""`retento analyze forecast`: a KPI forecast with its backtest from an event file.

The same library functions the app uses (:func:`retento.analytics.forecast.make_series` and
:func:`~retento.analytics.forecast.forecast_kpi`); CSV or Parquet, no database needed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from retento.analyze.base import N_, app, check_output, written
from retento.analyze.base import fail as _fail


@app.command("forecast")
def forecast(
    events: Path = typer.Argument(..., help="Events as CSV (with header) or Parquet."),
    date_col: str = typer.Option(..., "--date-col", help="Event date column."),
    value_col: str | None = typer.Option(
        None, "--value-col", help="Value to add up per period (default: count the rows)."
    ),
    freq: str = typer.Option("W", "--freq", help="D (days), W (weeks from Monday) or M (months)."),
    horizon: int | None = typer.Option(
        None, "--horizon", help="Periods to forecast and backtest (14 D, 13 W, 6 M by default)."
    ),
    agg: str | None = typer.Option(
        None,
        "--agg",
        help="sum (of --value-col, the default with it), count (rows, the default without), "
        "nunique (distinct --id-col) or mean (of --value-col).",
    ),
    id_col: str | None = typer.Option(None, "--id-col", help="Ids to count with --agg nunique."),
    origins: int = typer.Option(4, "--origins", help="Rolling origins of the backtest."),
    select: str = typer.Option(
        "backtest", "--select", help="backtest (ETS vs ARIMA by backtest sMAPE) or aic."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Where to write the CSV (history, forecast, intervals)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Forecast a KPI (revenue, customers, complaints, ...) per period with ETS or SARIMA.

    Writes one row per period to --output: kind (history or forecast), period, value, and for
    the forecast mean, lo80, hi80, lo95, hi95 of the model and naive_mean of the seasonal-naive
    baseline. Prints the chosen model and the rolling-origin backtest (MAPE, sMAPE) next to
    the seasonal-naive baseline; --json prints everything including the backtest rows.
    """
    from retento.analytics.forecast import FREQS, ForecastInputError, forecast_kpi, make_series

    freq = freq.upper()
    if freq not in FREQS:
        _fail(N_("--freq must be D, W or M, not %(value)s"), value=repr(freq))
    if agg is None:
        agg = "sum" if value_col else ("nunique" if id_col else "count")
    if agg not in ("sum", "count", "nunique", "mean"):
        _fail(N_("--agg must be sum, count, nunique or mean, not %(value)s"), value=repr(agg))
    if agg in ("sum", "mean") and not value_col:
        _fail(N_("--agg %(agg)s needs --value-col"), agg=agg)
    if agg == "nunique" and not id_col:
        _fail(N_("--agg nunique needs --id-col"))
    if horizon is not None and not 1 <= horizon <= 366:
        _fail(N_("--horizon must be between 1 and 366"))
    if not 1 <= origins <= 52:
        _fail(N_("--origins must be between 1 and 52"))
    if select not in ("backtest", "aic"):
        _fail(N_("--select must be backtest or aic, not %(value)s"), value=repr(select))
    check_output(output)
    t0 = time.perf_counter()
    try:
        series = make_series(events, date_col, value_col, freq=freq, agg=agg, id_col=id_col)
        t1 = time.perf_counter()
        # Counts and non-negative sums cannot fall below 0: clip the forecast there.
        lower = 0.0 if agg in ("count", "nunique") or bool((series >= 0).all()) else None
        result = forecast_kpi(series, freq, horizon, n_origins=origins, select=select, lower=lower)
    except ForecastInputError as exc:
        _fail(str(exc))
        return
    t2 = time.perf_counter()
    _write(output, result)
    out = result.to_dict()
    out["timings"] = {
        "read_s": round(t1 - t0, 3),
        "fit_s": out["timings"].get("fit_s"),
        "backtest_s": out["timings"].get("backtest_s"),
        "model_s": round(t2 - t1, 3),
        "write_s": round(time.perf_counter() - t2, 3),
    }
    out["output"] = str(output)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    from retento.core.cli_language import spaced
    from retento.core.cli_say import say, say_in, say_shaped

    em, en = result.errors["model"], result.errors["naive"]
    base = say_in("cli", "seasonal naive") if result.seasonal_period > 1 else say_in("cli", "naive")
    undefined = say_in("cli", "undefined")

    def pct(v: float | None) -> str:
        return undefined if v is None else f"{v:.1f} %"

    typer.echo(
        say(
            "%(n)s periods (%(start)s to %(end)s), freq %(freq)s; model %(model)s",
            n=len(series),
            start=series.index[0].date(),
            end=series.index[-1].date(),
            freq=freq,
            model=result.model,
        )
    )
    typer.echo(
        say(
            "Backtest (%(origins)s origins x %(steps)s steps): MAPE %(mape)s vs %(base)s "
            "%(base_mape)s; sMAPE %(smape)s vs %(base_smape)s",
            origins=result.n_origins,
            steps=result.horizon,
            mape=pct(em["mape"]),
            base=base,
            base_mape=pct(en["mape"]),
            smape=pct(em["smape"]),
            base_smape=pct(en["smape"]),
        )
    )
    # The analytics library's one sentence (``ForecastResult.summary``), said here in words.
    dash = say_in("cli", "seasonal-naive") if result.seasonal_period > 1 else say_in("cli", "naive")
    verdict = {
        "model": result.model,
        "base": dash,
        "origins": result.n_origins,
        "steps": result.horizon,
        "smape": f"{em['smape']:.1f}",
        "base_smape": f"{en['smape']:.1f}",
    }
    if result.winner == "model":
        typer.echo(
            say(
                "%(model)s beats the %(base)s baseline over %(origins)s origins x %(steps)s "
                "steps: sMAPE %(smape)s %% vs %(base_smape)s %%",
                **verdict,
            )
        )
    else:
        typer.echo(
            say(
                "The %(base)s baseline forecasts as well as or better than %(model)s over "
                "%(origins)s origins x %(steps)s steps (sMAPE %(base_smape)s %% vs %(smape)s "
                "%%): prefer the baseline's forecast",
                **verdict,
            )
        )
    for note in result.notes:
        # The library's note, read by its shape (``analyze.messages``) as its warnings are.
        from retento.analyze.messages import said

        typer.echo(spaced(say("Note:")) + say_shaped(note, said))
    typer.echo(say("Forecast of %(n)s periods written to %(file)s", n=result.horizon, file=output))


def _write(output: Path, result) -> None:
    import pandas as pd

    hist = pd.DataFrame(
        {"kind": "history", "period": result.history.index, "value": result.history.to_numpy()}
    )
    fc = result.forecast.copy()
    fc.insert(0, "kind", "forecast")
    fc.insert(1, "period", fc.index)
    fc["naive_mean"] = result.naive_forecast["mean"].to_numpy()
    frame = pd.concat([hist, fc.reset_index(drop=True)], ignore_index=True)
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    with written(output) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
