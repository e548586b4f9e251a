"""KPI forecasts: ETS/SARIMA against the seasonal-naive baseline, intervals, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retento.analytics import (
    ForecastInputError,
    forecast_errors,
    forecast_kpi,
    make_series,
    seasonal_naive,
)


def _monthly(values) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2022-01-01", periods=len(values), freq="MS"))


def test_trend_and_season_model_beats_seasonal_naive():
    # A trend the seasonal-naive forecast cannot follow: last year's value is always too low.
    rng = np.random.default_rng(3)
    t = np.arange(48)
    y = _monthly(200 + 4 * t + 30 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 3, 48))
    r = forecast_kpi(y, "M", horizon=6, n_origins=4)
    assert r.winner == "model"
    assert r.errors["model"]["smape"] < 0.5 * r.errors["naive"]["smape"]
    assert r.seasonal_period == 12
    assert len(r.forecast) == 6 and r.forecast.index[0] == pd.Timestamp("2026-01-01")
    assert (r.forecast["lo95"] <= r.forecast["lo80"]).all()
    assert (r.forecast["lo80"] <= r.forecast["mean"]).all()
    assert (r.forecast["mean"] <= r.forecast["hi80"]).all()
    assert (r.forecast["hi80"] <= r.forecast["hi95"]).all()
    # The backtest: 4 origins x 6 steps, the same actuals for model and baseline.
    assert len(r.backtest) == 24
    assert r.backtest["origin"].nunique() == 4
    assert sum(c.get("chosen", False) for c in r.candidates) == 1
    d = r.to_dict()
    assert d["winner"] == "model" and "beats" in d["summary"]
    assert len(d["history"]) == 48 and len(d["forecast"]) == 6


def test_pure_seasonal_series_naive_is_exact_and_wins():
    pattern = np.array([5.0, 9, 14, 20, 18, 11, 7, 6, 10, 15, 25, 40])
    y = _monthly(np.tile(pattern, 4))
    r = forecast_kpi(y, "M", horizon=6, n_origins=3)
    assert r.errors["naive"]["smape"] == 0.0
    assert r.errors["naive"]["mape"] == 0.0
    # Nothing beats an exact forecast: the result says the baseline wins.
    assert r.winner == "naive"
    assert "baseline" in r.summary()
    np.testing.assert_allclose(r.naive_forecast["mean"].to_numpy(), pattern[:6])


def test_seasonal_naive_formula_and_interval_growth():
    y = np.arange(1.0, 25.0)  # two "seasons" of 12
    mean, sd = seasonal_naive(y, 14, 12)
    np.testing.assert_array_equal(mean[:12], y[12:])
    np.testing.assert_array_equal(mean[12:], y[12:14])
    assert sd[12] == pytest.approx(sd[0] * np.sqrt(2))
    mean1, sd1 = seasonal_naive(y, 3, 1)
    np.testing.assert_array_equal(mean1, [24.0, 24.0, 24.0])
    assert sd1[2] == pytest.approx(sd1[0] * np.sqrt(3))


def test_errors_mape_undefined_at_zero_actuals():
    e = forecast_errors(np.array([0.0, 10.0]), np.array([0.0, 5.0]))
    assert e["mape"] is None
    assert e["smape"] == pytest.approx((0 + 200 * 5 / 15) / 2)
    e2 = forecast_errors(np.array([100.0, 50.0]), np.array([90.0, 60.0]))
    assert e2["mape"] == pytest.approx((10 + 20) / 2)
    assert e2["mae"] == pytest.approx(10.0)


def test_zero_weeks_note_and_counts_clipped_at_zero():
    rng = np.random.default_rng(5)
    y = pd.Series(
        rng.poisson(1.0, 80).astype(float),
        index=pd.date_range("2024-01-01", periods=80, freq="W-MON"),
    )
    r = forecast_kpi(y, "W", horizon=4, lower=0)
    assert r.errors["model"]["mape"] is None
    assert any("MAPE is undefined" in n for n in r.notes)
    # 80 weeks < 2 seasons of 52 in every window: no seasonal model, and it says so.
    assert any("no seasonal model" in n for n in r.notes)
    assert (r.forecast[["lo80", "lo95", "mean"]] >= 0).all().all()


def test_interval_coverage_on_simulated_local_level():
    # Local level (random walk + noise): ETS(A,N,N) is the true model; the 80 % and 95 %
    # intervals of the one-step forecast must cover about that share of new values.
    rng = np.random.default_rng(11)
    hits80 = hits95 = 0
    runs = 60
    for _ in range(runs):
        level = 50 + np.cumsum(rng.normal(0, 1.0, 61))
        y = level + rng.normal(0, 2.0, 61)
        s = pd.Series(y[:60], index=pd.date_range("2020-01-01", periods=60, freq="D"))
        r = forecast_kpi(s, "D", horizon=1, n_origins=1, seasonal_period=1, select="aic")
        f = r.forecast.iloc[0]
        hits80 += f["lo80"] <= y[60] <= f["hi80"]
        hits95 += f["lo95"] <= y[60] <= f["hi95"]
    assert 0.65 <= hits80 / runs <= 0.95
    assert hits95 / runs >= 0.85


def test_short_series_is_refused_with_the_numbers():
    y = _monthly(np.arange(12.0))
    with pytest.raises(ForecastInputError, match="needs at least 19 periods, the series has 12"):
        forecast_kpi(y, "M", horizon=6, n_origins=4)


def test_irregular_series_names_the_gap():
    idx = pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-04-01"])
    with pytest.raises(ForecastInputError, match="irregular.*2024-03-01"):
        forecast_kpi(pd.Series([1.0, 2, 3], index=idx), "M")
    with pytest.raises(ForecastInputError, match="no value for 2022-02-01"):
        forecast_kpi(_monthly([1.0, np.nan, 3]), "M")
    with pytest.raises(ForecastInputError, match="freq must be D, W or M"):
        forecast_kpi(_monthly([1.0, 2.0]), "Q")


def test_make_series_from_events_drops_partial_periods():
    events = pd.DataFrame(
        {
            "day": ["2024-01-15", "2024-02-01", "2024-02-10", "2024-03-05", "2024-04-10"],
            "amount": ["10.50", "20", "5", "7.25", "1"],
            "customer": ["a", "b", "b", "a", "c"],
        }
    )
    s = make_series(events, "day", "amount", freq="M")
    # January starts on the 15th and April ends on the 10th: both are partial.
    assert list(s.index) == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")]
    assert list(s) == [25.0, 7.25]
    c = make_series(events, "day", freq="M", agg="count", start="2024-01-01", end="2024-05-01")
    assert list(c) == [1.0, 2.0, 1.0, 1.0]
    u = make_series(
        events,
        "day",
        freq="M",
        agg="nunique",
        id_col="customer",
        start="2024-01-01",
        end="2024-05-01",
    )
    assert list(u) == [1.0, 1.0, 1.0, 1.0]
    w = make_series(events, "day", freq="W", agg="count", start="2024-01-15", end="2024-01-29")
    assert list(w.index) == [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-01-22")]
    assert list(w) == [1.0, 0.0]


def test_make_series_names_bad_rows_and_columns():
    events = pd.DataFrame({"day": ["2024-01-01", "not a date"], "amount": ["1", "2"]})
    with pytest.raises(ForecastInputError, match="Row 3: column 'day' is not a date"):
        make_series(events, "day", "amount")
    events = pd.DataFrame({"day": ["2024-01-01", "2024-01-02"], "amount": ["1", "x"]})
    with pytest.raises(ForecastInputError, match="Row 3: column 'amount' is not a number"):
        make_series(events, "day", "amount")
    with pytest.raises(ForecastInputError, match="Column 'total' not found"):
        make_series(events, "day", "total")
    with pytest.raises(ForecastInputError, match="needs an id column"):
        make_series(events, "day", agg="nunique")


def test_make_series_reads_csv_and_parquet(tmp_path):
    import duckdb

    csv_path = tmp_path / "events.csv"
    csv_path.write_text(
        "day,amount\n2024-01-01,1.5\n2024-01-01,2\n2024-01-02,4\n2024-01-03,0\n", encoding="utf-8"
    )
    pq_path = tmp_path / "events.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv_auto('{csv_path}')) TO '{pq_path}' (FORMAT PARQUET)")
    con.close()
    for path in (csv_path, pq_path):
        s = make_series(path, "day", "amount", freq="D")
        assert list(s) == [3.5, 4.0, 0.0]
        assert s.index.freqstr == "D"
    with pytest.raises(ForecastInputError, match="Column 'when' not found in"):
        make_series(pq_path, "when", "amount")
    with pytest.raises(ForecastInputError, match="File not found"):
        make_series(tmp_path / "missing.csv", "day")
