"""Time the KPI forecasts (fit + rolling-origin backtest) per KPI, next to the seasonal-naive
baseline's backtest error, on a Retento database (e.g. after ``retento demo --customers 2000``).

    RETENTO_DATABASE_URL=sqlite:///demo.db python benchmarks/bench_forecast.py [--freq W M]

Prints a Markdown table: periods, chosen model, MAPE/sMAPE of the model and of the baseline,
who wins, and the time to read the series (SQL), to fit the candidates and to backtest, as wall
and CPU seconds. The target is under 2 s per KPI; the first KPI also pays statsmodels' import,
which is timed separately.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("RETENTO_DATABASE_URL"))
    parser.add_argument("--freq", nargs="+", default=["W", "M"], choices=["D", "W", "M"])
    parser.add_argument("--repeat", type=int, default=3, help="Fits per KPI; the median is kept.")
    args = parser.parse_args()
    if not args.url:
        parser.error("give --url or set RETENTO_DATABASE_URL")

    from retento.core.db import make_engine, make_session_factory
    from retento.insights import forecast_queries as fq
    from retento.models import import_all_models

    import_all_models()

    t0, c0 = time.perf_counter(), time.process_time()
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401

    print(
        f"statsmodels import: {time.perf_counter() - t0:.2f} s wall, "
        f"{time.process_time() - c0:.2f} s CPU (once per process)\n"
    )
    from retento.analytics.forecast import forecast_kpi

    session = make_session_factory(make_engine(args.url))()
    print(
        "| KPI | freq | periods | model | MAPE model | MAPE naive | sMAPE model | sMAPE naive "
        "| winner | SQL s | fit s | backtest s | total wall s | total CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for freq in args.freq:
        for kpi, spec in fq.KPIS.items():
            t0 = time.perf_counter()
            ks = fq.kpi_series(session, kpi, freq)
            sql_s = time.perf_counter() - t0
            runs = []
            for _ in range(args.repeat):
                w0, c0 = time.perf_counter(), time.process_time()
                try:
                    r = forecast_kpi(
                        ks.series, freq, lower=spec["lower"], upper=spec["upper"], n_origins=4
                    )
                except ValueError as exc:
                    print(f"| {kpi} | {freq} | {len(ks.series)} | {exc} |")
                    break
                runs.append((time.perf_counter() - w0, time.process_time() - c0, r))
            if not runs:
                continue
            runs.sort(key=lambda x: x[0])
            wall, cpu, r = runs[len(runs) // 2]
            em, en = r.errors["model"], r.errors["naive"]

            def pct(v: float | None) -> str:
                return "n/a (zeros)" if v is None else f"{v:.1f} %"

            print(
                f"| {kpi} | {freq} | {len(ks.series)} | {r.model} | {pct(em['mape'])} | "
                f"{pct(en['mape'])} | {pct(em['smape'])} | {pct(en['smape'])} | {r.winner} | "
                f"{sql_s:.3f} | {r.timings['fit_s']:.2f} | {r.timings['backtest_s']:.2f} | "
                f"{wall:.2f} | {cpu:.2f} |"
            )
    session.close()


if __name__ == "__main__":
    main()
