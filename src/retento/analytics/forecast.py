r"""KPI forecasts: ETS and SARIMA on a regular series, rolling-origin backtests against the
seasonal-naive baseline, and 80 % / 95 % prediction intervals.

From events to a series
-----------------------
:func:`make_series` turns an event table (orders, complaints, survey answers, ...) into one value
per day (``"D"``), week starting Monday (``"W"``) or calendar month (``"M"``): the sum of a value
column, the number of rows or the number of distinct ids per period. Periods with no event are
0. A period is kept only when the data covers it completely: the first and last periods are
dropped when the data starts after the first one begins or ends before the last one ends (a
half month of revenue is not a fall in revenue). Pass ``start``/``end`` when the data's true
extent is known.

Models
------
With :math:`m` the seasonal period (7 for days, 52 for weeks, 12 for months) the candidates are
(Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., 2021, ch. 8-9):

* ETS with additive errors (statsmodels ``ETSModel``): ETS(A,N,N) simple exponential smoothing,
  :math:`\hat y_{t+h|t} = \ell_t,\ \ell_t = \ell_{t-1} + \alpha e_t`; ETS(A,Ad,N) with a damped
  trend, :math:`\hat y_{t+h|t} = \ell_t + (\phi + \dots + \phi^h) b_t`; and, when at least two
  seasons fit in every backtest window, ETS(A,N,A) and ETS(A,Ad,A) with an additive season
  :math:`s_{t+h-m(k+1)}`, :math:`k = \lfloor (h-1)/m \rfloor`. Seasonal models start from the
  classical-decomposition heuristic (FPP3 §8.6) instead of estimating :math:`m` initial states,
  which keeps a weekly model (52 states) under a second.
* ARIMA (statsmodels ``SARIMAX``): with a usable season, SARIMA(1,0,0)(0,1,0)\ :sub:`m` and
  SARIMA(0,0,1)(0,1,0)\ :sub:`m` with a constant, i.e. an ARMA model of the seasonal
  differences :math:`w_t = y_t - y_{t-m}` whose constant is a yearly drift; otherwise
  ARIMA(0,1,1) and ARIMA(1,1,1) with drift. The seasonal difference is taken before fitting
  and integrated back exactly: the forecast error of :math:`y_{T+h}` is
  :math:`\sum_{k \ge 0} \sum_i \psi_i \varepsilon_{T+h-km-i}`, with :math:`\psi` the MA(∞)
  weights of the ARMA model, so its variance is :math:`\sigma^2 \sum_s c_s^2`,
  :math:`c_s = \sum_{k: h-km \ge s} \psi_{h-km-s}`.

Within a family the model with the lowest :math:`\mathrm{AIC} = -2 \log L + 2p` wins (AIC is
comparable only between models of the same family on the same data: FPP3 §9.8); the ETS and
the ARIMA winner are then both backtested and the one with the lower sMAPE is the forecast
(``select="backtest"``, the default), or the ETS winner is taken without backtesting the other
(``select="aic"``, faster).

Backtest and errors
-------------------
Rolling origin (Tashman 2000; FPP3 §5.10): for each of ``n_origins`` origins
:math:`T_j = n - h - (k - 1) + j` the chosen model is refitted on :math:`y_1..y_{T_j}` and
forecasts :math:`h` steps; the seasonal-naive baseline
:math:`\hat y_{T+h|T} = y_{T+h-m(k+1)}` (FPP3 §5.2) forecasts from the same origins. Over all
origins and steps (Hyndman & Koehler 2006, "Another look at measures of forecast accuracy",
*IJF* 22(4)):

.. math::

    \mathrm{MAPE} = \frac{100}{N} \sum \left|\frac{y - \hat y}{y}\right|, \qquad
    \mathrm{sMAPE} = \frac{100}{N} \sum \frac{2\,|y - \hat y|}{|y| + |\hat y|}.

MAPE is undefined when an actual value is 0 (a week without complaints): it is then reported
as ``None`` with a note and sMAPE (0/0 counted as 0, so it lies in [0, 200]) is the measure.
The model "wins" only with a strictly lower sMAPE; when the baseline is as good or better the
result says so (``winner == "naive"``) and carries the baseline's forecast as well.

Intervals
---------
Gaussian prediction intervals :math:`\hat y \pm z_{1-\alpha/2} \hat\sigma_h` from each model's
forecast variance (FPP3 §5.5, §8.7, §9.8); for the seasonal-naive baseline
:math:`\hat\sigma_h = \hat\sigma \sqrt{k + 1}`. They ignore the uncertainty of the estimated
parameters, so they are somewhat too narrow on short series. ``lower``/``upper`` clip forecasts
and intervals to a KPI's range (0 for counts and revenue, ±100 for NPS).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retento.analytics.errors import SummaryInputError

FREQS = ("D", "W", "M")
#: pandas frequency of each period: days, weeks starting Monday, months (labelled by their start).
FREQ_ALIASES = {"D": "D", "W": "W-MON", "M": "MS"}
SEASONAL_PERIODS = {"D": 7, "W": 52, "M": 12}
DEFAULT_HORIZONS = {"D": 14, "W": 13, "M": 6}
AGGREGATES = ("sum", "count", "nunique", "mean")
LEVELS = (80, 95)
MIN_TRAIN = 10
_Z = {80: 1.2815515655446004, 95: 1.959963984540054}


class ForecastInputError(SummaryInputError):
    """The data cannot be forecast: missing column, bad value, irregular or too short series."""


# ---------------------------------------------------------------------------------------------
# Events -> a regular series


def period_start(dates: pd.Series | pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The first day of each date's period (day, Monday-started week or month)."""
    idx = pd.DatetimeIndex(dates).normalize()
    if freq == "D":
        return idx
    if freq == "W":
        return idx - pd.to_timedelta(idx.day_of_week, unit="D")
    return idx - pd.to_timedelta(idx.day - 1, unit="D")


