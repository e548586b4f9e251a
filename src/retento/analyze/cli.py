"""`retento analyze clv`: customer lifetime value from a transaction file, no database needed.

Reads CSV or Parquet through DuckDB, summarises with :func:`retento.analytics.summarize`, fits
BG/NBD, MBG/NBD or Pareto/NBD plus Gamma-Gamma, and writes one row per customer: as CSV with
six decimals (the frequency as an integer), or as Parquet with full double precision when
``--output`` ends in ``.parquet``.
"""

from __future__ import annotations

import datetime
import gc
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import typer

from retento.analyze.base import (
    LANGUAGE_OPTION_NAMES,
    N_,
    app,
    check_output,
    echo_clv_tail,
    language,
    written,
)
from retento.analyze.base import fail as _fail
from retento.analyze.churn_common import SCORE_COLUMNS, holdout_line, holdout_metrics

MODELS = ("bgnbd", "mbgnbd", "pareto")
MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto": "Pareto/NBD"}
FREQ_DAYS = {"D": 1.0, "W": 7.0}
ENGINES = ("duckdb", "spark")
ENGINE_OPTION = typer.Option(
    "duckdb",
    "--engine",
    help="duckdb (one machine) or spark (PySpark, the `spark` extra; see docs/scale-spark.md).",
)
SPARK_MASTER_OPTION = typer.Option(
    None,
    "--spark-master",
    help="Spark master with --engine spark (default $RETENTO_SPARK_MASTER, then local[*]).",
)


def _engine(engine: str) -> str:
    """The validated --engine value."""
    if engine not in ENGINES:
        _fail(N_("--engine must be duckdb or spark, not %(value)s"), value=repr(engine))
    return engine


@app.command("clv")
def clv(
    transactions: Path = typer.Argument(..., help="Transactions as CSV (with header) or Parquet."),
    customer_col: str = typer.Option(..., "--customer-col", help="Customer id column."),
    date_col: str = typer.Option(..., "--date-col", help="Transaction date column."),
    amount_col: str = typer.Option(..., "--amount-col", help="Transaction amount column."),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help=(
            "Where to write one row per customer: CSV with 6 decimals, or Parquet with full "
            "precision if the name ends in .parquet."
        ),
    ),
    freq: str = typer.Option("W", "--freq", help="Model time unit: W (weeks) or D (days)."),
    calibration_end: str | None = typer.Option(
        None, "--calibration-end", help="Fit on data up to this date; later data is the holdout."
    ),
    model: str = typer.Option("bgnbd", "--model", help="bgnbd, mbgnbd or pareto."),
    horizon: float = typer.Option(52.0, "--horizon", help="CLV horizon in model time units."),
    discount_rate: float = typer.Option(0.10, "--discount-rate", help="Yearly discount rate."),
    margin: float = typer.Option(1.0, "--margin", help="Profit margin applied to spend."),
    as_json: bool = typer.Option(False, "--json", help="Print the fit summary as JSON."),
    engine: str = ENGINE_OPTION,
    spark_master: str | None = SPARK_MASTER_OPTION,
) -> None:
    """Fit a BTYD model and Gamma-Gamma, and score every customer's CLV.

    Output columns: customer, frequency, recency, T, monetary, expected_purchases (over the
    horizon), p_alive, clv. In a CSV the frequency is an integer and the other columns have six
    decimals (the file is for people and spreadsheets; 17 significant digits are noise and
    cost more than the whole fit to write); a .parquet output keeps full double precision.
    Gamma-Gamma is fitted on the repeat customers with a positive mean
    repeat spend; repeat customers whose mean is $0 or negative are left out of the fit (the
    summary counts them) and, like one-time buyers, get the population mean spend.

    With --engine spark the summary is computed by Spark SQL, the models are fitted on the
    driver from the collapsed statistics and the scores computed on the executors; a
    .parquet --output is written by the executors as a Parquet directory.
    """
    freq = freq.upper()
    if freq not in FREQ_DAYS:
        _fail(N_("--freq must be W or D, not %(value)s"), value=repr(freq))
    if model not in MODELS:
        _fail(
            N_("--model must be one of %(choices)s, not %(value)s"),
            choices=", ".join(MODELS),
            value=repr(model),
        )
    if horizon <= 0:
        _fail(N_("--horizon must be positive"))
    if discount_rate < 0 or margin <= 0:
        _fail(N_("--discount-rate must be >= 0 and --margin > 0"))
    if not transactions.exists():
        _fail(N_("file not found: %(path)s"), path=transactions)
    if calibration_end is not None and not _is_date(calibration_end):
        _fail(N_("--calibration-end is not a date: %(value)s"), value=repr(calibration_end))
    if _engine(engine) == "spark":
        from retento.analyze.spark_cli import clv_on_spark

        clv_on_spark(
            transactions, customer_col, date_col, amount_col, output, freq=freq,
            calibration_end=calibration_end, model=model, horizon=horizon,
            discount_rate=discount_rate, margin=margin, as_json=as_json, master=spark_master,
        )  # fmt: skip
        return
    check_output(output)  # before the work (Spark may write elsewhere: checked by Spark)
    # A short-lived process allocating few cyclic objects: the collector would only walk the
    # ~10^5 objects that importing pandas and SciPy creates, several times (~0.15 s of CPU).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _clv_duckdb(
            transactions, customer_col, date_col, amount_col, output, freq=freq,
            calibration_end=calibration_end, model=model, horizon=horizon,
            discount_rate=discount_rate, margin=margin, as_json=as_json,
        )  # fmt: skip
    finally:
        if gc_was_enabled:
            gc.enable()


