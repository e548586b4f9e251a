"""`retento analyze drivers`: what explains an outcome in a per-customer table, no database
needed (:class:`retento.analytics.drivers.DriverAnalysis`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from retento.analyze.base import N_, app, check_output, written
from retento.analyze.base import fail as _fail
from retento.analyze.propensity_cli import _clean, read_table


@app.command("drivers")
def drivers(
    table: Path = typer.Argument(..., help="One row per customer: CSV (with header) or Parquet."),
    outcome: str = typer.Option(..., "--outcome", help="The column to explain."),
    features: str | None = typer.Option(
        None, "--features", help="Comma-separated feature columns (default: every other numeric)."
    ),
    exclude: str = typer.Option("", "--exclude", help="Comma-separated columns to leave out."),
    ci: str = typer.Option("bootstrap", "--ci", help="bootstrap or ols."),
    n_bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Coefficient table CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Standardised elastic-net coefficients with confidence intervals, importance and the
    held-out R² of --outcome."""
    import pandas as pd

    from retento.analytics.drivers import DriverAnalysis

    if ci not in ("bootstrap", "ols"):
        _fail(N_("--ci must be bootstrap or ols, not %(value)s"), value=repr(ci))
    if output is not None:
        check_output(output)
    frame = read_table(table)
    if outcome not in frame.columns:
        _fail(N_("--outcome: column %(column)s is missing"), column=repr(outcome))
    skip = {c.strip() for c in exclude.split(",") if c.strip()} | {outcome}
    if features:
        cols = [c.strip() for c in features.split(",") if c.strip()]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            _fail(N_("--features: column %(column)s is missing"), column=repr(missing[0]))
    else:
        cols = [
            c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
        ]
    if not cols:
        _fail(N_("no numeric feature columns"))
    t0 = time.perf_counter()
    try:
        y = pd.to_numeric(frame[outcome], errors="coerce")
        model = DriverAnalysis(ci=ci, n_bootstrap=n_bootstrap, random_state=seed)
        model.fit(frame[cols], y)
    except ValueError as exc:
        _fail(str(exc))
    seconds = time.perf_counter() - t0
    s = model.summary()
    if output is not None:
        with written(output) as tmp:
            s.to_csv(tmp, float_format="%.6g")
    if as_json:
        out = {
            "outcome": outcome,
            "rows": int(y.notna().sum()),
            "r2_train": model.r2_train_,
            "r2_test": model.r2_test_,
            "alpha": model.alpha_,
            "l1_ratio": model.l1_ratio_,
            "ci": ci,
            "dropped": model.dropped_,
            "drivers": s.reset_index().to_dict(orient="records"),
            "seconds": round(seconds, 2),
        }
        typer.echo(json.dumps(_clean(out), indent=2))
        return
    from retento.core.cli_say import say, say_in

    typer.echo(
        say(
            "%(outcome)s: R² %(r2)s on %(n)s held-out rows (%(r2_train)s on %(n_train)s training "
            "rows); alpha %(alpha)s, L1 share %(l1)s; %(seconds)s s.",
            outcome=outcome,
            r2=f"{model.r2_test_:.3f}",
            n=model.n_test_,
            r2_train=f"{model.r2_train_:.3f}",
            n_train=model.n_train_,
            alpha=f"{model.alpha_:.3g}",
            l1=f"{model.l1_ratio_:.2f}",
            seconds=f"{seconds:.1f}",
        )
    )
    heads = (
        say_in("column", "driver"),
        say_in("column", "coef"),
        say_in("column", "interval"),
        say_in("column", "importance"),
    )
    typer.echo(f"{heads[0]:<28} {heads[1]:>8} {heads[2]:>20} {heads[3]:>10}")
    for name, r in s.iterrows():
        flag = " *" if r["significant"] else ""
        interval = f"[{r['ci_lower']:.3f}, {r['ci_upper']:.3f}]"
        typer.echo(
            f"{str(name)[:28]:<28} {r['coef']:>8.3f} {interval:>20} {r['importance']:>10.1%}{flag}"
        )
