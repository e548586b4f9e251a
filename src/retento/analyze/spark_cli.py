"""``--engine spark`` of ``retento analyze clv`` and ``churn``: the same outputs as the DuckDB
engine, computed by :mod:`retento.analytics.spark` (PySpark imported only here)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from retento.analyze.base import N_, echo_clv_tail, written
from retento.analyze.base import fail as _fail


def spark_session(master: str | None) -> Any:
    """The SparkSession for a command, or a clear error when PySpark or Java is missing."""
    from retento.analytics.errors import SummaryInputError

    try:
        from retento.analytics.spark.session import get_spark

        return get_spark(master)
    except SummaryInputError as exc:
        _fail(str(exc))
    except Exception as exc:  # Java missing or the master unreachable: py4j's own errors
        _fail(
            N_("cannot start Spark (%(master)s): %(error)s"), master=master or "local[*]", error=exc
        )


def clv_on_spark(
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
    master: str | None,
) -> None:
    """``retento analyze clv --engine spark``: prints what the DuckDB engine prints."""
    from retento.analytics.btyd import ConvergenceError
    from retento.analytics.errors import SummaryInputError
    from retento.analytics.spark.pipeline import clv_pipeline

    spark = spark_session(master)
    try:
        result = clv_pipeline(
            spark,
            str(transactions),
            customer_col,
            date_col,
            amount_col,
            output=output,
            freq=freq,
            calibration_end=calibration_end,
            model=model,
            horizon=horizon,
            discount_rate=discount_rate,
            margin=margin,
        )
    except (SummaryInputError, ConvergenceError, ValueError) as exc:
        _fail(str(exc))
        return
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    from retento.core.cli_say import say

    names = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto": "Pareto/NBD"}
    params = ", ".join(f"{k}={v:.4g}" for k, v in result["params"].items())
    typer.echo(
        say(
            "%(n)s customers (Spark, %(rows)s distinct rows fitted on the driver); %(model)s "
            "%(params)s; log-likelihood %(ll)s",
            n=f"{result['customers']:,}",
            rows=f"{result['distinct_rows']:,}",
            model=names[model],
            params=params,
            ll=f"{result['log_likelihood']:.2f}",
        )
    )
    gg = result["gamma_gamma"]
    echo_clv_tail(
        left_out=gg["left_out"],
        mean_spend=gg["population_mean_spend"],
        holdout=result["holdout"]["metrics"] if result["holdout"] is not None else None,
        total=result["total_clv"],
        output=output,
    )


def churn_on_spark(
    transactions: Path,
    customer_col: str,
    date_col: str,
    amount_col: str,
    output: Path,
    *,
    cut: Any,
    horizon_days: int,
    quantity_col: str | None,
    windows: int,
    lang: str,
    as_json: bool,
    master: str | None,
) -> None:
    """``retento analyze churn --engine spark``: features by Spark SQL, training on the driver,
    scoring on the executors; the same CSV (or a Parquet directory) and summary."""
    from retento.analytics.churn import ChurnRiskModel, churn_metrics
    from retento.analytics.errors import SummaryInputError
    from retento.analytics.spark.churn import SparkTransactionLog, score_churn
    from retento.analytics.spark.pipeline import write_frame
    from retento.analyze.churn_common import SCORE_COLUMNS, holdout_line, holdout_metrics

    spark = spark_session(master)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        with SparkTransactionLog(
            spark, str(transactions), customer_col, date_col, amount_col, quantity_col
        ) as log:
            timings["load_s"] = time.perf_counter() - t0
            if cut < log.first_day:
                _fail(
                    N_("--calibration-end %(date)s is before the first purchase"), date=cut.date()
                )
            t1 = time.perf_counter()
            model = ChurnRiskModel(horizon_days=horizon_days, n_windows=windows)
            model.fit_transactions(log, cut)
            timings["train_s"] = time.perf_counter() - t1
            t2 = time.perf_counter()
            scores = score_churn(model, log, cut)
            stats = scores.selectExpr("count(*) AS n", "avg(churn_risk) AS mean").first()
            reasons = {
                str(r[0]): int(r[1])
                for r in scores.groupBy("reason_code_1").count().orderBy("count", ascending=False)
                .collect()
            }  # fmt: skip
            timings["score_s"] = time.perf_counter() - t2
            holdout = None
            if log.last_day > cut:
                seen = min(horizon_days, (log.last_day - cut).days)
                bought = log.buyers(cut, horizon_days).selectExpr("cust", "0 AS bought_flag")
                scores = (
                    scores.join(bought, "cust", "left")
                    .selectExpr("*", "CAST(bought_flag IS NULL AS INT) AS churned")
                    .drop("bought_flag")
                )
                cols = ["churned", "churn_risk", "p_no_purchase_bgnbd", "expected_purchases_bgnbd"]
                pdf = scores.select(*cols).toPandas()
                y = pdf["churned"].to_numpy()
                holdout = {
                    "days": int(seen),
                    "complete": seen == horizon_days,
                    **holdout_metrics(y, pdf, churn_metrics),
                }
            t3 = time.perf_counter()
            # The DuckDB engine's columns: customer, SCORE_COLUMNS present, churned.
            selected = [f"cust AS `{customer_col.replace('`', '``')}`"]
            for c in SCORE_COLUMNS:
                if c not in scores.columns:
                    continue
                zh = lang == "zh" and c.startswith("reason_") and not c.startswith("reason_code")
                selected.append(f"reason_zh_{c[-1]} AS {c}" if zh else c)
            if "churned" in scores.columns:
                selected.append("churned")
            frame = scores.selectExpr(*selected)
            _write(frame, output, customer_col, write_frame)
            timings["write_s"] = time.perf_counter() - t3
    except (SummaryInputError, ValueError) as exc:
        _fail(str(exc))
        return
    timings["total_s"] = time.perf_counter() - t0
    result = {
        "engine": "spark",
        "customers": int(stats["n"]),
        "calibration_end": cut.date().isoformat(),
        "horizon_days": horizon_days,
        "training_windows": model.windows_,
        "mean_risk": float(stats["mean"]),
        "top_reasons": reasons,
        "holdout": holdout,
        "output": str(output),
        "timings": timings,
    }
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    from retento.core.cli_say import say

    typer.echo(
        say(
            "%(n)s customers scored on Spark at %(date)s for a %(days)s-day horizon; mean churn "
            "risk %(mean)s; trained on %(windows)s",
            n=f"{result['customers']:,}",
            date=cut.date(),
            days=horizon_days,
            mean=f"{result['mean_risk']:.1%}",
            windows=", ".join(f"{w['cutoff']} (+{w['label_days']} d)" for w in model.windows_),
        )
    )
    if holdout is not None:
        typer.echo(holdout_line(holdout))
    typer.echo(say("Scores written to %(file)s", file=output))


def _write(frame: Any, output: Path, customer_col: str, write_frame: Any) -> None:
    """Parquet (by the executors) or the DuckDB engine's CSV layout (6 significant digits)."""
    if output.suffix.lower() in {".parquet", ".pq"} or str(output).startswith("jdbc:"):
        write_frame(frame, str(output), table="retento_churn_scores")
        return
    pdf = frame.toPandas().sort_values(customer_col, kind="stable")
    with written(output) as tmp:
        pdf.to_csv(tmp, index=False, float_format="%.6g")