def _is_date(value: str) -> bool:
    """Whether ``value`` is a date pandas can read (``YYYY-MM-DD`` without importing it)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            datetime.date.fromisoformat(value)
            return True
        except ValueError:
            return False
    import pandas as pd

    try:
        pd.Timestamp(value)
    except ValueError:
        return False
    return True


def _clv_duckdb(
    transactions: Path,
    customer_col: str,
    date_col: str,
    amount_col: str,
    output: Path,
    *,
    freq: str,
    calibration_end: str | None,
    model: str,
    horizon: float,
    discount_rate: float,
    margin: float,
    as_json: bool,
) -> None:
    """`analyze clv` with the DuckDB engine (the arguments are validated)."""
    import threading

    if "numpy" not in sys.modules:
        # A fresh process (not a test calling the command in-process): BLAS reductions run on
        # one thread (the likelihoods parallelise over customer chunks themselves); idle
        # OpenBLAS threads otherwise spin after every call.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy as np

    from retento.analytics.summary import SummaryInputError, summarize

    # pandas and the models (SciPy) cost ~0.5 s of CPU to import: import them while DuckDB,
    # which releases the GIL, reads and aggregates the file.
    preload = threading.Thread(target=_import_models, daemon=True)
    preload.start()
    timings: dict[str, float] = {}
    report: _Background | None = None
    spend_job: _Background | None = None
    t0 = time.perf_counter()
    try:
        summary = summarize(
            transactions,
            customer_col,
            date_col,
            amount_col,
            freq=freq,
            calibration_end=calibration_end,
        )
        timings["summarize_s"] = time.perf_counter() - t0
        preload.join()
        from retento.analytics import (
            BetaGeoModel,
            ModifiedBetaGeoModel,
            ParetoNBDModel,
            holdout_report,
        )
        from retento.analytics.btyd_base import _discounted_clv, _unique_rows
        from retento.analytics.spend import fit_spend

        x = summary["frequency"].to_numpy()
        tx = summary["recency"].to_numpy()
        T = summary["T"].to_numpy()
        m = summary["monetary"].to_numpy()
        t1 = time.perf_counter()
        # $0 or refunded repeat purchases give a mean repeat spend of 0 or less, which the
        # Gamma-Gamma likelihood cannot hold: fit on the others and count who was left out
        # (one code path with `retento score`: analytics.spend.fit_spend). The spend model
        # needs only (x, m): fitted in a thread (its likelihood is NumPy and SciPy work on
        # long arrays, which release the GIL) while the transaction model is fitted.
        spend_job = _Background(fit_spend, x, m)
        spend_job.start()
        # Customers share (x, t_x, T) rows: the fit collapses them to distinct rows and the
        # scores are computed per distinct row, so the rows are found once for both.
        (ux, utx, uT), inverse = _distinct_rows(x, tx, T, FREQ_DAYS[freq], _unique_rows)
        fitter = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel}.get(
            model, ParetoNBDModel
        )()
        fitter.fit(ux, utx, uT, weights=np.bincount(inverse, minlength=len(ux)).astype(float))
        # The holdout report needs only this fit: computed in a thread (NumPy and SciPy's
        # special functions release the GIL on long arrays) while the customers are scored
        # and the file written.
        unit = FREQ_DAYS[freq]
        if calibration_end is not None:
            report = _Background(_holdout_dict, holdout_report, fitter, summary, unit)
            report.start()
        spend_job.join()
        if spend_job.error is not None:
            raise spend_job.error
        spend_fit = spend_job.result
        gg, left_out = spend_fit.model, spend_fit.left_out
        timings["fit_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        expected_at = fitter._expected_purchases_fn(ux, utx, uT)
        expected_u = expected_at(horizon)
        expected = expected_u[inverse]
        alive = fitter.probability_alive(ux, utx, uT)[inverse]
        # x = 0 in the spend model gives the population mean p v / (q - 1).
        spend = spend_fit.expected_spend()
        discounted = _discounted_clv(
            # E[Y(horizon)] is already known; the quadrature nodes are inside (0, horizon).
            lambda t: expected_u if t == horizon else expected_at(t),
            np.ones(len(ux)),
            horizon,
            discount_rate,
            1.0,
            unit,
        )[inverse]
        value = margin * spend * discounted
        timings["score_s"] = time.perf_counter() - t2
    except (SummaryInputError, _convergence_error(), ValueError) as exc:
        for job in (spend_job, report):
            if job is not None:
                job.join()
        _fail(str(exc))
        return
    # DuckDB writes the file (releasing the GIL) while the holdout report may still run.
    t3 = time.perf_counter()
    writer = _Background(_write_scores, output, summary, expected, alive, value, customer_col)
    writer.start()
    holdout: dict[str, Any] | None = None
    if report is not None:
        report.join()
        if isinstance(report.error, SummaryInputError | _convergence_error() | ValueError):
            writer.join()
            output.unlink(missing_ok=True)
            _fail(str(report.error))
            return
        if report.error is not None:
            raise report.error
        holdout = report.result
    writer.join()
    if writer.error is not None:
        raise writer.error
    timings["write_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    result = {
        "model": model,
        "customers": len(summary),
        "freq": freq,
        "params": fitter.params_,
        "log_likelihood": fitter.log_likelihood_,
        "gamma_gamma": spend_fit.to_dict(),
        "horizon": horizon,
        "discount_rate": discount_rate,
        "margin": margin,
        "total_clv": float(value.sum()),
        "holdout": None
        if holdout is None
        else {"metrics": holdout["metrics"], "by_frequency": holdout["by_frequency"]},
        "output": str(output),
        "timings": timings,
    }
    if as_json:
        from retento.analyze.propensity_cli import _clean  # NaN / inf are not JSON: null

        sys.stdout.write(json.dumps(_clean(result), indent=2) + "\n")
    else:
        from retento.core.cli_say import say

        params = ", ".join(f"{k}={v:.4g}" for k, v in fitter.params_.items())
        typer.echo(
            say(
                "%(n)s customers; %(model)s %(params)s; log-likelihood %(ll)s",
                n=f"{len(summary):,}",
                model=MODEL_NAMES[model],
                params=params,
                ll=f"{fitter.log_likelihood_:.2f}",
            )
        )
        echo_clv_tail(
            left_out=left_out,
            mean_spend=float(gg.conditional_expected_average_value(0.0, 0.0)[0])
            if left_out
            else 0.0,
            holdout=holdout["metrics"] if holdout is not None else None,
            total=float(value.sum()),
            output=output,
        )


def _distinct_rows(x: Any, tx: Any, T: Any, unit: float, general: Any) -> tuple[list[Any], Any]:
    """``general([x, tx, T])`` (:func:`retento.analytics.btyd._unique_rows`: the distinct rows
    in order of first appearance and the inverse index), found with one hash pass.

    The summary's columns are whole numbers of days divided by ``unit``: packed into one
    integer key, the rows are factorised once instead of three times (~0.1 s of CPU per
    million customers), with the same rows, order and inverse. Columns that are not such
    day counts (or a key that could overflow) go through ``general``.
    """
    import numpy as np
    import pandas as pd

    n = len(x)
    if n == 0:
        return general([x, tx, T])
    days = []
    for col, scale in ((x, 1.0), (tx, unit), (T, unit)):
        d = np.rint(col * scale)
        if not (np.isfinite(d).all() and (d / scale == col).all()) or d.min() < 0:
            return general([x, tx, T])
        days.append(d.astype(np.int64))
    size = [int(d.max()) + 1 for d in days]
    if size[0] * size[1] * size[2] >= 2**62:
        return general([x, tx, T])
    key = (days[0] * size[1] + days[1]) * size[2] + days[2]
    inverse, uniques = pd.factorize(key, sort=False)
    first = np.empty(len(uniques), dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    return [np.ascontiguousarray(c[first]) for c in (x, tx, T)], inverse


def _import_models() -> None:
    import pandas  # noqa: F401

    import retento.analytics.btyd
    import retento.analytics.btyd_mbg
    import retento.analytics.holdout
    import retento.analytics.spend  # noqa: F401


def _convergence_error() -> type[Exception]:
    """The fit's error type, imported only when an exception is being matched."""
    from retento.analytics.btyd import ConvergenceError

    return ConvergenceError


