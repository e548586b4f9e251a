"""`retento analyze propensity`: who will buy a product or category next, from a purchase-line
file, no database needed (:class:`retento.analytics.propensity.PropensityModel`)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import typer

from retento.analyze.base import N_, app, check_output, written
from retento.analyze.base import fail as _fail


def read_table(path: Path) -> Any:
    """A CSV (with header) or Parquet file as a DataFrame; a clear error otherwise."""
    import pandas as pd

    if not path.exists():
        _fail(N_("file not found: %(path)s"), path=path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        _fail(N_("cannot read %(path)s: %(error)s"), path=path, error=exc)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@app.command("propensity")
def propensity(
    lines: Path = typer.Argument(..., help="Purchase lines as CSV (with header) or Parquet."),
    customer_col: str = typer.Option(..., "--customer-col", help="Customer id column."),
    date_col: str = typer.Option(..., "--date-col", help="Purchase date column."),
    item_col: str = typer.Option(..., "--item-col", help="Product or category column."),
    target: str = typer.Option(..., "--target", help="The value of --item-col to predict."),
    amount_col: str | None = typer.Option(None, "--amount-col", help="Line amount column."),
    group_col: str | None = typer.Option(
        None, "--group-col", help="Category column for the spend shares (default: --item-col)."
    ),
    horizon_days: int = typer.Option(90, "--horizon-days", help="Days after the cut-off."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Score as of YYYY-MM-DD (default: the last purchase)."
    ),
    method: str = typer.Option("gb", "--method", help="gb (gradient boosting) or logistic."),
    top_k: int = typer.Option(100, "--top-k", help="Customers in the invite list."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Invite list CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print the holdout report as JSON."),
) -> None:
    """Holdout AUC / PR AUC / lift on the last horizon (trained before it) against the
    "bought it before" baseline, then the top-k customers scored by a model trained up to
    --as-of, written to --output."""
    import pandas as pd

    from retento.analytics.propensity import PropensityModel, prepare_lines, propensity_holdout

    if method not in ("gb", "logistic"):
        _fail(N_("--method must be gb or logistic, not %(value)s"), value=repr(method))
    if horizon_days < 1 or top_k < 1:
        _fail(N_("--horizon-days and --top-k must be at least 1"))
    if output is not None:
        check_output(output)
    t0 = time.perf_counter()
    raw = read_table(lines)
    try:
        data = prepare_lines(raw, customer_col, date_col, item_col, amount_col, group_col)
        end = data["day"].max() if as_of is None else pd.Timestamp(as_of).normalize()
        model = PropensityModel(target, horizon_days=horizon_days, method=method)
        hold = propensity_holdout(model, data, end)
        model.fit_transactions(data, end)
        invite = model.invite_list(data, end, top_k=top_k)
    except ValueError as exc:
        _fail(str(exc))
    seconds = time.perf_counter() - t0
    if output is not None:
        with written(output) as tmp:
            invite.to_csv(tmp, index_label="customer", float_format="%.6g")
    report = {
        "target": target,
        "horizon_days": horizon_days,
        "as_of": end.date().isoformat(),
        "holdout": {k: hold[k] for k in ("cutoff", "period_end", "model", "baseline")},
        "lift": hold["lift"].to_dict(orient="records"),
        "invited": int(len(invite)),
        "seconds": round(seconds, 2),
    }
    if as_json:
        typer.echo(json.dumps(_clean(report), indent=2))
        return
    from retento.core.cli_say import say

    m, b = hold["model"], hold["baseline"]
    typer.echo(
        say(
            "Holdout %(start)s to %(end)s: %(n)s customers, %(rate)s bought %(target)s.",
            start=hold["cutoff"],
            end=hold["period_end"],
            n=m["customers"],
            rate=f"{m['base_rate']:.1%}",
            target=target,
        )
    )
    for metric, key, digits, gap in (
        ("ROC AUC ", "roc_auc", 3, "   "),
        ("PR AUC  ", "pr_auc", 3, "   "),
        ("lift@10%", "lift_at_10", 2, "    "),
    ):
        typer.echo(
            say(
                "  %(metric)s model %(model)s%(gap)sbought-before %(baseline)s",
                metric=metric,
                model=f"{m[key]:.{digits}f}",
                gap=gap,
                baseline=f"{b[key]:.{digits}f}",
            )
        )
    seconds_text = f"{seconds:.1f}"
    if output is not None:
        line = say(
            "Invite list: %(n)s customers to %(file)s (%(seconds)s s).",
            n=len(invite),
            file=output,
            seconds=seconds_text,
        )
    else:
        line = say(
            "Invite list: %(n)s customers (%(seconds)s s).", n=len(invite), seconds=seconds_text
        )
    typer.echo(line)
