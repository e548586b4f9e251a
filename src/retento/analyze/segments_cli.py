"""`retento analyze segments`: customer segments of a transaction file, no database needed.

The same library code the app uses (:func:`retento.analytics.segments.segment_features` and
:class:`retento.analytics.segments.CustomerSegmentation`); the file is read by DuckDB (CSV or
Parquet).
"""

from __future__ import annotations

import json
import math
import resource
import time
from pathlib import Path
from typing import Any

import typer

from retento.analyze.base import LANGUAGE_OPTION_NAMES, N_, app, check_output, language, written
from retento.analyze.base import fail as _fail


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


@app.command("segments")
def segments(
    transactions: Path = typer.Argument(..., help="Transactions as CSV (with header) or Parquet."),
    customer_col: str = typer.Option(..., "--customer-col", help="Customer id column."),
    date_col: str = typer.Option(..., "--date-col", help="Transaction date column."),
    amount_col: str = typer.Option(..., "--amount-col", help="Transaction amount column."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Cut-off date YYYY-MM-DD (default: the last transaction)."
    ),
    method: str = typer.Option("kmeans", "--method", help="kmeans (silhouette) or gmm (BIC)."),
    k: int | None = typer.Option(None, "--k", help="A fixed number of segments."),
    k_min: int = typer.Option(2, "--k-min", help="Smallest k to try."),
    k_max: int = typer.Option(8, "--k-max", help="Largest k to try."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same segments)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the per-customer CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print k, the score per k and profiles."),
    lang: str | None = typer.Option(
        None,
        *LANGUAGE_OPTION_NAMES,
        help="Segment names in en or zh (zh_CN); default: the command line's language "
        "(retento --lang, RETENTO_LANG, LANG).",
    ),
) -> None:
    """Cluster customers on recency, frequency and monetary value, and name the segments.

    Writes one row per customer (customer, recency, frequency, monetary, segment,
    segment_name) to --output; --json prints the chosen k, the score of every k tried
    (silhouette for kmeans, BIC for gmm) and each segment's profile.
    """
    import pandas as pd

    from retento.analytics.errors import SummaryInputError
    from retento.analytics.segments import CustomerSegmentation, segment_features

    if method not in ("kmeans", "gmm"):
        _fail(N_("--method must be kmeans or gmm, not %(value)s"), value=repr(method))
    lang = language(lang)
    if k is not None and k < 1:
        _fail(N_("--k must be at least 1"))
    if k is None and not 2 <= k_min <= k_max:
        _fail(N_("--k-min and --k-max need 2 <= k-min <= k-max"))
    if k is None and k_max > 30:
        _fail(N_("--k-max must be at most 30"))
    if not transactions.exists():
        _fail(N_("file not found: %(path)s"), path=transactions)
    if as_of is not None:
        try:
            pd.Timestamp(as_of)
        except ValueError:
            _fail(N_("--as-of is not a date: %(value)s"), value=repr(as_of))
    check_output(output)
    t0 = time.perf_counter()
    try:
        features = segment_features(transactions, customer_col, date_col, amount_col, as_of=as_of)
        t1 = time.perf_counter()
        model = CustomerSegmentation(
            method=method, n_clusters=k, k_min=k_min, k_max=k_max, random_state=seed
        ).fit(features)
    except SummaryInputError as exc:
        _fail(str(exc))
        return
    t2 = time.perf_counter()
    names = model.names(lang)
    frame = features.copy()
    frame["segment"] = model.labels_
    frame["segment_name"] = frame["segment"].map(names)
    frame.insert(0, customer_col, frame.index.to_numpy())
    with written(output) as tmp:
        pd.DataFrame(frame).to_csv(tmp, index=False, float_format="%.6g")
    t3 = time.perf_counter()
    chosen_by = {"kmeans": "silhouette", "gmm": "bic"}[method] if k is None else "fixed"
    summary = {
        "customers": len(features),
        "as_of": as_of,
        "method": method,
        "k": model.n_clusters_,
        "chosen_by": chosen_by,
        "scores": [
            {"k": int(r.k), "score": _clean(float(r.score)), "chosen": bool(r.chosen)}
            for r in model.scores_.itertuples()
        ],
        "profiles": [
            {key: _clean(v) for key, v in row.items()}
            for row in model.profiles_.to_dict(orient="records")
        ],
        "output": str(output),
        "timings": {
            "features_s": round(t1 - t0, 3),
            "fit_s": round(t2 - t1, 3),
            "write_s": round(t3 - t2, 3),
        },
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    from retento.core.cli_say import say

    typer.echo(
        say(
            "%(n)s customers in %(k)s segments (%(chosen_by)s) written to %(file)s",
            n=f"{len(features):,}",
            k=model.n_clusters_,
            chosen_by=chosen_by,
            file=output,
        )
    )
    if k is None:
        typer.echo(
            say(
                "  %(chosen_by)s per k (* = chosen): %(scores)s",
                chosen_by=chosen_by,
                scores=", ".join(
                    f"{r.k}: {r.score:.4g}{'*' if r.chosen else ''}"
                    for r in model.scores_.itertuples()
                ),
            )
        )
    for row in model.profiles_.itertuples():
        typer.echo(
            say(
                "  %(segment)s: %(name)s - %(n)s customers (%(share)s), %(revenue)s of revenue",
                segment=row.segment,
                name=getattr(row, "name_" + lang),
                n=f"{row.size:,}",
                share=f"{row.share:.1%}",
                revenue=f"{row.revenue_share:.1%}",
            )
        )
