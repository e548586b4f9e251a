"""`retento analyze basket`: frequent itemsets and association rules from an order-lines file.

The same library functions the app uses (:mod:`retento.analytics.basket`), no database needed.
A CSV file is read in blocks straight into integer codes (:meth:`retento.analytics.basket.OrderLines.read`) and the
result written by the :mod:`csv` module, so this command never imports pandas (~40 MB before
any data); Parquet is read through DuckDB (which hands back a pandas frame), and
``--engine spark`` works on Spark's frames.
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import typer

from retento.analyze.base import N_, app, check_output, written
from retento.analyze.base import fail as _fail


def _cell(items: tuple) -> str:
    return " | ".join(str(i) for i in items)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Rows as CSV: tuples of items as ``a | b``, floats to 6 significant digits (``inf`` for an
    infinite conviction), integers as they are."""

    def text(value: Any) -> Any:
        if isinstance(value, tuple):
            return _cell(value)
        if isinstance(value, float):
            return f"{value:.6g}"
        return value

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([text(v) for v in row] for row in rows)


@app.command("basket")
def basket(
    lines: Path = typer.Argument(..., help="Order lines as CSV (with header) or Parquet."),
    order_col: str = typer.Option(..., "--order-col", help="Order (basket) id column."),
    item_col: str = typer.Option(..., "--item-col", help="Item (product or category) column."),
    min_support: float = typer.Option(
        ..., "--min-support", help="Smallest share of baskets, e.g. 0.002 for 0.2 %."
    ),
    min_confidence: float | None = typer.Option(
        None, "--min-confidence", help="Write rules with at least this confidence (0-1)."
    ),
    max_len: int | None = typer.Option(None, "--max-len", help="Longest itemset to find."),
    max_itemsets: int = typer.Option(
        1_000_000, "--max-itemsets", help="Stop with an error past this many itemsets."
    ),
    time_budget: float | None = typer.Option(
        None, "--time-budget", help="Stop with an error after this many seconds."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    engine: str = typer.Option(
        "duckdb", "--engine", help="duckdb (one machine) or spark (Spark's FPGrowth)."
    ),
    spark_master: str | None = typer.Option(
        None,
        "--spark-master",
        help="Spark master with --engine spark (default $RETENTO_SPARK_MASTER, then local[*]).",
    ),
) -> None:
    """Frequent itemsets (or, with --min-confidence, association rules) of an order-lines file.

    Writes the itemsets (support, count, items) or the rules (antecedents, consequents,
    support, confidence, lift, leverage, conviction) to --output; --json prints n_baskets,
    n_items, n_itemsets, n_rules and timings. With --engine spark the baskets are built and
    mined by Spark (FPGrowth; the same itemsets), the rules derived on the driver.
    """
    if engine != "spark" and "pandas" not in sys.modules:
        # Only Parquet input loads pandas here (DuckDB hands back a pandas frame), and pandas
        # imports pyarrow at start-up whenever it is installed (the spark extra brings it):
        # ~67 MB resident that this path never uses. Marking it absent keeps it out.
        sys.modules.setdefault("pyarrow", None)  # type: ignore[assignment]
    from retento.analytics.basket import (
        BudgetExceeded,
        Itemset,
        OrderLines,
        Rule,
        association_rules,
    )
    from retento.analytics.basket import frequent_itemsets as find
    from retento.analytics.errors import SummaryInputError

    if not 0 < min_support <= 1:
        _fail(N_("--min-support must be above 0 and at most 1 (a share of baskets, e.g. 0.01)"))
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        _fail(N_("--min-confidence must be between 0 and 1"))
    if max_len is not None and max_len < 1:
        _fail(N_("--max-len must be at least 1"))
    if max_itemsets < 1:
        _fail(N_("--max-itemsets must be at least 1"))
    if time_budget is not None and time_budget <= 0:
        _fail(N_("--time-budget must be positive"))
    if engine not in ("duckdb", "spark"):
        _fail(N_("--engine must be duckdb or spark, not %(value)s"), value=repr(engine))
    check_output(output)
    t0 = time.perf_counter()
    if engine == "spark":
        if time_budget is not None:
            _fail(N_("--time-budget works with --engine duckdb only (use --max-itemsets on Spark)"))
        from retento.analytics.spark.basket import basket_pipeline
        from retento.analyze.spark_cli import spark_session

        spark = spark_session(spark_master)
        try:
            itemsets, rules, info = basket_pipeline(
                spark,
                str(lines),
                order_col,
                item_col,
                min_support=min_support,
                min_confidence=min_confidence,
                max_len=max_len,
                max_itemsets=max_itemsets,
            )
        except (SummaryInputError, BudgetExceeded) as exc:
            _fail(str(exc))
            return
        skipped, n_baskets, n_items = info["skipped"], info["n_baskets"], info["n_items"]
        itemsets = [Itemset(*row) for row in itemsets[list(Itemset._fields)].itertuples(False)]
        if rules is not None:
            rules = [Rule(*row) for row in rules[list(Rule._fields)].itertuples(False)]
        t1 = t0
        t2 = t1 + info["timings"]["itemsets_s"]
        t3 = time.perf_counter()
    else:
        try:
            data = OrderLines.read(lines, order_col, item_col)
        except SummaryInputError as exc:
            _fail(str(exc))
            return
        skipped, n_baskets, n_items = data.skipped, data.n_baskets, len(data.labels)
        t1 = time.perf_counter()
        try:
            itemsets = find(
                data,
                min_support=min_support,
                max_len=max_len,
                max_itemsets=max_itemsets,
                time_budget=time_budget,
                as_frame=False,
            )
        except BudgetExceeded as exc:
            _fail(str(exc))
            return
        t2 = time.perf_counter()
        rules = None
        if min_confidence is not None:
            rules = association_rules(itemsets, min_confidence=min_confidence, as_frame=False)
        t3 = time.perf_counter()
    with written(output) as tmp:
        if rules is not None:
            _write_csv(tmp, Rule._fields, rules)
        else:
            _write_csv(tmp, Itemset._fields, itemsets)
    summary = {
        "engine": engine,
        "n_lines_skipped": skipped,
        "n_baskets": n_baskets,
        "n_items": n_items,
        "min_support": min_support,
        "min_count": min((r.count for r in itemsets), default=None),
        "n_itemsets": len(itemsets),
        "max_length": max((r.length for r in itemsets), default=0),
        "n_rules": None if rules is None else len(rules),
        "output": str(output),
        "timings": {
            "read_s": round(t1 - t0, 3),
            "itemsets_s": round(t2 - t1, 3),
            "rules_s": round(t3 - t2, 3),
            "write_s": round(time.perf_counter() - t3, 3),
        },
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from retento.core.cli_say import say

    if skipped:
        typer.echo(say("%(n)s lines left out: empty order or item", n=f"{skipped:,}"))
    counts = {
        "baskets": f"{n_baskets:,}",
        "items": f"{n_items:,}",
        "itemsets": f"{len(itemsets):,}",
        "file": output,
    }
    if rules is None:
        line = say(
            "%(baskets)s baskets, %(items)s items: %(itemsets)s itemsets written to %(file)s",
            **counts,
        )
    else:
        line = say(
            "%(baskets)s baskets, %(items)s items: %(itemsets)s itemsets, %(rules)s rules "
            "written to %(file)s",
            rules=f"{len(rules):,}",
            **counts,
        )
    typer.echo(line)