def read_events(source: Any, columns: list[str]) -> pd.DataFrame:
    """``columns`` of a CSV or Parquet file (or a DataFrame), naming a missing file or column."""
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        path = Path(source)
        if not path.exists():
            raise ForecastInputError(f"File not found: {path}")
        if path.stat().st_size == 0:
            raise ForecastInputError(f"File is empty: {path}")
        if path.suffix.lower() in {".parquet", ".pq"}:
            frame = _read_parquet(path, columns)
        else:
            try:
                header = list(pd.read_csv(path, nrows=0).columns)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ForecastInputError(f"Cannot read {path} as CSV: {exc}") from None
            _check_columns(columns, header, f" in {path}")
            try:
                frame = pd.read_csv(path, usecols=list(dict.fromkeys(columns)), dtype=str)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ForecastInputError(f"Cannot read {path} as CSV: {exc}") from None
    _check_columns(columns, list(frame.columns), "")
    return frame


def _check_columns(columns: list[str], have: list[Any], where: str) -> None:
    for col in columns:
        if col not in have:
            raise ForecastInputError(
                f"Column {col!r} not found{where}; columns are: " + ", ".join(map(str, have))
            )


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    import duckdb

    sp = str(path).replace("'", "''")
    con = duckdb.connect()
    try:
        have = [
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{sp}')").fetchall()
        ]
        _check_columns(columns, have, f" in {path}")
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in dict.fromkeys(columns))
        return con.execute(f"SELECT {cols} FROM read_parquet('{sp}')").df()
    except duckdb.Error as exc:
        raise ForecastInputError(f"Cannot read {path} as Parquet: {exc}") from None
    finally:
        con.close()


