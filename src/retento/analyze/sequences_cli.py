"""`retento analyze sequences`: frequent purchase sequences from a purchase-lines file.

The same library function the app uses (:func:`retento.analytics.sequences.frequent_sequences`);
the file is read with pandas (CSV) or DuckDB (Parquet), no database needed. With
``--evaluate-after`` the next-product recommender is also compared with the popularity and
repeat-purchase baselines by hit-rate@k on the purchases from that date on.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import typer

from retento.analyze.base import N_, app, check_output, written
from retento.analyze.base import fail as _fail


@app.command("sequences")
def sequences(
    lines: Path = typer.Argument(..., help="Purchase lines as CSV (with header) or Parquet."),
    customer_col: str = typer.Option(..., "--customer-col", help="Customer id column."),
    date_col: str = typer.Option(..., "--date-col", help="Purchase date (or date-time) column."),
    item_col: str = typer.Option(..., "--item-col", help="Item (product or category) column."),
    min_support: float = typer.Option(
        ..., "--min-support", help="Smallest share of customers, e.g. 0.01 for 1 %."
    ),
    max_gap: int | None = typer.Option(
        None, "--max-gap", help="Steps: at most this many purchase dates between matched steps."
    ),
    max_gap_days: int | None = typer.Option(
        None, "--max-gap-days", help="Days: at most this many days between matched steps."
    ),
    max_len: int | None = typer.Option(None, "--max-len", help="Most items in a pattern."),
    max_patterns: int = typer.Option(
        1_000_000, "--max-patterns", help="Stop with an error past this many patterns."
    ),
    time_budget: float | None = typer.Option(
        None, "--time-budget", help="Stop with an error after this many seconds."
    ),
    evaluate_after: str | None = typer.Option(
        None,
        "--evaluate-after",
        help="YYYY-MM-DD: fit the recommender before this date, score hit-rate@k after it.",
    ),
    k: int = typer.Option(5, "--k", help="Suggestions per customer for --evaluate-after."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Frequent purchase sequences (PrefixSpan; one step per customer and purchase date).

    Writes the patterns (pattern, support, count, length, n_elements; steps separated by
    " > ", items bought on one date by " + ") to --output; --json prints n_sequences,
    n_patterns and timings, and with --evaluate-after the three hit-rates and the winner.
    """
    import pandas as pd

    from retento.analytics.errors import SummaryInputError
    from retento.analytics.next_item import evaluate_next_item
    from retento.analytics.sequences import (
        BudgetExceeded,
        PurchaseSequences,
        format_pattern,
        frequent_sequences,
    )

    if not 0 < min_support <= 1:
        _fail(N_("--min-support must be above 0 and at most 1 (a share of customers, e.g. 0.01)"))
    if max_gap is not None and max_gap < 1:
        _fail(N_("--max-gap must be at least 1 (purchase dates)"))
    if max_gap_days is not None and max_gap_days < 0:
        _fail(N_("--max-gap-days must not be negative"))
    if max_len is not None and max_len < 1:
        _fail(N_("--max-len must be at least 1"))
    if max_patterns < 1:
        _fail(N_("--max-patterns must be at least 1"))
    if time_budget is not None and time_budget <= 0:
        _fail(N_("--time-budget must be positive"))
    if k < 1:
        _fail(N_("--k must be at least 1"))
    cutoff = None
    if evaluate_after is not None:
        try:
            cutoff = pd.Timestamp(evaluate_after)
        except ValueError:
            _fail(
                N_("--evaluate-after must be a date (YYYY-MM-DD), not %(value)s"),
                value=repr(evaluate_after),
            )
            return
    check_output(output)
    t0 = time.perf_counter()
    try:
        data = PurchaseSequences.read(lines, customer_col, date_col, item_col)
    except SummaryInputError as exc:
        _fail(str(exc))
        return
    t1 = time.perf_counter()
    try:
        found = frequent_sequences(
            data,
            min_support=min_support,
            max_len=max_len,
            max_gap=max_gap,
            max_gap_days=max_gap_days,
            max_patterns=max_patterns,
            time_budget=time_budget,
        )
    except BudgetExceeded as exc:
        _fail(str(exc))
        return
    t2 = time.perf_counter()
    evaluation = None
    if cutoff is not None:
        try:
            evaluation = evaluate_next_item(
                data,
                cutoff,
                k=k,
                min_support=min_support,
                max_gap=max_gap,
                max_gap_days=max_gap_days,
                max_patterns=max_patterns,
                time_budget=time_budget,
            )
        except BudgetExceeded as exc:
            _fail(str(exc))
            return
    t3 = time.perf_counter()
    with written(output) as tmp:
        found.assign(pattern=found["pattern"].map(format_pattern)).to_csv(
            tmp, index=False, float_format="%.6g"
        )
    summary = {
        "n_lines_skipped": data.skipped,
        "n_sequences": data.n_sequences,
        "n_purchase_dates": data.n_elements,
        "n_items": len(data.item_labels),
        "min_support": min_support,
        "max_gap": max_gap,
        "max_gap_days": max_gap_days,
        "n_patterns": len(found),
        "max_length": int(found["length"].max()) if len(found) else 0,
        "output": str(output),
        "evaluation": evaluation,
        "timings": {
            "read_s": round(t1 - t0, 3),
            "patterns_s": round(t2 - t1, 3),
            "evaluate_s": round(t3 - t2, 3),
            "write_s": round(time.perf_counter() - t3, 3),
        },
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from retento.core.cli_say import say

    if data.skipped:
        typer.echo(say("%(n)s lines left out: empty customer, date or item", n=f"{data.skipped:,}"))
    typer.echo(
        say(
            "%(customers)s customers, %(dates)s purchase dates: %(n)s sequences written to "
            "%(file)s",
            customers=f"{data.n_sequences:,}",
            dates=f"{data.n_elements:,}",
            n=f"{len(found):,}",
            file=output,
        )
    )
    if evaluation is not None:
        rates = evaluation["hit_rate"]
        shown = ", ".join(
            f"{name} {'-' if rate is None else f'{rate:.3f}'}" for name, rate in rates.items()
        )
        typer.echo(
            say(
                "hit-rate@%(k)s after %(cutoff)s over %(n)s customers: %(rates)s; best: %(best)s",
                k=k,
                cutoff=evaluation["cutoff"],
                n=f"{evaluation['n_customers']:,}",
                rates=shown,  # the methods' names (codes) with their rates
                best=evaluation["winner"] or "-",
            )
        )