def _holdout_dict(holdout_report: Any, fitter: Any, summary: Any, unit: float) -> dict[str, Any]:
    return holdout_report(fitter, summary, freq_unit_days=unit).to_dict()


class _Background:
    """``fn(*args)`` in a thread, keeping its result or exception for the main thread (the
    caller re-raises it after :meth:`join`)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        import threading

        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, *args))

    def _run(self, fn: Any, *args: Any) -> None:
        try:
            self.result = fn(*args)
        except BaseException as exc:  # re-raised in the main thread by the caller
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()


def _write_scores(
    output: Path, summary: Any, expected: Any, alive: Any, value: Any, customer_col: str
) -> None:
    """Write the scores with DuckDB (fast for millions of rows): Parquet with full precision
    for a ``.parquet`` (or ``.pq``) output, else CSV: integer frequency, six decimals."""
    import duckdb
    import pandas as pd

    columns = {
        "customer": summary.index.to_numpy(),
        "frequency": summary["frequency"].to_numpy(),
        "recency": summary["recency"].to_numpy(),
        "T": summary["T"].to_numpy(),
        "monetary": summary["monetary"].to_numpy(),
        "expected_purchases": expected,
        "p_alive": alive,
        "clv": value,
    }
    frame = pd.DataFrame(columns, copy=False)  # DuckDB reads the arrays; no copy needed
    col = customer_col.replace('"', '""')
    if output.suffix.lower() in {".parquet", ".pq"}:
        select = f'customer AS "{col}", * EXCLUDE (customer)'
        options = "FORMAT parquet"
    else:
        from retento.analytics.csv_out import csv_select

        rest = {k: v for k, v in columns.items() if k != "customer"}
        select = f'customer AS "{col}", ' + csv_select(rest, integer=("frequency",))
        options = "HEADER, DELIMITER ','"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        con.register("scores", frame)
        with written(output) as tmp:
            path = str(tmp).replace("'", "''")
            con.execute(f"COPY (SELECT {select} FROM scores) TO '{path}' ({options})")
    finally:
        con.close()


@app.command("churn")
def churn(
    transactions: Path = typer.Argument(..., help="Transactions as CSV (with header) or Parquet."),
    customer_col: str = typer.Option(..., "--customer-col", help="Customer id column."),
    date_col: str = typer.Option(..., "--date-col", help="Transaction date column."),
    amount_col: str = typer.Option(..., "--amount-col", help="Transaction amount column."),
    calibration_end: str = typer.Option(
        ..., "--calibration-end", help="Score at this date; train only on data up to it."
    ),
    horizon_days: int = typer.Option(
        ..., "--horizon-days", help="Churn = no purchase within this many days after the date."
    ),
    quantity_col: str | None = typer.Option(
        None,
        "--quantity-col",
        help=(
            "Optional items-per-transaction column (e.g. number of CDs): adds items per "
            "purchase, their trend and spend per item as features and reasons. On the CDNOW "
            "sample it did not improve the holdout (docs/analytics-churn.md)."
        ),
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the per-customer CSV."),
    windows: int = typer.Option(3, "--windows", help="Training cut-offs before the date."),
    lang: str | None = typer.Option(
        None,
        *LANGUAGE_OPTION_NAMES,
        help="Language of the reasons: en or zh (zh_CN); default: the command line's language "
        "(retento --lang, RETENTO_LANG, LANG).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    engine: str = ENGINE_OPTION,
    spark_master: str | None = SPARK_MASTER_OPTION,
) -> None:
    """Churn risk of every customer at a date, with the top three reasons.

    Trains gradient boosting on windows that end by --calibration-end (never on later data),
    scores every customer who bought by then, and, when the file holds later data, reports
    holdout ROC AUC, PR AUC, lift in the top 10 %, Brier score and a calibration curve next to
    the BG/NBD-only baseline.

    With --engine spark the features are aggregated by Spark SQL, the model is trained on the
    driver and every customer is scored on the executors.
    """
    import pandas as pd

    from retento.analytics import SummaryInputError
    from retento.analytics.churn import ChurnRiskModel, TransactionLog, churn_metrics

    if horizon_days < 1 or horizon_days > 3660:
        _fail(N_("--horizon-days must be between 1 and 3660"))
    if windows < 1 or windows > 24:
        _fail(N_("--windows must be between 1 and 24"))
    lang = language(lang)
    if not transactions.exists():
        _fail(N_("file not found: %(path)s"), path=transactions)
    try:
        cut = pd.Timestamp(calibration_end)
    except ValueError:
        _fail(N_("--calibration-end is not a date: %(value)s"), value=repr(calibration_end))
        return
    if _engine(engine) == "spark":
        from retento.analyze.spark_cli import churn_on_spark

        churn_on_spark(
            transactions, customer_col, date_col, amount_col, output, cut=cut,
            horizon_days=horizon_days, quantity_col=quantity_col, windows=windows, lang=lang,
            as_json=as_json, master=spark_master,
        )  # fmt: skip
        return
    check_output(output)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        with TransactionLog(
            transactions, customer_col, date_col, amount_col, quantity_col=quantity_col
        ) as log:
            timings["load_s"] = time.perf_counter() - t0
            if cut < log.first_day:
                _fail(
                    N_("--calibration-end %(date)s is before the first purchase"), date=cut.date()
                )
            if cut > log.last_day:
                # The training windows end at the cut-off: the days after the file's last
                # purchase would count every customer as churned (mean risk 100 % on CDNOW
                # three months after its end).
                _fail(
                    N_(
                        "--calibration-end %(date)s is after the last purchase in the file "
                        "(%(last)s): the training windows would count every customer as "
                        "churned after it"
                    ),
                    date=cut.date(),
                    last=log.last_day.date(),
                )
            t1 = time.perf_counter()
            model = ChurnRiskModel(horizon_days=horizon_days, n_windows=windows)
            model.fit_transactions(log, cut)
            timings["train_s"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            scores = model.score_transactions(log, cut)
            timings["score_s"] = time.perf_counter() - t2
            holdout = None
            if log.last_day > cut:
                seen = min(horizon_days, (log.last_day - cut).days)
                y = log.labels(cut, horizon_days, scores.index)
                holdout = {
                    "days": int(seen),
                    "complete": seen == horizon_days,
                    **holdout_metrics(y, scores, churn_metrics),
                }
                scores["churned"] = y
    except (SummaryInputError, ValueError) as exc:
        _fail(str(exc))
        return
    t3 = time.perf_counter()
    _write_churn_csv(output, scores, customer_col, lang)
    timings["write_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    reasons = scores["reason_code_1"].value_counts().to_dict()
    result = {
        "customers": int(len(scores)),
        "calibration_end": cut.date().isoformat(),
        "horizon_days": horizon_days,
        "training_windows": model.windows_,
        "mean_risk": float(scores["churn_risk"].mean()),
        "top_reasons": {str(k): int(v) for k, v in reasons.items()},
        "holdout": holdout,
        "output": str(output),
        "timings": timings,
    }
    if as_json:
        from retento.analyze.propensity_cli import _clean  # NaN / inf are not JSON: null

        sys.stdout.write(json.dumps(_clean(result), indent=2) + "\n")
        return
    from retento.core.cli_say import say

    typer.echo(
        say(
            "%(n)s customers scored at %(date)s for a %(days)s-day horizon; mean churn risk "
            "%(mean)s; trained on %(windows)s",
            n=f"{len(scores):,}",
            date=cut.date(),
            days=horizon_days,
            mean=f"{scores['churn_risk'].mean():.1%}",
            windows=", ".join(f"{w['cutoff']} (+{w['label_days']} d)" for w in model.windows_),
        )
    )
    if holdout is not None:
        typer.echo(holdout_line(holdout, None if holdout["complete"] else holdout["days"]))
    typer.echo(say("Scores written to %(file)s", file=output))


def _write_churn_csv(output: Path, scores: Any, customer_col: str, lang: str) -> None:
    import pandas as pd

    cols = [c for c in SCORE_COLUMNS if c in scores.columns]
    frame = scores[cols].copy()
    if lang == "zh":
        for i in (1, 2, 3):
            frame[f"reason_{i}"] = scores[f"reason_zh_{i}"]
    if "churned" in scores:
        frame["churned"] = scores["churned"]
    frame.insert(0, customer_col, frame.index.to_numpy())
    with written(output) as tmp:
        pd.DataFrame(frame).to_csv(tmp, index=False, float_format="%.6g")


# The other subcommands register themselves on ``app`` (they import ``base``, not this module).
from retento.analyze import (  # noqa: E402, F401
    basket_cli,
    drivers_cli,
    forecast_cli,
    propensity_cli,
    segments_cli,
    sequences_cli,
)