def make_series(
    data: Any,
    date_col: str,
    value_col: str | None = None,
    *,
    freq: str = "W",
    agg: str | None = None,
    id_col: str | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.Series:
    """One value per period from an event table (a DataFrame or a CSV/Parquet path).

    Parameters
    ----------
    data : DataFrame, str or Path
        The events, one row each.
    date_col : str
        When the event happened (dates or timestamps; time zones are converted to UTC).
    value_col : str, optional
        The value to add up (``agg="sum"``) or average (``"mean"``); not needed for
        ``"count"`` (rows per period) and ``"nunique"`` (distinct ``id_col`` per period).
    agg : {"sum", "count", "nunique", "mean"}, optional
        By default ``"sum"`` with ``value_col``, else ``"nunique"`` with ``id_col``, else
        ``"count"``.
    freq : {"D", "W", "M"}
        Days, weeks starting Monday, or calendar months; the index holds each period's start.
    start, end : date-like, optional
        The data's extent, ``[start, end)``; by default the first and last event's days.
        Periods not wholly inside it are left out.

    Returns
    -------
    pandas.Series
        Float values on a regular ``DatetimeIndex`` (``freq`` set); periods without events are 0
        (NaN for ``"mean"``).

    Raises
    ------
    ForecastInputError
        Naming the missing column, the first row whose date or value cannot be read, or an
        empty result.
    """
    freq = _check_freq(freq)
    if agg is None:
        agg = "sum" if value_col else ("nunique" if id_col else "count")
    if agg not in AGGREGATES:
        raise ForecastInputError(f"agg must be one of {', '.join(AGGREGATES)}, not {agg!r}")
    if agg in ("sum", "mean") and not value_col:
        raise ForecastInputError(f"agg={agg!r} needs a value column")
    if agg == "nunique" and not id_col:
        raise ForecastInputError("agg='nunique' needs an id column (the ids to count)")
    columns = [date_col] + ([value_col] if agg in ("sum", "mean") else [])
    columns += [id_col] if agg == "nunique" and id_col else []
    frame = read_events(data, columns)
    if frame.empty:
        raise ForecastInputError("The data has no rows")
    dates = _parse_dates(frame[date_col], date_col)
    out = pd.DataFrame({"period": period_start(dates, freq)})
    if agg in ("sum", "mean"):
        out["v"] = _parse_numbers(frame[value_col], value_col)
    elif agg == "nunique":
        ids = frame[id_col]
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise ForecastInputError(f"Row {row + 2}: column {id_col!r} is empty")
        out["v"] = ids.to_numpy()
    lo = pd.Timestamp(start).tz_localize(None).normalize() if start is not None else dates.min()
    hi = (
        pd.Timestamp(end).tz_localize(None)
        if end is not None
        else dates.max() + pd.Timedelta(1, "D")
    )
    hi = hi.normalize() if hi != hi.normalize() else hi
    grouped = out.groupby("period")
    if agg == "count":
        values = grouped.size().astype(float)
    elif agg == "nunique":
        values = grouped["v"].nunique().astype(float)
    elif agg == "sum":
        values = grouped["v"].sum()
    else:
        values = grouped["v"].mean()
    alias = FREQ_ALIASES[freq]
    first = period_start(pd.DatetimeIndex([lo]), freq)[0]
    if first < lo.normalize():
        first = first + pd.tseries.frequencies.to_offset(alias)
    index = pd.date_range(first, hi, freq=alias)
    # keep a period only if it ends by `hi`
    nxt = index + pd.tseries.frequencies.to_offset(alias)
    index = index[nxt <= hi]
    if len(index) == 0:
        raise ForecastInputError(
            f"The data ({lo.date()} to {(hi - pd.Timedelta(1, 'D')).date()}) does not cover "
            f"one complete period of freq {freq!r}"
        )
    series = values.reindex(index, fill_value=0.0 if agg != "mean" else np.nan).astype(float)
    series.index = pd.DatetimeIndex(series.index, freq=alias)
    series.name = value_col if agg in ("sum", "mean") else ("count" if agg == "count" else id_col)
    return series


def _parse_dates(col: pd.Series, name: str) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(col, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ForecastInputError(f"Row {row + 2}: column {name!r} is not a date: {col.iloc[row]!r}")
    return pd.DatetimeIndex(parsed).tz_convert(None)


def _parse_numbers(col: pd.Series, name: str) -> np.ndarray:
    if col.dtype == object:
        col = col.map(lambda v: str(v).strip() if v is not None else v)
    values = pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ForecastInputError(
            f"Row {row + 2}: column {name!r} is not a number: {col.iloc[row]!r}"
        )
    return values


def _check_freq(freq: str) -> str:
    f = str(freq).upper()
    if f not in FREQS:
        raise ForecastInputError(f"freq must be D, W or M, not {freq!r}")
    return f


def check_series(y: pd.Series, freq: str) -> pd.Series:
    """``y`` as floats on a regular index of ``freq``; raises naming a gap or a missing value."""
    freq = _check_freq(freq)
    if not isinstance(y, pd.Series) or not isinstance(y.index, pd.DatetimeIndex):
        raise ForecastInputError("The series needs a DatetimeIndex (one value per period)")
    if len(y) == 0:
        raise ForecastInputError("The series is empty")
    idx = y.index.tz_localize(None) if y.index.tz is not None else y.index
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ForecastInputError("The series' dates must be increasing and unique")
    expected = pd.date_range(idx[0], periods=len(idx), freq=FREQ_ALIASES[freq])
    if not idx.equals(expected):
        at = int(np.flatnonzero(idx != expected)[0])
        raise ForecastInputError(
            f"The series is irregular for freq {freq!r}: expected {expected[at].date()} at "
            f"position {at}, found {idx[at].date()} (fill missing periods, e.g. with 0, or "
            "build it with make_series)"
        )
    values = pd.to_numeric(y, errors="coerce").astype(float)
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ForecastInputError(f"The series has no value for {idx[at].date()}")
    return pd.Series(values.to_numpy(), index=pd.DatetimeIndex(idx, freq=FREQ_ALIASES[freq]))


# ---------------------------------------------------------------------------------------------
# Candidate models


@dataclass
class _Fitted:
    name: str
    family: str
    aic: float
    forecast: Any  # (h) -> (mean, sd)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)


def _fit_ets(y: np.ndarray, trend: bool, seasonal: bool, m: int) -> _Fitted:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(
        pd.Series(y),  # get_prediction needs an index
        error="add",
        trend="add" if trend else None,
        damped_trend=trend,
        seasonal="add" if seasonal else None,
        seasonal_periods=m if seasonal else None,
        initialization_method="heuristic" if seasonal else "estimated",
    )
    res = _quiet(model.fit, disp=False, maxiter=200)
    n = len(y)

    def forecast(h: int) -> tuple[np.ndarray, np.ndarray]:
        frame = _quiet(res.get_prediction(start=n, end=n + h - 1).summary_frame, alpha=0.05)
        mean = frame["mean"].to_numpy()
        sd = (frame["pi_upper"].to_numpy() - mean) / _Z[95]
        return mean, sd

    name = "ETS(A," + ("Ad" if trend else "N") + "," + ("A" if seasonal else "N") + ")"
    return _Fitted(name, "ets", float(res.aic), forecast)


def _fit_arima_seasonal(y: np.ndarray, p: int, q: int, m: int) -> _Fitted:
    """ARMA(p, q) + constant on the seasonal differences, integrated back exactly."""
    from statsmodels.tsa.arima_process import arma2ma
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    w = y[m:] - y[:-m]
    res = _quiet(SARIMAX(w, order=(p, 0, q), trend="c").fit, disp=False)
    sigma2 = float(res.params[-1])

    def forecast(h: int) -> tuple[np.ndarray, np.ndarray]:
        w_hat = np.asarray(_quiet(res.forecast, h), dtype=float)
        psi = arma2ma(res.polynomial_ar, res.polynomial_ma, lags=h)
        hist = list(y)
        n = len(y)
        mean = np.empty(h)
        var = np.empty(h)
        for j in range(1, h + 1):
            prev = hist[n + j - 1 - m]
            mean[j - 1] = w_hat[j - 1] + prev
            hist.append(mean[j - 1])
            c = np.zeros(j)
            k = 0
            while j - k * m >= 1:
                t = j - k * m  # w_{T+t} carries eps_{T+s}, s = 1..t, with psi_{t-s}
                c[:t] += psi[:t][::-1]
                k += 1
            var[j - 1] = sigma2 * float(np.sum(c**2))
        return mean, np.sqrt(var)

    return _Fitted(f"SARIMA({p},0,{q})(0,1,0)[{m}]", "arima", float(res.aic), forecast)


def _fit_arima(y: np.ndarray, p: int, q: int) -> _Fitted:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    res = _quiet(SARIMAX(y, order=(p, 1, q), trend="t").fit, disp=False)

    def forecast(h: int) -> tuple[np.ndarray, np.ndarray]:
        fc = _quiet(res.get_forecast, h)
        return np.asarray(fc.predicted_mean, dtype=float), np.sqrt(
            np.asarray(fc.var_pred_mean, dtype=float)
        )

    return _Fitted(f"ARIMA({p},1,{q}) with drift", "arima", float(res.aic), forecast)


def _candidates(m: int) -> dict[str, list]:
    """Fitting functions per family; seasonal ones only when ``m > 1``."""
    ets = [lambda y: _fit_ets(y, False, False, m), lambda y: _fit_ets(y, True, False, m)]
    if m > 1:
        ets += [lambda y: _fit_ets(y, False, True, m), lambda y: _fit_ets(y, True, True, m)]
        arima = [
            lambda y: _fit_arima_seasonal(y, 1, 0, m),
            lambda y: _fit_arima_seasonal(y, 0, 1, m),
        ]
    else:
        arima = [lambda y: _fit_arima(y, 0, 1), lambda y: _fit_arima(y, 1, 1)]
    return {"ets": ets, "arima": arima}


def seasonal_naive(y: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Seasonal-naive forecast :math:`\hat y_{T+h} = y_{T+h-m(k+1)}` and its standard error
    :math:`\hat\sigma\sqrt{k+1}`, :math:`k = \lfloor (h-1)/m \rfloor` (FPP3 §5.2, §5.5); with
    ``m = 1`` the naive forecast :math:`y_T` with :math:`\hat\sigma\sqrt h`."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    steps = np.arange(1, h + 1)
    k = (steps - 1) // m
    mean = y[n - m + (steps - 1) % m] if m > 1 else np.repeat(y[-1], h)
    resid = y[m:] - y[:-m]
    sigma = float(np.sqrt(np.mean(resid**2))) if len(resid) else 0.0
    sd = sigma * np.sqrt(k + 1 if m > 1 else steps)
    return np.asarray(mean, dtype=float), sd


# ---------------------------------------------------------------------------------------------
# Errors and the backtest


def forecast_errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """MAPE, sMAPE and MAE in percent / units (Hyndman & Koehler 2006); MAPE is None when an
    actual value is 0. sMAPE uses :math:`|y| + |\\hat y|` and counts 0/0 as 0."""
    a = np.asarray(actual, dtype=float).ravel()
    f = np.asarray(predicted, dtype=float).ravel()
    e = np.abs(a - f)
    denom = np.abs(a) + np.abs(f)
    smape = np.where(denom > 0, 200.0 * e / np.where(denom > 0, denom, 1.0), 0.0)
    mape = None if np.any(a == 0) else float(100.0 * np.mean(e / np.abs(a)))
    return {"mape": mape, "smape": float(np.mean(smape)), "mae": float(np.mean(e))}


@dataclass
class ForecastResult:
    """A KPI forecast with its backtest; :meth:`to_dict` gives plain JSON types.

    ``forecast`` and ``naive_forecast`` have columns ``mean, lo80, hi80, lo95, hi95`` on the
    future periods; ``backtest`` has one row per (origin, step) with ``actual``, ``model`` and
    ``naive``; ``errors`` holds MAPE/sMAPE/MAE of ``model`` and ``naive``; ``winner`` is
    ``"model"`` or ``"naive"``.
    """

    freq: str
    seasonal_period: int
    horizon: int
    n_origins: int
    model: str
    candidates: list[dict[str, Any]]
    history: pd.Series
    forecast: pd.DataFrame
    naive_forecast: pd.DataFrame
    backtest: pd.DataFrame
    errors: dict[str, dict[str, float | None]]
    winner: str
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def mape_defined(self) -> bool:
        return self.errors["model"]["mape"] is not None

    def summary(self) -> str:
        """One honest sentence on who forecasts better over the backtest."""
        em, en = self.errors["model"], self.errors["naive"]
        base = "seasonal-naive" if self.seasonal_period > 1 else "naive"
        if self.winner == "model":
            return (
                f"{self.model} beats the {base} baseline over {self.n_origins} origins x "
                f"{self.horizon} steps: sMAPE {em['smape']:.1f} % vs {en['smape']:.1f} %"
            )
        return (
            f"The {base} baseline forecasts as well as or better than {self.model} over "
            f"{self.n_origins} origins x {self.horizon} steps (sMAPE {en['smape']:.1f} % vs "
            f"{em['smape']:.1f} %): prefer the baseline's forecast"
        )

    def to_dict(self) -> dict[str, Any]:
        def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {"period": ix.date().isoformat(), **{k: _num(v) for k, v in r.items()}}
                for ix, r in frame.iterrows()
            ]

        return {
            "freq": self.freq,
            "seasonal_period": self.seasonal_period,
            "horizon": self.horizon,
            "n_origins": self.n_origins,
            "model": self.model,
            "candidates": self.candidates,
            "history": [
                {"period": ix.date().isoformat(), "value": _num(v)}
                for ix, v in self.history.items()
            ],
            "forecast": rows(self.forecast),
            "naive_forecast": rows(self.naive_forecast),
            "backtest": [
                {
                    "origin": r.origin.date().isoformat(),
                    "period": r.period.date().isoformat(),
                    "step": int(r.step),
                    "actual": _num(r.actual),
                    "model": _num(r.model),
                    "naive": _num(r.naive),
                }
                for r in self.backtest.itertuples()
            ],
            "errors": self.errors,
            "winner": self.winner,
            "summary": self.summary(),
            "notes": self.notes,
            "timings": self.timings,
        }


def _num(v: Any) -> float | None:
    v = float(v)
    return round(v, 6) if math.isfinite(v) else None


def _frame(index: pd.DatetimeIndex, mean: np.ndarray, sd: np.ndarray, lower, upper) -> pd.DataFrame:
    out = {"mean": mean}
    for level in LEVELS:
        out[f"lo{level}"] = mean - _Z[level] * sd
        out[f"hi{level}"] = mean + _Z[level] * sd
    frame = pd.DataFrame(out, index=index)
    if lower is not None or upper is not None:
        frame = frame.clip(lower=lower, upper=upper)
    return frame


def forecast_kpi(
    y: pd.Series,
    freq: str = "W",
    horizon: int | None = None,
    *,
    n_origins: int = 4,
    seasonal_period: int | None = None,
    select: str = "backtest",
    lower: float | None = None,
    upper: float | None = None,
) -> ForecastResult:
    """Fit ETS and SARIMA candidates to ``y``, backtest them and forecast ``horizon`` periods.

    Parameters
    ----------
    y : pandas.Series
        One value per period on a regular ``DatetimeIndex`` (see :func:`make_series`).
    freq : {"D", "W", "M"}
    horizon : int, optional
        Periods to forecast and to backtest (14 days, 13 weeks or 6 months by default).
    n_origins : int
        Rolling origins of the backtest, one period apart.
    seasonal_period : int, optional
        :math:`m`; 7, 52 or 12 by default. Seasonal models are used only when every backtest
        window holds at least :math:`2m + 2` periods; the baseline is seasonal-naive when it
        holds :math:`m`, else naive (both cases are noted).
    select : {"backtest", "aic"}
        How the ETS and the ARIMA family winner are compared (see the module docstring).
    lower, upper : float, optional
        Clip forecasts and intervals to this range.

    Returns
    -------
    ForecastResult

    Raises
    ------
    ForecastInputError
        An irregular series, a missing value, or fewer than
        ``horizon + n_origins - 1 + 10`` periods.

    Notes
    -----
    The state-space filters multiply matrices of a few dozen rows thousands of times; a
    multi-threaded BLAS spends more on waking its threads than on the products (30-100 times
    slower on a busy 2-core machine), so the fits run with one BLAS thread (threadpoolctl).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _forecast_kpi(y, freq, horizon, n_origins, seasonal_period, select, lower, upper)


def _forecast_kpi(
    y: pd.Series,
    freq: str,
    horizon: int | None,
    n_origins: int,
    seasonal_period: int | None,
    select: str,
    lower: float | None,
    upper: float | None,
) -> ForecastResult:
    freq = _check_freq(freq)
    y = check_series(y, freq)
    h = DEFAULT_HORIZONS[freq] if horizon is None else int(horizon)
    if h < 1:
        raise ForecastInputError("horizon must be at least 1")
    if n_origins < 1:
        raise ForecastInputError("n_origins must be at least 1")
    if select not in ("backtest", "aic"):
        raise ForecastInputError(f"select must be 'backtest' or 'aic', not {select!r}")
    n = len(y)
    need = MIN_TRAIN + h + n_origins - 1
    if n < need:
        raise ForecastInputError(
            f"Too short: a horizon of {h} with {n_origins} backtest origins needs at least "
            f"{need} periods, the series has {n} ({y.index[0].date()} to {y.index[-1].date()}); "
            "use a finer frequency, a shorter horizon or fewer origins"
        )
    m_season = SEASONAL_PERIODS[freq] if seasonal_period is None else int(seasonal_period)
    shortest = n - h - n_origins + 1
    notes: list[str] = []
    m_model = m_season if m_season > 1 and shortest >= 2 * m_season + 2 else 1
    m_base = m_season if m_season > 1 and shortest >= m_season else 1
    if m_season > 1 and m_model == 1:
        notes.append(
            f"Fewer than {2 * m_season + 2} periods in a backtest window: no seasonal model "
            f"was fitted (season of {m_season} periods)"
        )
    if m_season > 1 and m_base == 1:
        notes.append(
            f"Less than one season ({m_season} periods) in a backtest window: the baseline is "
            "the naive forecast (last value)"
        )
    values = y.to_numpy()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    families = _candidates(m_model)
    candidates: list[dict[str, Any]] = []
    best: dict[str, tuple[_Fitted, Any]] = {}
    for family, fitters in families.items():
        for fit in fitters:
            try:
                fitted = fit(values)
            except (ValueError, np.linalg.LinAlgError) as exc:
                candidates.append({"family": family, "model": None, "aic": None, "error": str(exc)})
                continue
            aic = fitted.aic if math.isfinite(fitted.aic) else None
            candidates.append({"family": family, "model": fitted.name, "aic": aic})
            if aic is not None and (family not in best or aic < best[family][0].aic):
                best[family] = (fitted, fit)
    if not best:
        raise ForecastInputError("No model could be fitted to the series")
    timings["fit_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    origins = [n - h - n_origins + 1 + j for j in range(n_origins)]
    order = ["ets", "arima"] if select == "backtest" else (["ets"] if "ets" in best else ["arima"])
    backtests: dict[str, np.ndarray] = {}
    for family in order:
        if family not in best:
            continue
        fit = best[family][1]
        preds = []
        for t in origins:
            try:
                preds.append(fit(values[:t]).forecast(h)[0])
            except (ValueError, np.linalg.LinAlgError):
                preds.append(np.full(h, np.nan))
        backtests[family] = np.array(preds)
    naive = np.array([seasonal_naive(values[:t], h, m_base)[0] for t in origins])
    actual = np.array([values[t : t + h] for t in origins])
    scored = {
        fam: forecast_errors(actual, _clip(p, lower, upper))
        for fam, p in backtests.items()
        if np.all(np.isfinite(p))
    }
    if not scored:
        raise ForecastInputError("No model could be refitted at the backtest origins")
    chosen = min(scored, key=lambda f: scored[f]["smape"])
    timings["backtest_s"] = time.perf_counter() - t1
    fitted = best[chosen][0]
    for c in candidates:
        c["chosen"] = c["model"] == fitted.name
    errors = {"model": scored[chosen], "naive": forecast_errors(actual, _clip(naive, lower, upper))}
    if errors["model"]["mape"] is None:
        notes.append("MAPE is undefined: some actual values are 0; compare sMAPE")
    winner = "model" if errors["model"]["smape"] < errors["naive"]["smape"] else "naive"
    future = pd.date_range(y.index[-1], periods=h + 1, freq=FREQ_ALIASES[freq])[1:]
    mean, sd = fitted.forecast(h)
    n_mean, n_sd = seasonal_naive(values, h, m_base)
    rows = []
    origin_dates = y.index
    for j, t in enumerate(origins):
        for s in range(h):
            rows.append(
                {
                    "origin": origin_dates[t - 1],
                    "period": origin_dates[t + s],
                    "step": s + 1,
                    "actual": actual[j, s],
                    "model": float(_clip(backtests[chosen][j, s], lower, upper)),
                    "naive": float(_clip(naive[j, s], lower, upper)),
                }
            )
    timings["total_s"] = time.perf_counter() - t0
    return ForecastResult(
        freq=freq,
        seasonal_period=m_base,
        horizon=h,
        n_origins=n_origins,
        model=fitted.name,
        candidates=candidates,
        history=y,
        forecast=_frame(future, mean, sd, lower, upper),
        naive_forecast=_frame(future, n_mean, n_sd, lower, upper),
        backtest=pd.DataFrame(rows),
        errors=errors,
        winner=winner,
        notes=notes,
        timings={k: round(v, 4) for k, v in timings.items()},
    )


def _clip(x: Any, lower: float | None, upper: float | None) -> Any:
    if lower is None and upper is None:
        return x
    return np.clip(x, -np.inf if lower is None else lower, np.inf if upper is None else upper)
